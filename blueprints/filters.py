"""The template filters every page may use, in one place; the factory registers them with
`register_filters(app)`.

`|datetime_local` (a stored UTC time in the company's zone and the reader's locale),
`|browser_name` (a User-Agent header, shortly), `|percent`, and the support labels
`|case_status` and `|case_event`. The labels are here because the contact timeline shows a
case's status too, not only the support pages.
"""
from flask_babel import format_percent
from flask_babel import lazy_gettext as _l

from kontor.web import browser_name, local_time

CASE_STATUS_LABELS = {"open": _l("Open"), "answered": _l("Answered"), "closed": _l("Closed")}

CASE_EVENT_LABELS = {
    "created": _l("Case registered"),
    "status": _l("Status changed from %(old)s to %(new)s"),
    "owner": _l("Owner changed to %(new)s"),
    "message": _l("Information added"),
    "answered_yes": _l("The requester says the question was answered"),
    "answered_no": _l("The requester says the question was not answered, and gave feedback"),
}


def case_status(status):
    """A case status ("open", ...) in the reader's language; an unknown one as it is."""
    return CASE_STATUS_LABELS.get(status, status)


def case_event(action, old="", new=""):
    """A line of the case history in the reader's language, from a CaseEvent's action and
    its old and new values (statuses translated, "—" for an empty one)."""
    label = CASE_EVENT_LABELS.get(action, action)
    return label % {"old": CASE_STATUS_LABELS.get(old, old) if old else "—",
                    "new": CASE_STATUS_LABELS.get(new, new) if new else "—"}


def percent(value):
    """A share (0.75) as a percentage in the reader's locale ("75 %" in German)."""
    return format_percent(value)


FILTERS = {
    "datetime_local": local_time,
    "browser_name": browser_name,
    "percent": percent,
    "case_status": case_status,
    "case_event": case_event,
}


def register_filters(app):
    """Add every filter of FILTERS to `app`'s templates, under its name there. Raises
    nothing; registering twice is harmless (the same function replaces itself)."""
    for name, function in FILTERS.items():
        app.add_template_filter(function, name)
