"""Inquiries from the portal (SPEC section 7 "send an inquiry", issue 14 item 5).

A signed-in customer sends a subject and a message; it is stored as an IncomingItem of kind
"activity" for the "Fetch website data" queue (SPEC section 10), which turns it into an
activity on the contact's timeline and sets its status. The customer's "My inquiries" lists
theirs, and, when their account is linked to a contact, those of their colleagues at the same
contact. Plain functions, no Flask.
"""
import json

from kontor import config, form_keys, paging
from kontor.text import one_line, unix_lines, without_controls
from models import IncomingItem, WebAccount, db

KIND = "activity"
SUBJECT_MAX = 200
MESSAGE_MAX = config.CASE_MESSAGE_MAX_LENGTH
PER_PAGE = 25


def send(account, subject, message, form_key=None):
    """Store the inquiry of the signed-in customer `account`: an IncomingItem (kind
    "activity", status "unprocessed") whose values are JSON {"subject", "message", "name",
    "email", "contact_id", "web_account_id"}: the text as typed (one line for the subject,
    line ends made "\\n", control characters removed, cut to SUBJECT_MAX / MESSAGE_MAX) and who
    sent it. Returns the item. Raises ValueError for an empty subject or message,
    form_keys.AlreadySaved when `form_key` was used before (a double click: one inquiry)."""
    subject = one_line(without_controls(subject or "")).strip()[:SUBJECT_MAX]
    message = unix_lines(without_controls(message or "")).strip()[:MESSAGE_MAX]
    if not subject or not message:
        raise ValueError("an inquiry needs a subject and a message")
    values = {"subject": subject, "message": message, "name": account.name,
              "email": account.email, "contact_id": account.contact_id,
              "web_account_id": account.id}
    with db.atomic():
        form_keys.claim(form_key)
        return IncomingItem.create(website=account.website_id, web_account=account.id,
                                   kind=KIND, values=json.dumps(values, ensure_ascii=False))


def _theirs(account):
    """The condition of the inquiries `account` sees: its own, and with a contact, those of
    every account linked to the same contact."""
    if account.contact_id is None:
        return IncomingItem.web_account == account.id
    colleagues = WebAccount.select(WebAccount.id).where(
        WebAccount.contact == account.contact_id)
    return (IncomingItem.web_account == account.id) | \
        IncomingItem.web_account.in_(colleagues)


def listing(account, page=None):
    """One page (paging.Page of IncomingItem, newest first, PER_PAGE a page) of the inquiries
    the customer `account` sees; `page` is the query string's text."""
    query = (IncomingItem.select().where(IncomingItem.kind == KIND, _theirs(account))
             .order_by(IncomingItem.received_at.desc(), IncomingItem.id.desc()))
    return paging.paginate(query, page, PER_PAGE)


def find(account, item_id):
    """The inquiry `item_id` if the customer `account` sees it, else None."""
    if not isinstance(item_id, int):
        return None
    return IncomingItem.select().where(IncomingItem.id == item_id, IncomingItem.kind == KIND,
                                       _theirs(account)).first()


def values_of(item):
    """The inquiry's values as a dict (subject, message, name, email); {} when unreadable."""
    try:
        values = json.loads(item.values)
    except (TypeError, ValueError):
        return {}
    return values if isinstance(values, dict) else {}


def processed(item) -> bool:
    """Whether the queue has dealt with the inquiry (imported or rejected)."""
    return item.status != "unprocessed"
