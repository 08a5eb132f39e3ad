"""Support cases for the customers of a portal (SPEC section 9, issue 14 item 6; seed 004, the
case wizard seen from the customer's side).

Which cases a customer sees: those of the contact their web account is linked to that were
opened from a portal (by them or a colleague at the same contact), or that staff showed to the
customer (`SupportCase.customer_visible`). A case staff opened for themselves stays internal.
Only an approved account linked to a contact may open or see cases, and only on a website whose
superuser let its customers open cases (`Website.customer_cases`).

The thread, the statuses, "Add information" and "Was your question answered?" are those of
staff cases (kontor/support.py), with the customer's WebAccount as who did it. Plain functions,
no Flask; the e-mails are sent by the views.
"""
from peewee import JOIN, IntegrityError, fn

from kontor import form_keys, paging, support
from kontor.text import search_text, unix_lines, whole_number
from models import (
    CaseCategory,
    CaseFile,
    CaseMessage,
    CaseType,
    Company,
    Contact,
    SupportCase,
    WebAccount,
    db,
)
from models.clock import utcnow

PER_PAGE = 25
# the kinds of message a customer sees; any other kind (a staff-internal note, should one
# come) is never shown in the portal
CUSTOMER_MESSAGE_KINDS = ("message", "feedback")


def refusal(website, account):
    """Why `account` may not use support cases on `website`, or None when it may:
    "off" (the website does not offer cases: the portal answers 404), "unlinked" (the account
    is not linked to a contact yet: the portal explains), "not_approved"."""
    if not website.customer_cases:
        return "off"
    if account.status != "approved" or account.closed_at is not None:
        return "not_approved"
    if account.contact_id is None:
        return "unlinked"
    return None


def _shown_to(contact_id):
    """The condition of the cases a customer of contact `contact_id` sees."""
    return (SupportCase.contact == contact_id) & (
        SupportCase.requester_account_id.is_null(False) |
        (SupportCase.customer_visible == True))  # noqa: E712


def can_see(account, case) -> bool:
    """Whether the customer `account` sees `case` (see the module's rule)."""
    return bool(account.contact_id is not None and case.contact_id == account.contact_id and
                (case.requester_account_id is not None or case.customer_visible))


def listing(account, page=None):
    """One page (a paging.Page of SupportCase, PER_PAGE a page, most recently changed first)
    of the cases the customer `account` sees; `page` is the query string's text. Category and
    type are read in the same query."""
    query = (SupportCase.select(SupportCase, CaseCategory, CaseType)
             .join(CaseCategory, on=(SupportCase.category == CaseCategory.id),
                   join_type=JOIN.LEFT_OUTER, attr="category")
             .switch(SupportCase)
             .join(CaseType, on=(SupportCase.type == CaseType.id), join_type=JOIN.LEFT_OUTER,
                   attr="type")
             .where(_shown_to(account.contact_id or 0))
             .order_by(SupportCase.updated_at.desc(), SupportCase.id.desc()))
    return paging.paginate(query, page, PER_PAGE)


def find(account, number):
    """The case numbered `number` ("2026-0007", as in its URL) if the customer `account` sees
    it, else None (the portal answers 404), with its category and type."""
    parts = number.split("-") if isinstance(number, str) else []
    numbers = [whole_number(part) for part in parts]
    if len(numbers) != 2 or None in numbers:
        return None
    case = (SupportCase.select(SupportCase, CaseCategory, CaseType)
            .join(CaseCategory, on=(SupportCase.category == CaseCategory.id),
                  join_type=JOIN.LEFT_OUTER, attr="category")
            .switch(SupportCase)
            .join(CaseType, on=(SupportCase.type == CaseType.id), join_type=JOIN.LEFT_OUTER,
                  attr="type")
            .where(SupportCase.year == numbers[0], SupportCase.seq == numbers[1],
                   _shown_to(account.contact_id or 0)).first())
    return case if case is not None and can_see(account, case) else None


def thread(case):
    """What the customer sees of the case's thread: [(CaseMessage, [CaseFile])] in order,
    without any message kind outside CUSTOMER_MESSAGE_KINDS (nor its files)."""
    return [(message, files) for message, files in support.thread(case)
            if message.kind in CUSTOMER_MESSAGE_KINDS]


def case_file(case, file_id):
    """The CaseFile `file_id` of `case` if the customer may download it (it belongs to the
    case and to a message they see), else None."""
    found = support.case_file(case, file_id)
    if found is None:
        return None
    if found.message_id is not None and not CaseMessage.select().where(
            CaseMessage.id == found.message_id,
            CaseMessage.kind.in_(CUSTOMER_MESSAGE_KINDS)).exists():
        return None
    return found


