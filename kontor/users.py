"""User management rules (SPEC section 4): the state of every employee's access, and the
superuser's actions on accounts, with the last-superuser and no-self-deactivation guards."""
from dataclasses import dataclass

from peewee import fn

from kontor import sessions
from models import Employee, Invitation, User, UserSession, db, locked


class Refused(Exception):
    """The action would break a rule; `reason` names it."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason   # "self", "last_superuser"


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
            self.user.email != (self.employee.email or "").strip().lower()


def overview(text=""):
    """Every employee with their account, open invitation and whether they are signed in."""
    employees = Employee.select().order_by(fn.LOWER(Employee.name), Employee.id)
    if text:
        text = text.strip().lower()
        employees = employees.where(fn.LOWER(Employee.name).contains(text) |
                                    fn.LOWER(Employee.email).contains(text))
    users = {u.employee_id: u for u in User.select().where(User.employee.is_null(False))}
    invitations = {}
    for invitation in Invitation.open().order_by(Invitation.created_at):
        invitations[invitation.employee_id] = invitation
    live = {row.user_id for row in UserSession.select(UserSession.user).where(
        UserSession.ended_at.is_null(), UserSession.user.is_null(False))}
    return [Access(e, users.get(e.id), invitations.get(e.id),
                   users.get(e.id) is not None and users[e.id].id in live)
            for e in employees]


def _other_active_superusers(user):
    return locked(User.select().where(User.is_superuser == True, User.is_active == True,  # noqa
                                      User.id != user.id))


def deactivate(user, acting):
    if user.id == acting.id:
        raise Refused("self")
    with db.atomic():
        if user.is_superuser and not _other_active_superusers(user).exists():
            raise Refused("last_superuser")
        User.update(is_active=False).where(User.id == user.id).execute()
        sessions.end_sessions_of(user.id, "deactivated")


def reactivate(user):
    User.update(is_active=True).where(User.id == user.id).execute()


def set_superuser(user, grant, acting):
    with db.atomic():
        if not grant and user.is_superuser and not _other_active_superusers(user).exists():
            raise Refused("last_superuser")
        User.update(is_superuser=grant).where(User.id == user.id).execute()


def unlock(user):
    User.update(failed_logins=0, locked_at=None).where(User.id == user.id).execute()




