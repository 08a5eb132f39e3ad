"""The e-mails a case sends (assigned, updated, answered, closed, reopened): queued in the
outbox in the recipient's language, with a link to the case."""
from flask import url_for

from kontor import emails


def case_link(case):
    """The full URL of the case page."""
    return emails.link(url_for("support.show", number=case.number))


def notify(user, template, case, **context):
    """Queue the e-mail `template` about `case` to `user`; nobody (None) or an inactive
    account gets nothing."""
    if user is None or not user.is_active:
        return
    emails.queue(template, user.email, emails.language_for(user), "case", case=case,
                link=case_link(case), **context)