def case_owner(website):
    """The active staff User who owns the cases opened on `website`, or None."""
    if not website.case_owner_id:
        return None
    return support.staff_owner(website.case_owner_id)


def offered_category(category_id):
    """The id of the offered (active) category `category_id`, else None."""
    return CaseCategory.select(CaseCategory.id).where(
        CaseCategory.id == category_id, CaseCategory.active == True).scalar()  # noqa: E712


def offered_type(type_id):
    """The id of the offered (active) type of request `type_id`, else None."""
    return CaseType.select(CaseType.id).where(
        CaseType.id == type_id, CaseType.active == True).scalar()  # noqa: E712


def open_case(website, account, category_id, type_id, subject, description, files=(),
              form_key=None):
    """Open a case for the customer `account` (approved, linked to a contact: see refusal)
    from `website`'s portal: their contact is its customer, they its requester, the website's
    case owner (case_owner) its owner, status open. `category_id` and `type_id` must be
    offered ones (or None when none are offered); `files` are StoredFiles
    (kontor/uploads.py). Returns the case. Raises ValueError when the account may not open
    cases, form_keys.AlreadySaved when `form_key` was used before (Send clicked twice, Back and
    Send again: one case, not two)."""
    if refusal(website, account) is not None:
        raise ValueError("this account may not open cases here")
    now = utcnow()
    company = Company.current()
    year = support.case_year(now, company.timezone if company else "")
    owner = case_owner(website)
    subject = subject.strip()[:200]
    for attempt in range(5):
        try:
            with db.atomic():
                form_keys.claim(form_key)
                seq = (SupportCase.select(fn.MAX(SupportCase.seq))
                       .where(SupportCase.year == year).scalar() or 0) + 1
                case = SupportCase.create(
                    year=year, seq=seq, contact=account.contact_id,
                    category=category_id or None, type=type_id or None, subject=subject,
                    search_text=search_text(subject), owner=owner.id if owner else None,
                    requester_user=None, requester_account_id=account.id, status="open",
                    created_at=now, updated_at=now)
                message = CaseMessage.create(case=case, author=None,
                                             author_account_id=account.id,
                                             author_name=account.display_name,
                                             body=unix_lines(description).strip(),
                                             created_at=now)
                for original, stored, size, content_type in files:
                    CaseFile.create(case=case, message=message, original_name=original,
                                    stored_name=stored, size=size, content_type=content_type,
                                    uploaded_by=None, created_at=now)
                support.event(case, account, "created", new=case.number)
                if owner is not None:
                    support.event(case, account, "owner", new=owner.display_name)
                case.owner = owner
                return case
        except IntegrityError:
            if attempt == 4:
                raise
    raise RuntimeError("unreachable")


def needs_answer_question(account, case):
    """Ask "Was your question answered?" when a customer views a closed, unrated case that
    was opened from the portal (by them or a colleague: the first answer counts). A staff
    case shown to the customer is rated by its staff requester, not in the portal."""
    return case.status == "closed" and case.satisfied is None and \
        case.requester_account_id is not None and can_see(account, case)


def set_customer_visible(case, user, visible):
    """Show a staff-opened case to the contact's portal customers (`visible` True) or stop
    showing it; `user` is the staff member, for the case history. Setting, not toggling: a
    second click or a stale tab leaves it as asked. Returns whether it changed. A case opened
    from the portal is always shown to them (ValueError)."""
    if case.requester_account_id is not None:
        raise ValueError("a case opened from the portal is always shown to the customer")
    with db.atomic():
        changed = SupportCase.update(customer_visible=bool(visible),
                                     version=SupportCase.version + 1).where(
            SupportCase.id == case.id,
            SupportCase.customer_visible != bool(visible)).execute()
        if changed:
            support.event(case, user, "shown_to_customer" if visible
                          else "hidden_from_customer")
        case.customer_visible = bool(visible)
        return bool(changed)


def requester_account(case):
    """The WebAccount (with its website) of the customer who opened `case` from a portal, or
    None (a staff case, or the account is gone)."""
    if case.requester_account_id is None:
        return None
    return WebAccount.select(WebAccount).where(
        WebAccount.id == case.requester_account_id).first()


def contact_name(account):
    """The name of the contact `account` is linked to ("" when none)."""
    if account.contact_id is None:
        return ""
    return Contact.select(Contact.name).where(Contact.id == account.contact_id).scalar() or ""

