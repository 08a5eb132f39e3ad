"""Customers' web accounts on the websites' portals (SPEC section 7; issue 13 items 2-5;
SECURITY.md 1-12, 18, 36, 37).

The rules, as plain functions the portal's views, the staff views and the tests share:

- "Create user" (`register`) answers the same whether or not the address has an account on
  that website: a new address gets a confirmation link, a known one "you already have an
  account" with a reset link (no enumeration, SECURITY.md 37). Two registrations of one address
  racing make one account (the unique index on website and e-mail decides).
- Confirming the address (`confirm`) stores the registration as an incoming item for the
  "Fetch website data" queue, mails "registration received", and with automatic approval
  approves the account at once and mails "approved".
- Signing in (`authenticate`) needs a confirmed, approved, open account; a pending or rejected
  customer learns that only with the right password; every failure costs one hash; 5 wrong
  passwords in a row lock the account until a reset (config.LOCK_AFTER_FAILURES, as staff).
- Staff create access, correct the e-mail, set the status (which mails the customer and, on
  rejecting, ends their sessions at once) and send reset links; they never see or set a
  password. Each of these is in the audit log and, for a linked account, the contact's timeline.

Uses kontor/portal_mail.py for the e-mails, so callers need an application context.
"""
import json
import secrets

from peewee import IntegrityError, fn

from kontor import audit, config, form_keys, passwords, portal_mail, sessions, tokens
from kontor.errors import Refused
from kontor.mail import normalise_address, normalise_email
from kontor.versions import update_if_unchanged
from models import Contact, Token, Website, db, locked
from models.clock import utcnow
from models.web_accounts import STATUSES, IncomingItem, WebAccount, WebAccountEvent

# What "Create user" asks besides the e-mail and password (issue 13 item 2); the names are
# the keys of the incoming item's values.
DETAIL_FIELDS = ("company_name", "org_number", "contact_person", "phone", "street",
                 "postcode", "city", "country")
LINK_PURPOSES = ("portal_reset", "portal_access")   # links that set a password


class Duplicate(Refused):
    """Another account of that website has this e-mail (reason "email_taken")."""

    def __init__(self):
        super().__init__("email_taken")


# --- finding ------------------------------------------------------------------------------

def account_of(website, email):
    """The account of `website` whose login name is `email` (normalised here), or None."""
    return WebAccount.get_or_none(WebAccount.website == website.id,
                                  WebAccount.email == normalise_email(email))


def signed_in_account(website, account_id):
    """The portal's user loader: the account `account_id` of `website` while it may be signed
    in (confirmed, approved, not closed), else None."""
    account = WebAccount.get_or_none(WebAccount.id == account_id,
                                     WebAccount.website == website.id)
    return account if account is not None and account.is_active else None


def details_of(account):
    """The customer's details as last submitted (registration or account update): a dict of
    DETAIL_FIELDS, "" for what was never given."""
    item = (IncomingItem.select().where(IncomingItem.web_account == account.id,
                                        IncomingItem.kind.in_(("registration",
                                                               "account_update")))
            .order_by(IncomingItem.received_at.desc(), IncomingItem.id.desc()).first())
    source = item.values if item is not None else account.registration
    try:
        values = json.loads(source) if source else {}
    except ValueError:
        values = {}
    return {name: str(values.get(name) or "") for name in DETAIL_FIELDS}


def of_contact(contact):
    """The contact's web accounts with their websites, by website name and e-mail."""
    return (WebAccount.select(WebAccount, Website).join(Website)
            .where(WebAccount.contact == contact.id)
            .order_by(fn.LOWER(Website.name), WebAccount.email))


def awaiting(website):
    """The website's confirmed, open accounts pending approval, oldest first (issue 13 item
    5), each with `details` (details_of)."""
    accounts = list(WebAccount.select().where(
        WebAccount.website == website.id, WebAccount.status == "pending",
        WebAccount.email_confirmed_at.is_null(False), WebAccount.closed_at.is_null())
        .order_by(WebAccount.created_at, WebAccount.id))
    unlinked = unlinked_from(account.id for account in accounts if account.contact_id is None)
    for account in accounts:
        account.details = details_of(account)
        account.unlinked_from = unlinked.get(account.id, "")
    return accounts


