"""Staff sign-in: passwords, lockout, password changes and resets (SPEC section 3;
SECURITY.md 1-12). Customers' portal accounts are another audience with rules of their own.

Plain functions over the models; the views in blueprints/auth.py and profile.py call them.
"""
from peewee import Case

from kontor import audit, config, passwords, sessions, tokens
from kontor.mail import normalise_email
from models import Company, User, db
from models.clock import utcnow


def authenticate(email, password):
    """Return (user, outcome). `user` is None unless outcome is "ok".

    Outcomes: "ok", "unknown", "inactive", "locked", "wrong", "locked_now". Every path runs
    the password hasher exactly once, so the answer takes the same time whatever the cause.
    """
    user = User.by_email(normalise_email(email))
    matches = passwords.verify_password(user.password_hash if user else None, password)
    if user is None:
        return None, "unknown"
    if not user.is_active:
        return None, "inactive"
    if user.is_locked:
        return None, "locked"
    if not matches:
        return None, "locked_now" if count_failure(user) else "wrong"
    changes = {"failed_logins": 0, "last_login_at": utcnow()}
    if passwords.needs_rehash(user.password_hash):
        changes["password_hash"] = passwords.hash_password(password)
    User.update(**changes).where(User.id == user.id).execute()
    return User.get_by_id(user.id), "ok"


def count_failure(user):
    """One more wrong password in a row for an unlocked account; True when this one locked
    it."""
    now = utcnow()
    with db.atomic():
        User.update(
            failed_logins=User.failed_logins + 1,
            locked_at=Case(None, [(User.failed_logins + 1 >= config.LOCK_AFTER_FAILURES, now)],
                           User.locked_at),
        ).where(User.id == user.id).execute()
        user = User.get_by_id(user.id)
    return user.is_locked


def check_current_password(user, password):
    """The current password, asked for by "Change password": "ok", "wrong", "locked_now"
    when this guess locked the account, or "locked" when it was locked already. Wrong
    guesses count toward the same lockout as wrong passwords at sign-in; a locked account's
    sessions end."""
    user = User.get_by_id(user.id)
    matches = passwords.verify_password(user.password_hash, password)
    if user.is_locked:
        outcome = "locked"
    elif matches:
        User.update(failed_logins=0).where(User.id == user.id).execute()
        return "ok"
    else:
        outcome = "locked_now" if count_failure(user) else "wrong"
    if outcome != "wrong":
        sessions.end_sessions_of(user.id, "locked")
    return outcome


def confirm_password(user, password, action, ip="") -> str:
    """A "confirm with your password" form (activate the sync, change sync owner, deactivate,
    restore a backup): did `user` type their own `password` to do `action` (an audit action
    name)? The outcome of `check_current_password` ("ok", "wrong", "locked_now", "locked"):
    wrong guesses count toward the same lockout as at sign-in, and a locked account's
    sessions end. Each refusal is audited as `action`.refused ("wrong_password",
    "locked_now" or "locked")."""
    outcome = check_current_password(user, password or "")
    if outcome != "ok":
        audit.record(f"{action}.refused", user, ip=ip,
                     detail="wrong_password" if outcome == "wrong" else outcome)
    return outcome


def company_name():
    company = Company.current()
    return company.name if company else ""


def person_name(user):
    """The account holder's name (the employee's), for the password rule; "" without one."""
    return user.employee.name if user.employee_id else ""


def set_password(user, new_password, reason, keep_session_id=None):
    """Store a new password, unlock the account, void reset links, end other sessions."""
    now = utcnow()
    with db.atomic():
        User.update(password_hash=passwords.hash_password(new_password), failed_logins=0,
                    locked_at=None, password_changed_at=now).where(User.id == user.id).execute()
        tokens.revoke_open("reset", user=user)
        sessions.end_sessions_of(user.id, reason, except_row_id=keep_session_id)


def change_password(user, new_password, keep_session_id):
    """Set the new password once `check_current_password` said "ok"."""
    set_password(user, new_password, "password_changed", keep_session_id=keep_session_id)


def reset_candidate(email):
    """The account a "Forgot password" request may mail, or None (unknown or deactivated)."""
    user = User.by_email(normalise_email(email))
    return user if user is not None and user.is_active else None

