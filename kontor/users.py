"""User management rules (SPEC section 4): the state of every employee's access, and the
superuser's actions on accounts, with the last-superuser and no-self-deactivation guards."""
from dataclasses import dataclass

from kontor import employees as register
from kontor import sessions, tokens
from kontor.errors import Refused
from kontor.mail import normalise_email
from models import Employee, Invitation, User, UserSession, db, locked


class AccountActionRefused(Refused):
    """The action on an account would break a rule; `reason`: "self" (a superuser cannot
    deactivate their own account) or "last_superuser" (the last active superuser stays)."""


@dataclass
class Access:
    employee: Employee
    user: User = None
    invitation: Invitation = None     # the newest open invitation, if any
    signed_in_now: bool = False

    @property
    def state(self):
        if self.user is not None:
            if not self.user.is_active:
                return "deactivated"
            if self.user.is_locked:
                return "locked"
            return "active"
        if self.invitation is not None:
            return "expired" if self.invitation.is_expired else "invited"
        return "not_invited"

    @property
    def login_differs(self):
        return self.user is not None and \
            self.user.email != normalise_email(self.employee.email)


def overview(text=""):
    """Every employee matching `text` (as the employee register's search does: one folding
    for every search, issue 11 item 8), by name, with their account, open invitation and
    whether they are signed in: a list of Access."""
    employees = register.search(text)
    users = {u.employee_id: u for u in User.select().where(User.employee.is_null(False))}
    invitations = {}
    for invitation in Invitation.open().order_by(Invitation.created_at):
        invitations[invitation.employee_id] = invitation
    live = {row.user_id for row in UserSession.select(UserSession.user).where(
        UserSession.ended_at.is_null(), UserSession.user.is_null(False),
        UserSession.realm == "staff")}
    return [Access(e, users.get(e.id), invitations.get(e.id),
                   users.get(e.id) is not None and users[e.id].id in live)
            for e in employees]


def _other_active_superusers(user):
    return locked(User.select().where(User.is_superuser == True, User.is_active == True,  # noqa: E712
                                      User.id != user.id))


def deactivate(user, acting):
    """Deactivate `user` (a User) on behalf of `acting` (a User; None for a path without a
    person, which skips the "self" rule), end their staff sessions (their next request goes to
    the sign-in page) and void their open reset links, so the account cannot sign in, use an
    open session or come back through a password reset. The one way to deactivate an account:
    the users admin and an employee made inactive (issue 10 item 14) both call it.
    Raises AccountActionRefused("self" or "last_superuser") (SPEC section 4)."""
    if acting is not None and user.id == acting.id:
        raise AccountActionRefused("self")
    with db.atomic():
        if user.is_superuser and not _other_active_superusers(user).exists():
            raise AccountActionRefused("last_superuser")
        User.update(is_active=False).where(User.id == user.id).execute()
        sessions.end_sessions_of(user.id, "deactivated")
        tokens.revoke_open("reset", user=user.id)


def reactivate(user):
    User.update(is_active=True).where(User.id == user.id).execute()


def set_superuser(user, grant, acting):
    """Grant (`grant` True) or withdraw the superuser right. Raises
    AccountActionRefused("last_superuser") when it would leave no active superuser."""
    with db.atomic():
        if not grant and user.is_superuser and not _other_active_superusers(user).exists():
            raise AccountActionRefused("last_superuser")
        User.update(is_superuser=grant).where(User.id == user.id).execute()


def unlock(user):
    User.update(failed_logins=0, locked_at=None).where(User.id == user.id).execute()




