"""The one root of Kontor's refusals (flaskbb's `core/exceptions.py` pattern).

A domain function that will not do what it was asked, because a rule forbids it or the input
is not acceptable, raises a subclass of `Refused` whose `reason` is a short code
("last_superuser", "no_email", "too_large" ...). Views turn a refusal into a message beside
the field or a flash, the same way everywhere; a refusal is never a 500.
"""


class Refused(Exception):
    """A rule refused the action. `reason`: a short, stable code naming the rule (the view
    maps it to a translated message); any further arguments are kept in `args`, and named
    details (`missing=...`, `detail=...`) become attributes for the view's message."""

    def __init__(self, reason="", *args, **details):
        super().__init__(reason, *args)
        self.reason = reason
        for name, value in details.items():
            setattr(self, name, value)

    def __str__(self):
        return str(self.reason)
