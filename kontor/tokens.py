"""Single-use secrets for reset links, invitations and the setup URL (SECURITY.md item 8).

A token is `secrets.token_urlsafe(32)`; the database keeps only its SHA-256. Issuing a new
token for the same purpose and person revokes the older ones.
"""
import hashlib
import secrets

from kontor import config
from models import Token, db
from models.clock import utcnow

LIFETIMES = {
    "reset": config.RESET_LINK_LIFETIME,
    "invite": config.INVITATION_LIFETIME,
    "setup": config.SETUP_LINK_LIFETIME,
    # a website's customers (kontor/web_accounts.py)
    "portal_reset": config.RESET_LINK_LIFETIME,
    "portal_confirm": config.PORTAL_CONFIRM_LIFETIME,
    "portal_access": config.INVITATION_LIFETIME,
}


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue(purpose, user=None, employee=None, web_account=None):
    """Create a token and return the raw value (shown or mailed once, never stored). It is for
    a staff `user`, an `employee` or a customer's `web_account`; it lives LIFETIMES[purpose]."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    with db.atomic():
        revoke_open(purpose, user=user, employee=employee, web_account=web_account)
        Token.create(purpose=purpose, token_hash=digest(raw), user=user, employee=employee,
                     web_account=web_account, created_at=now,
                     expires_at=now + LIFETIMES[purpose])
    return raw


def revoke_open(purpose, user=None, employee=None, web_account=None):
    """Revoke the open tokens of `purpose` (a str, or a tuple of them) of that person; how
    many."""
    purposes = (purpose,) if isinstance(purpose, str) else tuple(purpose)
    query = Token.update(revoked_at=utcnow()).where(
        Token.purpose.in_(purposes), Token.used_at.is_null(), Token.revoked_at.is_null())
    if user is not None:
        query = query.where(Token.user == user)
    if employee is not None:
        query = query.where(Token.employee == employee)
    if web_account is not None:
        query = query.where(Token.web_account == web_account)
    return query.execute()


def state(used_at, revoked_at, expires_at):
    """What a single-use secret's row says of it: "used", "revoked", "expired" or "ok"."""
    if used_at is not None:
        return "used"
    if revoked_at is not None:
        return "revoked"
    if expires_at <= utcnow():
        return "expired"
    return "ok"


def check_digest(purpose, token_hash):
    """Return (token, state) for the token with this SHA-256 (what a session keeps; never the
    raw token: sessions are database rows too). State: "unknown" or as `state` says."""
    token = Token.get_or_none(Token.token_hash == token_hash, Token.purpose == purpose) \
        if token_hash else None
    if token is None:
        return None, "unknown"
    return token, state(token.used_at, token.revoked_at, token.expires_at)


def consume(token) -> bool:
    """Mark the token used; False if someone else used or revoked it first (races)."""
    return bool(Token.update(used_at=utcnow())
                .where(Token.id == token.id, Token.used_at.is_null(),
                       Token.revoked_at.is_null(), Token.expires_at > utcnow())
                .execute())
