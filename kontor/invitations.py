"""Inviting registered employees and accepting invitations (SPEC section 4).

Only employees in the register can be invited: active, with an e-mail, without an account and
without an open invitation. The invitation fixes the e-mail that becomes the login name.
Tokens follow the same rules as reset links (kontor/tokens.py): random, stored only as a
SHA-256 hash, single use; invitations are valid for 7 days.
"""
import secrets

from peewee import IntegrityError, fn

from kontor import config, passwords, tokens
from kontor.errors import Refused
from kontor.mail import normalise_email
from models import Employee, Invitation, User, db
from models.clock import utcnow


class NotInvitable(Refused):
    """The employee cannot be invited (now): `reason` says why."""

    # reason: "unknown", "inactive", "no_email", "has_account", "already_invited"


def invitable_employees():
    """Active employees with an e-mail and neither an account nor a usable open invitation.

    An address that is already someone's login name (their register e-mail was corrected
    later) counts as having an account: inviting it could only fail."""
    has_account = User.select(User.employee).where(User.employee.is_null(False))
    login_names = User.select(User.email)
    invited = Invitation.select(Invitation.employee).where(
        Invitation.accepted_at.is_null(), Invitation.revoked_at.is_null(),
        Invitation.expires_at > utcnow())
    return (Employee.select()
            .where(Employee.active == True, Employee.email != "",  # noqa: E712
                   Employee.id.not_in(has_account), Employee.id.not_in(invited),
                   fn.LOWER(Employee.email).not_in(login_names))
            .order_by(fn.LOWER(Employee.name)))


def _why_not_invitable(employee):
    if not employee.active:
        return "inactive"
    if not employee.email:
        return "no_email"
    if User.select().where(User.employee == employee).exists() or \
            User.by_email(normalise_email(employee.email)) is not None:
        return "has_account"
    open_one = Invitation.open().where(Invitation.employee == employee).first()
    if open_one is not None and not open_one.is_expired:
        return "already_invited"
    return None


def why_not_invitable(employee_id):
    """Why the employee cannot be invited now ("unknown", "inactive", ...), or None."""
    employee = Employee.get_or_none(Employee.id == employee_id) if employee_id else None
    return "unknown" if employee is None else _why_not_invitable(employee)


def invite(employee_id, language, invited_by):
    """Create an invitation; return (invitation, raw token). Raises NotInvitable."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    try:
        with db.atomic():
            employee = Employee.get_or_none(Employee.id == employee_id)
            if employee is None:
                raise NotInvitable("unknown")
            reason = _why_not_invitable(employee)
            if reason:
                raise NotInvitable(reason)
            # an expired invitation is closed before a new one opens; only an expired one: an
            # open one another superuser committed a moment ago must make the insert fail
            Invitation.update(revoked_at=now).where(
                Invitation.employee == employee, Invitation.accepted_at.is_null(),
                Invitation.revoked_at.is_null(), Invitation.expires_at <= now).execute()
            invitation = Invitation.create(
                employee=employee, email=normalise_email(employee.email), language=language,
                token_hash=tokens.digest(raw), invited_by=invited_by, created_at=now,
                expires_at=now + config.INVITATION_LIFETIME)
    except IntegrityError:
        # another superuser's invitation for the same employee won the race
        raise NotInvitable("already_invited") from None
    return invitation, raw


def resend(invitation_id, invited_by):
    """Replace an open invitation with a new one (new link, new 7 days); the old link dies."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    with db.atomic():
        old = Invitation.open().where(Invitation.id == invitation_id).first()
        if old is None:
            return None, None
        employee = Employee.get_by_id(old.employee_id)
        if not employee.active or not employee.email:
            raise NotInvitable("inactive" if not employee.active else "no_email")
        if not Invitation.update(revoked_at=now).where(
                Invitation.id == old.id, Invitation.accepted_at.is_null(),
                Invitation.revoked_at.is_null()).execute():
            return None, None   # another superuser resent or revoked it a moment ago
        invitation = Invitation.create(   # to the register's e-mail as it is now
            employee=old.employee_id, email=normalise_email(employee.email),
            language=old.language,
            token_hash=tokens.digest(raw), invited_by=invited_by, created_at=now,
            expires_at=now + config.INVITATION_LIFETIME)
    return invitation, raw


def revoke(invitation_id):
    return bool(Invitation.update(revoked_at=utcnow()).where(
        Invitation.id == invitation_id, Invitation.accepted_at.is_null(),
        Invitation.revoked_at.is_null()).execute())


def check_digest(token_hash):
    """Return (invitation, state) for the link whose token has this SHA-256 (what the session
    keeps): "unknown", or "used", "revoked", "expired", "ok" by the token rules."""
    invitation = Invitation.get_or_none(Invitation.token_hash == token_hash) \
        if token_hash else None
    if invitation is None:
        return None, "unknown"
    return invitation, tokens.state(invitation.accepted_at, invitation.revoked_at,
                                    invitation.expires_at)


class InvitationUnusable(Refused):
    """The invitation cannot be accepted (any more): `reason` ("used", "revoked") says why."""

    @property
    def state(self):
        """The invitation's state as the token rules name it: the refusal's reason."""
        return self.reason


def accept(invitation, password):
    """Create the account for the invitation's own employee and e-mail; return the user.

    The account gets exactly the invitation's employee and e-mail: nothing from the request
    can point it at someone else. Raises InvitationUnusable if it was used or withdrawn
    meanwhile.
    """
    now = utcnow()
    with db.atomic():
        claimed = Invitation.update(accepted_at=now).where(
            Invitation.id == invitation.id, Invitation.accepted_at.is_null(),
            Invitation.revoked_at.is_null(), Invitation.expires_at > now).execute()
        if not claimed:
            raise InvitationUnusable("used")
        if not Employee.get_by_id(invitation.employee_id).active:
            raise InvitationUnusable("revoked")   # deactivated in the register meanwhile
        if User.by_email(invitation.email) is not None or \
                User.select().where(User.employee == invitation.employee_id).exists():
            raise InvitationUnusable("used")
        user = User.create(email=invitation.email, password_hash=passwords.hash_password(password),
                           employee=invitation.employee_id, language=invitation.language,
                           last_login_at=now)
        Invitation.update(user=user).where(Invitation.id == invitation.id).execute()
    return user


def needs_reminder(invitation):
    return invitation.is_open and not invitation.is_expired and \
        utcnow() - invitation.created_at > config.INVITATION_REMIND_AFTER