def awaiting_counts():
    """{website id: how many accounts await approval} of the active websites (the count in
    the staff navigation); websites with none are left out."""
    return dict(WebAccount.select(WebAccount.website, fn.COUNT(WebAccount.id))
                .join(Website)
                .where(WebAccount.status == "pending",
                       WebAccount.email_confirmed_at.is_null(False),
                       WebAccount.closed_at.is_null(), Website.active == True)  # noqa: E712
                .group_by(WebAccount.website).tuples())


# --- registration and confirmation --------------------------------------------------------

def cleaned_details(details):
    """`details` (a mapping) as stored: DETAIL_FIELDS only, each a stripped one-line str."""
    return {name: " ".join(str(details.get(name) or "").split()) for name in DETAIL_FIELDS}


def replaceable(account):
    """Whether a new registration of the account's address starts it afresh: a closed
    account, or a self-registration never confirmed (it could not sign in, so nothing is
    revealed, and the address's owner gets the new confirmation link; someone who registered
    another person's address loses what they typed)."""
    return account.closed_at is not None or (
        account.email_confirmed_at is None and account.contact_id is None
        and account.status == "pending")


def register(website, email, password, details, language):
    """"Create user" on `website`: returns "new" (an account was made and a confirmation link
    mailed) or "existing" (the address has an account: "you already have an account" with a
    reset link was mailed instead). The caller shows the same page either way. The password
    is hashed in both cases (same work); `details` are kept on the account until the address
    is confirmed. A closed or never confirmed self-registration of that address is started
    afresh as a new one (`replaceable`).
    Two registrations racing for one address make one account: the loser is "existing".
    Raises mail.InvalidAddress for an address that is no e-mail address."""
    email = normalise_address(email).lower()
    hashed = passwords.hash_password(password)
    details = cleaned_details(details)
    now = utcnow()
    fields = dict(password_hash=hashed, status="pending", email_confirmed_at=None,
                  name=details["contact_person"], language=language,
                  registration=json.dumps(details, ensure_ascii=False), failed_logins=0,
                  locked_at=None, password_changed_at=now, created_at=now, closed_at=None)
    with db.atomic():
        existing = locked(WebAccount.select().where(WebAccount.website == website.id,
                                                    WebAccount.email == email)).first()
        account = None
        if existing is None:
            try:
                with db.atomic():   # a savepoint: a racing registration's row wins
                    account = WebAccount.create(website=website.id, email=email, **fields)
            except IntegrityError:   # committed meanwhile: the UPDATE below locks its row
                existing = account_of(website, email)
        if account is None and replaceable(existing):
            WebAccount.update(version=WebAccount.version + 1, **fields).where(
                WebAccount.id == existing.id).execute()
            account = WebAccount.get_by_id(existing.id)
        if account is not None:
            raw = tokens.issue("portal_confirm", web_account=account)
            portal_mail.send_notice(website, email, language, "confirm",
                                    link=portal_mail.link(website, f"/confirm/{raw}"),
                                    days=config.PORTAL_CONFIRM_LIFETIME.days)
            return "new"
        raw = tokens.issue("portal_reset", web_account=existing)
        portal_mail.send_notice(website, existing.email,
                                portal_mail.language_of(website, existing), "existing",
                                link=portal_mail.link(website, f"/reset/{raw}"),
                                login=portal_mail.link(website, "/login"),
                                minutes=portal_mail.RESET_MINUTES)
        return "existing"


def confirm_registration(website, account, ip=""):
    """The address of a self-registered `account` is confirmed (by its confirmation link, or
    by a reset link that reached it): the registration becomes an incoming item (kind
    "registration", unprocessed), "registration received" is mailed, and with automatic
    approval the account is approved and "approved" mailed. Returns the account as saved.
    Call it inside the caller's transaction."""
    now = utcnow()
    approve = website.approval == "automatic" and account.status == "pending"
    WebAccount.update(email_confirmed_at=now, status="approved" if approve else account.status,
                      version=WebAccount.version + 1).where(
        WebAccount.id == account.id).execute()
    IncomingItem.create(website=website.id, web_account=account.id, kind="registration",
                        values=account.registration or "{}", received_at=now)
    account = WebAccount.get_by_id(account.id)
    portal_mail.send_text(website, account, "registration_received")
    audit.record("web_account.confirmed", target=_target(website, account), ip=ip)
    if approve:
        _event(account, "status", None, "pending", "approved")
        portal_mail.send_text(website, account, "approved")
    return account


