"""Session rules: idle and absolute timeouts, ending sessions, who is signed in.

Plain functions over the `UserSession` table, shared by the request path (via
`server_session.py`), the per-minute job, and the superuser's "Signed in now" page.
Sessions belong to a realm (STAFF or PORTAL, see kontor/access.py); the timeouts and the job
apply to both, "who is signed in" means staff.
"""
import hashlib
from datetime import timedelta

from kontor import config
from models import UserSession
from models.clock import utcnow

# "last seen" is written at most this often per session, so that browsing is not a write
# per page view. Idle logout can therefore come up to this much earlier than the setting.
TOUCH_INTERVAL = timedelta(seconds=60)

STAFF, PORTAL = "staff", "portal"   # the session realms: Kontor's users, a website's customers


def sid_digest(sid: str) -> str:
    """The SHA-256 (hex) of a session id: what the row keeps instead of the id."""
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def is_signed_in(row):
    """Whether a session row is signed in: a staff user's or a customer's (portal)."""
    return bool(row.user_id or row.web_account_id)


def expiry_reason(row, now, idle_minutes, absolute_hours):
    """Why a live session row must end now ("idle", "absolute"), or None if it may go on."""
    if is_signed_in(row) and now - row.created_at >= timedelta(hours=absolute_hours):
        return "absolute"
    if now - row.last_seen_at > timedelta(minutes=idle_minutes):
        return "idle"
    return None


def end_session(row_id, reason) -> bool:
    """End one live session row; True if it was live."""
    return bool(UserSession.update(ended_at=utcnow(), end_reason=reason)
                .where(UserSession.id == row_id, UserSession.ended_at.is_null()).execute())


def end_sessions_of(user_id, reason, except_row_id=None) -> int:
    """End every live session of a staff user (password change, deactivation, reset);
    returns how many."""
    query = UserSession.update(ended_at=utcnow(), end_reason=reason).where(
        UserSession.user == user_id, UserSession.ended_at.is_null())
    if except_row_id is not None:
        query = query.where(UserSession.id != except_row_id)
    return query.execute()


def end_sessions_of_web_account(account_id, reason, except_row_id=None) -> int:
    """End every live portal session of a customer's web account (rejected, closed, password
    changed or reset), but `except_row_id`; returns how many."""
    query = UserSession.update(ended_at=utcnow(), end_reason=reason).where(
        UserSession.web_account == account_id, UserSession.ended_at.is_null())
    if except_row_id is not None:
        query = query.where(UserSession.id != except_row_id)
    return query.execute()


def end_idle_sessions(idle_minutes, absolute_hours) -> int:
    """End signed-in sessions past either timeout; forget stale anonymous ones. The job's body.

    Both realms alike: a row is "signed in" when it names a staff user or a customer's web
    account. Returns how many ended."""
    now = utcnow()
    live = UserSession.ended_at.is_null()
    named = UserSession.user.is_null(False) | UserSession.web_account.is_null(False)
    idle = UserSession.update(ended_at=now, end_reason="idle").where(
        live, named,
        UserSession.last_seen_at < now - timedelta(minutes=idle_minutes)).execute()
    absolute = UserSession.update(ended_at=now, end_reason="absolute").where(
        live, named,
        UserSession.created_at <= now - timedelta(hours=absolute_hours)).execute()
    UserSession.delete().where(
        UserSession.user.is_null(), UserSession.web_account.is_null(),
        UserSession.last_seen_at < now - timedelta(minutes=idle_minutes)).execute()
    UserSession.delete().where(UserSession.ended_at < now - config.ENDED_SESSION_KEPT).execute()
    return idle + absolute


def others_signed_in(user_id):
    """Live sessions of users other than `user_id`: the answer to "is anyone else signed in?"."""
    return UserSession.signed_in().where(UserSession.user != user_id)
