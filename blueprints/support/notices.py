"""The e-mails a case sends (assigned, updated, answered, closed, reopened): queued in the
outbox in the recipient's language, with a link to the case. A case opened from a portal
(issue 14 item 6) tells its customer through the website's e-mail instead: From the
website's sender, in the customer's language, with a link to the case in the portal."""
from flask import current_app, url_for

from kontor import emails, portal_cases, portal_mail


def case_link(case):
    """The full URL of the case's staff page (also when a portal request sends the mail: the
    portal app has no staff routes, so the staff path is built as the staff app has it)."""
    if "support.show" in current_app.view_functions:
        return emails.link(url_for("support.show", number=case.number))
    return emails.link(f"/support/{case.number}")


def notify(user, template, case, **context):
    """Queue the e-mail `template` about `case` to `user`; nobody (None) or an inactive
    account gets nothing."""
    if user is None or not user.is_active:
        return
    emails.queue(template, user.email, emails.language_for(user), "case", case=case,
                 link=case_link(case), **context)


def notify_requester(case, template, **context):
    """Tell the case's requester (`template`: "case_answered" or "case_closed"): a staff
    requester by Kontor's e-mail; the customer who opened it from a portal by the website's
    e-mail (templates/email/portal_<template>.txt) when their account can still sign in.
    Nobody else is told."""
    if case.requester_account_id is None:
        notify(case.requester_user, template, case, **context)
        return
    account = portal_cases.requester_account(case)
    if account is None or not account.is_active:
        return
    website = account.website
    if not website.active:
        return
    portal_mail.send_notice(website, account.email, portal_mail.language_of(website, account),
                            template, case=case,
                            link=portal_mail.link(website, f"/cases/{case.number}"),
                            customer_name=account.display_name, **context)