def confirm(website, token_hash, ip=""):
    """Confirm a customer's address with the link's token (its SHA-256, as the session keeps
    it). Returns (account, state): state "ok" and the account when it worked, else the token's
    state ("unknown", "used", "revoked", "expired") and None. On confirmation the registration
    becomes an incoming item (kind "registration", unprocessed), "registration received" is
    mailed, and with automatic approval the account is approved and "approved" mailed. `ip`:
    the customer's address, for the audit log."""
    token, state = tokens.check_digest("portal_confirm", token_hash)
    if state != "ok" or token.web_account_id is None:
        return None, state if state != "ok" else "unknown"
    account = WebAccount.get_or_none(WebAccount.id == token.web_account_id,
                                     WebAccount.website == website.id)
    if account is None or account.closed_at is not None:
        return None, "unknown"
    with db.atomic():
        if not tokens.consume(token):
            return None, "used"
        account = confirm_registration(website, account, ip)
    return account, "ok"


# --- signing in and passwords -------------------------------------------------------------

def authenticate(website, email, password):
    """Return (account, outcome); `account` is None unless outcome is "ok".

    Outcomes: "ok"; "unknown", "wrong", "locked", "locked_now" (all answered with the generic
    failure); and, only when the password is right: "unconfirmed", "pending", "rejected" (the
    customer is told which, in their language, and not signed in; SPEC section 7). Every path
    runs the password hasher exactly once (SECURITY.md 5)."""
    account = account_of(website, email)
    if account is not None and account.closed_at is not None:
        account = None
    stored = account.password_hash if account is not None and account.password_hash else None
    matches = passwords.verify_password(stored, password)
    if account is None:
        return None, "unknown"
    if account.is_locked:
        return None, "locked"
    if not matches:
        return None, "locked_now" if count_failure(account) else "wrong"
    if account.email_confirmed_at is None:
        return None, "unconfirmed"
    if account.status != "approved":
        return None, account.status
    changes = {"failed_logins": 0, "last_login_at": utcnow()}
    if passwords.needs_rehash(account.password_hash):
        changes["password_hash"] = passwords.hash_password(password)
    WebAccount.update(**changes).where(WebAccount.id == account.id).execute()
    return WebAccount.get_by_id(account.id), "ok"


def count_failure(account):
    """One more wrong password in a row; True when this one locked the account."""
    with db.atomic():
        WebAccount.update(failed_logins=WebAccount.failed_logins + 1).where(
            WebAccount.id == account.id).execute()
        WebAccount.update(locked_at=utcnow()).where(
            WebAccount.id == account.id, WebAccount.locked_at.is_null(),
            WebAccount.failed_logins >= config.LOCK_AFTER_FAILURES).execute()
        return WebAccount.get_by_id(account.id).is_locked


def check_current_password(account, password):
    """The current password asked for by "Change password": "ok", "wrong", "locked_now" (this
    guess locked the account) or "locked". Wrong guesses count toward the lockout; a locked
    account's sessions end."""
    account = WebAccount.get_by_id(account.id)
    matches = passwords.verify_password(account.password_hash or None, password)
    if account.is_locked:
        outcome = "locked"
    elif matches:
        WebAccount.update(failed_logins=0).where(WebAccount.id == account.id).execute()
        return "ok"
    else:
        outcome = "locked_now" if count_failure(account) else "wrong"
    if outcome != "wrong":
        sessions.end_sessions_of_web_account(account.id, "locked")
    return outcome


def set_password(account, new_password, reason, keep_session_id=None):
    """Store a new password: unlock the account, void its open password links, end its
    other sessions (SECURITY.md 11, 18). `reason`: "password_changed" or "password_reset"."""
    with db.atomic():
        WebAccount.update(password_hash=passwords.hash_password(new_password),
                          failed_logins=0, locked_at=None, password_changed_at=utcnow()
                          ).where(WebAccount.id == account.id).execute()
        tokens.revoke_open(LINK_PURPOSES, web_account=account.id)
        query = WebAccount.update(email_confirmed_at=utcnow()).where(
            WebAccount.id == account.id, WebAccount.email_confirmed_at.is_null())
        if reason == "password_reset":   # the link came to the address: it is confirmed
            query.execute()
        sessions.end_sessions_of_web_account(account.id, reason, except_row_id=keep_session_id)


