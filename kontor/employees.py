"""The employee register (SPEC section 4): search, save, link a user to an employee."""
from peewee import fn

from kontor import form_keys, users
from kontor.errors import Refused
from kontor.mail import normalise_email
from kontor.matching import digits
from kontor.search import contains_all
from kontor.text import fold, search_terms, search_text
from kontor.versions import update_if_unchanged
from models import Employee, Invitation, User, db, locked
from models.clock import utcnow

FIELDS = ("name", "email", "phone", "mobile", "title", "department", "active")


def derived_fields(values):
    """The folded columns kept in step with an employee's fields, from `values` (a dict of
    FIELDS; missing ones count as empty): `search_text` (name, e-mail, phones, also as digits
    only, title, department) and `sort_name`. Every save of an employee writes them
    (issue 11 item 8: one folding for every search)."""
    phones = [values.get("phone"), values.get("mobile")]
    return {"search_text": search_text(values.get("name"), values.get("email"), *phones,
                                       *[digits(p) for p in phones if p],
                                       values.get("title"), values.get("department")),
            "sort_name": fold(values.get("name")).strip()[:200]}


def matching(query, text):
    """`query` (of Employee rows) narrowed to the employees whose folded search text contains
    every word of `text`, folded the same way ("muller" finds Müller, "O’Brien" O'Brien)."""
    condition = contains_all([Employee.search_text], search_terms(text))
    return query if condition is None else query.where(condition)


def search(text="", include_inactive=True):
    """The register's query: employees matching every word of `text` (see `matching`), by
    folded name; without the inactive ones unless `include_inactive`."""
    query = matching(Employee.select(), text).order_by(Employee.sort_name, Employee.id)
    if not include_inactive:
        query = query.where(Employee.active == True)  # noqa: E712 (peewee expression)
    return query


def email_taken(email, exclude_id=None):
    email = normalise_email(email)
    if not email:
        return False
    query = Employee.select().where(fn.LOWER(Employee.email) == email)
    if exclude_id is not None:
        query = query.where(Employee.id != exclude_id)
    return query.exists()


class DuplicateEmail(Refused):
    """Another employee in the register has this e-mail address."""

    def __init__(self, reason="duplicate_email"):
        super().__init__(reason)


def active_account(employee):
    """The active account (User) linked to `employee` (an Employee or None), or None."""
    if employee is None:
        return None
    return User.select().where(User.employee == employee.id,
                               User.is_active == True).first()  # noqa: E712


def save(employee, values, opened_version=None, form_key=None, keep_account=False,
         acting=None):
    """Create (employee is None) or update an employee; the change counter moves on each save.

    An employee made inactive who has an active account loses it too, unless `keep_account`:
    `users.deactivate` on behalf of `acting` (a User, or None for a path without a person),
    which ends their sessions (issue 10 item 14). The returned Employee's `account_outcome`
    says what happened to such an account: "deactivated" (`account` is the User), "kept", or
    None when there was nothing to ask.

    Raises DuplicateEmail when another employee has the e-mail (checked inside the write
    transaction, so two saves racing cannot both pass), and versions.ChangedMeanwhile when
    someone saved the employee since `opened_version` (None: not checked);
    form_keys.AlreadySaved when adding with a `form_key` used before (a double-click);
    users.AccountActionRefused ("self", "last_superuser") when the account may not be
    deactivated; then nothing is saved.
    """
    values = {k: (v.strip() if isinstance(v, str) else "" if v is None else v)
              for k, v in values.items() if k in FIELDS}   # a field left out of the POST: ""
    if "email" in values:
        values["email"] = normalise_email(values["email"])
    with db.atomic():
        if email_taken(values.get("email"), employee.id if employee else None):
            raise DuplicateEmail()
        if employee is None:
            form_keys.claim(form_key)
            return Employee.create(**values, **derived_fields(values))
        current = locked(Employee.select().where(Employee.id == employee.id)).get()
        merged = {name: getattr(current, name) for name in FIELDS} | values
        update_if_unchanged(Employee, employee.id, opened_version, updated_at=utcnow(),
                            **values, **derived_fields(merged))
        outcome, account = None, None
        if values.get("active") is False:   # someone who left cannot take up an invitation
            Invitation.update(revoked_at=utcnow()).where(
                Invitation.employee == employee.id, Invitation.accepted_at.is_null(),
                Invitation.revoked_at.is_null()).execute()
            account = active_account(employee)
            if account is not None and keep_account:
                outcome = "kept"
            elif account is not None:
                users.deactivate(account, acting)
                outcome = "deactivated"
        saved = Employee.get_by_id(employee.id)
        saved.account_outcome, saved.account = outcome, account
        return saved


def link_user(user, employee):
    """Link an account to an employee; False if another account is linked to it already.
    An open invitation for that employee is withdrawn: the employee has an account now, and
    the link in that e-mail would only end in a wrong "used already" (found by a new user)."""
    with db.atomic():
        if User.select().where(User.employee == employee, User.id != user.id).exists():
            return False
        User.update(employee=employee).where(User.id == user.id).execute()
        Invitation.update(revoked_at=utcnow()).where(
            Invitation.employee == employee, Invitation.accepted_at.is_null(),
            Invitation.revoked_at.is_null()).execute()
        return True
