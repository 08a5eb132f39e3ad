"""The template filters every page may use, in one place; the factory registers them with
`register_filters(app)`.

`|datetime_local` (a stored UTC time in the company's zone and the reader's locale),
`|browser_name` (a User-Agent header, shortly), `|percent`, the support labels
`|case_status` and `|case_event`, `|audit_action` (an audit log code in words) and
`|translated` (a dict of lazy labels, each translated once). The support
labels are here because the contact timeline shows a case's status too, not only the support
pages.
"""
import functools
from decimal import Decimal

from babel.numbers import format_percent as babel_format_percent
from flask_babel import format_currency, format_percent, get_locale
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context

from kontor.countries import country_name
from kontor.order_mail import STATUS_LABELS as ORDER_STATUS_LABELS
from kontor.web import browser_name, local_time

CASE_STATUS_LABELS = {"open": _l("Open"), "answered": _l("Answered"), "closed": _l("Closed")}

CASE_EVENT_LABELS = {
    "created": _l("Case registered"),
    "status": _l("Status changed from %(old)s to %(new)s"),
    "owner": _l("Owner changed to %(new)s"),
    "message": _l("Information added"),
    "answered_yes": _l("The requester says the question was answered"),
    "answered_no": _l("The requester says the question was not answered, and gave feedback"),
    "shown_to_customer": _l("Made visible to the customer in the portal"),
    "hidden_from_customer": _l("Made internal: no longer visible to the customer"),
}


# Every action code `audit.record` writes, in words (issue 11 item 19: the audit log showed
# the codes only). tests/test_translations.py checks that every code in the source has one.
AUDIT_ACTION_LABELS = {
    "access.denied": _l("Access refused"),
    "account.locked": _l("Account locked"),
    "case.created": _l("Support case registered"),
    "company.updated": _l("Company details changed"),
    "contact.created": _l("Contact created"),
    "contacts.exported": _l("Contacts exported"),
    "contacts.imported": _l("Contacts imported"),
    "product.created": _l("Product added"),
    "product.deactivated": _l("Product taken out of the offer"),
    "product.reactivated": _l("Product offered again"),
    "product.updated": _l("Product changed"),
    "products.exported": _l("Products exported"),
    "products.imported": _l("Products imported"),
    "order.placed": _l("Order placed on a portal"),
    "basket.added": _l("Product put into a portal basket"),
    "basket.changed": _l("Quantity changed in a portal basket"),
    "basket.removed": _l("Product removed from a portal basket"),
    "order.status_changed": _l("Order's status changed"),
    "order.linked": _l("Order linked to a contact"),
    "orders.exported": _l("Orders exported"),
    "employee.created": _l("Employee added"),
    "incoming.confirmed": _l("Website data checked for Import all"),
    "incoming.imported": _l("Website data imported"),
    "incoming.rejected": _l("Website data rejected"),
    "employee.linked": _l("Employee linked to a user account"),
    "employee.updated": _l("Employee changed"),
    "invitation.accepted": _l("Invitation accepted"),
    "invitation.resent": _l("Invitation sent again"),
    "invitation.revoked": _l("Invitation revoked"),
    "invitation.sent": _l("Invitation sent"),
    "login": _l("Signed in"),
    "login.failed": _l("Sign-in failed"),
    "login.refused": _l("Sign-in refused while the first sync runs"),
    "logout": _l("Signed out"),
    "mail.read": _l("Outbox message read"),
    "mail.retry": _l("Outbox message sent again"),
    "password.change_failed": _l("Password change failed"),
    "password.changed": _l("Password changed"),
    "profile.incoming_notice": _l("E-mail about new website data switched on or off"),
    "password.reset": _l("Password reset"),
    "password.reset_requested": _l("Password reset requested"),
    "session.ended": _l("Session ended by an administrator"),
    "setup.done": _l("Kontor set up"),
    "support.categories.added": _l("Support category added"),
    "support.categories.renamed": _l("Support category renamed"),
    "support.types.added": _l("Support type added"),
    "support.types.renamed": _l("Support type renamed"),
    "support.visibility": _l("Who sees which support cases changed"),
    "backup.downloaded": _l("Backup downloaded"),
    "backup.failed": _l("Backup failed"),
    "backup.folder": _l("Backup folder changed"),
    "backup.made": _l("Backup made"),
    "backup.nightly": _l("Nightly backup made"),
    "backup.nightly.failed": _l("Nightly backup failed"),
    "backup.restore.refused": _l("Restore refused"),
    "backup.restore.started": _l("Restore started"),
    "backup.restored": _l("Backup restored"),
    "backup.sessions_ended": _l("Sessions ended for a restore"),
    "sync.activate": _l("Sync activated"),
    "sync.activate.refused": _l("Sync activation refused"),
    "sync.deletes_confirmed": _l("Mass deletes of the sync confirmed"),
    "sync.deactivate": _l("Sync deactivated and Kontor's copies of the business data deleted"),
    "sync.deactivate.refused": _l("Sync deactivation refused"),
    "sync.node": _l("Sync computer chosen"),
    "sync.node.restarted": _l("Sync computer restarted"),
    "sync.node.takeover": _l("Another computer took the sync over"),
    "sync.owner": _l("Sync owner changed"),
    "sync.owner.refused": _l("Sync owner change refused"),
    "sync.password": _l("Business database password updated"),
    "sync.password.refused": _l("Business database password refused"),
    "sync.first_sync.done": _l("First sync done"),
    "sync.first_sync.started": _l("First sync started"),
    "sync.restart": _l("Sync service restarted"),
    "sync.run": _l("Sync run by hand"),
    "sync.settings": _l("Sync settings saved"),
    "sync.test": _l("Sync connection tested"),
    "user.deactivated": _l("User account deactivated"),
    "user.reactivated": _l("User account reactivated"),
    "user.superuser_granted": _l("Made a superuser"),
    "user.superuser_withdrawn": _l("Superuser rights withdrawn"),
    "user.unlocked": _l("User account unlocked"),
    "website.created": _l("Website added"),
    "website.deactivated": _l("Website deactivated"),
    "website.reactivated": _l("Website reactivated"),
    "website.text_changed": _l("Website e-mail text changed"),
    "website.text_reset": _l("Website e-mail text reset to Kontor's"),
    "website.updated": _l("Website changed"),
    "portal.login": _l("Customer signed in to a portal"),
    "portal.login_failed": _l("Customer sign-in to a portal failed"),
    "portal.password_reset": _l("Customer chose a new password"),
    "portal.inquiry_sent": _l("Customer sent an inquiry from a portal"),
    "web_account.closed": _l("Web account closed by the customer"),
    "web_account.confirmed": _l("Web account's e-mail address confirmed"),
    "web_account.created": _l("Web access created"),
    "web_account.email_changed": _l("Web account's e-mail corrected"),
    "web_account.linked": _l("Web account linked to a contact"),
    "web_account.locked": _l("Web account locked"),
    "web_account.reset_requested": _l("Customer asked for a password reset link"),
    "web_account.reset_sent": _l("Password reset link sent to a customer"),
    "web_account.status_changed": _l("Web account's status changed"),
    "web_account.unlinked": _l("Web account unlinked: its contact was deleted"),
}