def password_link(website, token_hash):
    """The account a reset or "set your password" link is for: (account, token, state), state
    "ok" or why not ("unknown", "used", "revoked", "expired")."""
    for purpose in LINK_PURPOSES:
        token, state = tokens.check_digest(purpose, token_hash)
        if state != "unknown":
            break
    if state != "ok":
        return None, None, state
    account = WebAccount.get_or_none(WebAccount.id == token.web_account_id,
                                     WebAccount.website == website.id) \
        if token.web_account_id else None
    if account is None or account.closed_at is not None:
        return None, None, "unknown"
    if token.created_at < account.password_changed_at and account.password_hash:
        return None, None, "revoked"
    return account, token, "ok"


def use_password_link(account, token, new_password):
    """Set the password with a link's token; False when the token was used meanwhile. The
    link reached the address, so a self-registration not confirmed yet is confirmed now, as
    its confirmation link would have done (`confirm_registration`)."""
    with db.atomic():
        if not tokens.consume(token):
            return False
        unconfirmed = WebAccount.get_by_id(account.id)
        if unconfirmed.email_confirmed_at is None and unconfirmed.registration:
            confirm_registration(unconfirmed.website, unconfirmed)
            tokens.revoke_open("portal_confirm", web_account=account.id)
        set_password(account, new_password, "password_reset")
    return True


def send_reset_link(website, email):
    """"Forgot password": mail a reset link (website text "password_reset") when the address
    has an open account on `website`; for any other address do the same work and roll it
    back, so the answer is the same and takes the same time (SECURITY.md 7)."""
    account = account_of(website, email)
    if account is not None and account.closed_at is not None:
        account = None
    with db.atomic():
        with db.atomic() as work:
            if account is not None:
                raw = tokens.issue("portal_reset", web_account=account)
                portal_mail.send_text(website, account, "password_reset",
                                      reset_url=portal_mail.link(website, f"/reset/{raw}"))
            else:
                raw = secrets.token_urlsafe(32)
                Token.create(purpose="portal_reset", token_hash=tokens.digest(raw),
                             created_at=utcnow(),
                             expires_at=utcnow() + tokens.LIFETIMES["portal_reset"])
                work.rollback()
        audit.record("web_account.reset_requested", target=_target(website, account)
                     if account is not None else f"{website.slug}: unknown address")
    return account is not None


def send_lock_notice(website, email):
    """Tell the owner of the website's account `email` that it is locked after
    config.LOCK_AFTER_FAILURES wrong passwords and that "Forgot password" opens it."""
    account = account_of(website, email)
    if account is None:
        return
    audit.record("web_account.locked", target=_target(website, account))
    portal_mail.send_notice(website, account.email, portal_mail.language_of(website, account),
                            "locked", failures=config.LOCK_AFTER_FAILURES,
                            link=portal_mail.link(website, "/forgot"))


# --- the customer's own changes -----------------------------------------------------------

def update_details(account, details, form_key=None):
    """The customer changed their details: stored as an incoming item of kind
    "account_update" (the register is changed only when staff import it). Returns it.
    Raises form_keys.AlreadySaved when `form_key` was used before (a double click)."""
    details = cleaned_details(details)
    with db.atomic():
        form_keys.claim(form_key)
        item = IncomingItem.create(website=account.website_id, web_account=account.id,
                                   kind="account_update",
                                   values=json.dumps(details, ensure_ascii=False))
        if details["contact_person"]:
            WebAccount.update(name=details["contact_person"]).where(
                WebAccount.id == account.id).execute()
    return item


def close(account):
    """The customer closes their account: it can no longer sign in, its sessions and open
    links end; the contact, its history and the incoming items stay."""
    with db.atomic():
        WebAccount.update(closed_at=utcnow(), version=WebAccount.version + 1).where(
            WebAccount.id == account.id, WebAccount.closed_at.is_null()).execute()
        tokens.revoke_open((*LINK_PURPOSES, "portal_confirm"), web_account=account.id)
        sessions.end_sessions_of_web_account(account.id, "closed")
        _event(account, "closed", None, "", "")
        audit.record("web_account.closed", target=_target(account.website, account))


def set_language(account, language):
    WebAccount.update(language=language).where(WebAccount.id == account.id).execute()


# --- staff --------------------------------------------------------------------------------

def _target(website, account):
    return f"{website.slug}: {account.email}"


def _event(account, action, user, old, new):
    WebAccountEvent.create(web_account=account.id, contact=account.contact_id,
                           user=getattr(user, "id", user), action=action,
                           old=str(old)[:254], new=str(new)[:254])


def _email_taken(website_id, email, exclude_id=None):
    query = WebAccount.select().where(WebAccount.website == website_id,
                                      WebAccount.email == email)
    if exclude_id is not None:
        query = query.where(WebAccount.id != exclude_id)
    return query.exists()


def create_access(website, email, contact, by, ip="", form_key=None):
    """Staff give `contact` access to `website` for `email` (issue 13 item 4).

    A new address: an approved account linked to the contact, without a password; the
    customer gets a link to set their own (valid config.INVITATION_LIFETIME), which also
    confirms the address. An address that registered itself on that website, confirmed it and
    is not linked to a contact yet: that account is linked to the contact (its status stays;
    nothing is mailed). Returns (account, "created" or "linked").

    Raises Duplicate when the website's account of that address (any case) is linked already
    or not confirmed (SECURITY.md 37: an unconfirmed address is never linked), InvalidAddress
    for no address, and form_keys.AlreadySaved for a used `form_key` (a double click)."""
    email = normalise_address(email).lower()
    language = website.language
    by_id = getattr(by, "id", by)
    try:
        with db.atomic():
            form_keys.claim(form_key, by_id)
            existing = locked(WebAccount.select().where(WebAccount.website == website.id,
                                                         WebAccount.email == email)).first()
            if existing is not None:
                if existing.contact_id is not None or existing.email_confirmed_at is None \
                        or existing.closed_at is not None:
                    raise Duplicate()
                WebAccount.update(contact=contact.id, version=WebAccount.version + 1).where(
                    WebAccount.id == existing.id).execute()
                account = WebAccount.get_by_id(existing.id)
                _event(account, "linked", by_id, "", contact.name)
                audit.record("web_account.linked", user=by_id,
                             target=_target(website, account), detail=f"contact {contact.id}",
                             ip=ip)
                return account, "linked"
            account = WebAccount.create(website=website.id, email=email, status="approved",
                                        contact=contact.id, name=contact.name,
                                        language=language)
            raw = tokens.issue("portal_access", web_account=account)
            portal_mail.send_notice(website, email, language, "access",
                                    link=portal_mail.link(website, f"/reset/{raw}"),
                                    days=config.INVITATION_LIFETIME.days)
            _event(account, "created", by_id, "", email)
            audit.record("web_account.created", user=by_id, target=_target(website, account),
                         detail=f"contact {contact.id}", ip=ip)
            return account, "created"
    except IntegrityError:   # a racing save took the address first
        raise Duplicate() from None