def audit_action(code):
    """An audit log action code ("login.failed") in the reader's language; an unknown one
    (written by an older version) as it is."""
    return AUDIT_ACTION_LABELS.get(code, code)


def case_status(status):
    """A case status ("open", ...) in the reader's language; an unknown one as it is."""
    return CASE_STATUS_LABELS.get(status, status)


def case_event(action, old="", new=""):
    """A line of the case history in the reader's language, from a CaseEvent's action and
    its old and new values (statuses translated, "—" for an empty one)."""
    label = CASE_EVENT_LABELS.get(action, action)
    return label % {"old": CASE_STATUS_LABELS.get(old, old) if old else "—",
                    "new": CASE_STATUS_LABELS.get(new, new) if new else "—"}


def order_status(status):
    """An order's status ("shipped", ...) in the reader's language; an unknown one as it is."""
    return ORDER_STATUS_LABELS.get(status, status)


def percent(value):
    """A share (0.75) as a percentage in the reader's locale ("75 %" in German)."""
    return format_percent(value)


def rate(percentage):
    """A rate in percent (Decimal("12.5"), a VAT rate) in the reader's locale with the
    decimals it has: "12,5 %" in German, "21%" in Dutch (format_percent alone rounds to whole
    percents). None shows as "—"."""
    if percentage is None:
        return "—"
    return babel_format_percent((Decimal(percentage) / 100).normalize(), locale=get_locale(),
                                decimal_quantization=False)


def money(amount, currency):
    """An amount (Decimal) of `currency` (ISO 4217, the company's) as the reader's locale
    writes money: "€ 1.234,50" in Dutch, "1.234,50 €" in German, "kr 1 234,50" in Norwegian
    (Babel's format_currency; the currency is the company's, the language decides only the
    format). None shows as "—"."""
    return "—" if amount is None else format_currency(amount, currency)


def translated(labels):
    """`labels` (a dict of lazy labels, as CASE_STATUS_LABELS) with each translated once into
    the reader's language: for a table that shows one on every row (a lazy label translates
    again at each use; issue 12 item 26)."""
    return {key: str(label) for key, label in labels.items()}


FILTERS = {
    "money": money,
    "rate": rate,
    "datetime_local": local_time,
    "browser_name": browser_name,
    "percent": percent,
    "case_status": case_status,
    "case_event": case_event,
    "audit_action": audit_action,
    "translated": translated,
    "country_name": country_name,
    "order_status": order_status,
}


def per_request(function):
    """`function` as a template filter that runs on every rendering. Jinja calls a filter
    whose argument is a constant (`'discount'|field_label`) once, when it compiles the
    template, and keeps the result: a label then stayed in the language of the first reader
    for everyone (issue 11 item 19). A filter that takes the context is never called early;
    every filter whose result depends on the request (language, time zone, company) must be
    one."""
    @pass_context
    @functools.wraps(function)
    def filter_(_context, *args, **kwargs):
        return function(*args, **kwargs)
    return filter_


def register_filters(app):
    """Add every filter of FILTERS to `app`'s templates, under its name there, each run per
    rendering (`per_request`). Raises nothing; registering twice is harmless (the same
    function replaces itself)."""
    for name, function in FILTERS.items():
        app.add_template_filter(per_request(function), name)