def change(account, by, email=None, status=None, opened_version=None, ip="", only_from=None):
    """Staff edit an account: correct the e-mail and/or set the status (pending, approved,
    rejected). A status change mails the customer the website's text ("approved" or
    "rejected"; back to pending mails nothing); rejecting ends their sessions at once.
    Approving an unconfirmed address is refused, and so is any status change of an account
    its customer closed, and every change of an account of a deactivated website (its portal
    is gone: its links would lead nowhere). `only_from`: the status the account must still
    have (the awaiting page's Approve and Reject act on "pending" only, so a colleague's
    decision made meanwhile is never undone by a stale page). Returns the list of what
    changed (["email", "status"]). Raises Duplicate, mail.InvalidAddress,
    versions.ChangedMeanwhile (someone saved since `opened_version`), Refused("unconfirmed"),
    Refused("closed"), Refused("decided") and Refused("website_inactive")."""
    website = account.website
    if not website.active:
        raise Refused("website_inactive")
    email = normalise_address(email).lower() if email is not None else account.email
    status = status if status in STATUSES else account.status
    try:
        with db.atomic():
            before = WebAccount.get_by_id(account.id)
            if only_from is not None and before.status != only_from:
                raise Refused("decided")
            if before.closed_at is not None and status != before.status:
                raise Refused("closed")
            if before.email_confirmed_at is None and status == "approved" \
                    and before.status != "approved":
                raise Refused("unconfirmed")
            if email != before.email and _email_taken(website.id, email, before.id):
                raise Duplicate()
            update_if_unchanged(WebAccount, before.id, opened_version, email=email,
                                status=status)
            changed = []
            if email != before.email:
                changed.append("email")
                _event(before, "email", by, before.email, email)
                audit.record("web_account.email_changed", user=by,
                             target=_target(website, before), detail=f"{before.email} → {email}",
                             ip=ip)
            if status != before.status:
                changed.append("status")
                after = WebAccount.get_by_id(before.id)
                _event(after, "status", by, before.status, status)
                audit.record("web_account.status_changed", user=by,
                             target=_target(website, after),
                             detail=f"{before.status} → {status}", ip=ip)
                if status == "rejected":
                    sessions.end_sessions_of_web_account(before.id, "rejected")
                if status in ("approved", "rejected"):
                    portal_mail.send_text(website, after, status)
            return changed
    except IntegrityError:
        raise Duplicate() from None


def staff_reset_link(account, by, ip=""):
    """Staff send the customer a reset link (the website's "password reset" text); staff
    never see it. Raises Refused("website_inactive") for an account of a deactivated
    website (the link would lead to a portal that answers 404)."""
    website = account.website
    if not website.active:
        raise Refused("website_inactive")
    with db.atomic():
        raw = tokens.issue("portal_reset", web_account=account)
        portal_mail.send_text(website, account, "password_reset",
                              reset_url=portal_mail.link(website, f"/reset/{raw}"))
        audit.record("web_account.reset_sent", user=by, target=_target(website, account),
                     ip=ip)


def unlink_deleted_contact(contact_id, by=None, ip=""):
    """The web accounts linked to the contact `contact_id`, which is about to be deleted (the
    sync deletes a contact the business database deleted; SPEC section 8), lose the link and
    their approval: an approved account is pending again (a pending or rejected one keeps its
    status), so it cannot sign in, its portal sessions end, and staff find it among "Web
    accounts awaiting approval" to link it to another contact or reject it (SPEC section 7:
    only staff approve). Each change is an event ("unlinked", old: the contact as "number
    name"; "status" approved → pending) and an audit line (`by`: the user, None for the
    sync). Nothing is mailed (back to pending mails nothing). Call it inside the delete's
    transaction. Returns how many accounts were unlinked."""
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        return 0
    named = f"{contact.customer_number} {contact.name}"
    accounts = list(locked(WebAccount.select().where(WebAccount.contact == contact_id)))
    with db.atomic():
        for account in accounts:
            status = "pending" if account.status == "approved" else account.status
            WebAccount.update(contact=None, status=status, version=WebAccount.version + 1).where(
                WebAccount.id == account.id).execute()
            _event(account, "unlinked", by, named, "")
            if status != account.status:
                _event(account, "status", by, account.status, status)
            sessions.end_sessions_of_web_account(account.id, "unlinked")
            audit.record("web_account.unlinked", user=by,
                         target=_target(account.website, account), ip=ip,
                         detail=f"contact {named} deleted in the business database; "
                                f"status {account.status} → {status}")
    return len(accounts)


def unlinked_from(account_ids):
    """{web account id: the contact ("number name") it was last unlinked from} of those of
    `account_ids` that were unlinked because their contact was deleted (unlink_deleted_contact),
    for the staff pages of accounts without a contact."""
    found = {}
    for account_id, old in (WebAccountEvent.select(WebAccountEvent.web_account,
                                                    WebAccountEvent.old)
                            .where(WebAccountEvent.web_account.in_(list(account_ids)),
                                   WebAccountEvent.action == "unlinked")
                            .order_by(WebAccountEvent.id).tuples()):
        found[account_id] = old
    return found


def contact_of(account):
    return Contact.get_or_none(Contact.id == account.contact_id) if account.contact_id else None
