"""Accounts and who they belong to: the company, the employee register, users, their
server-side sessions, single-use tokens and invitations."""
from peewee import (
    JOIN,
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    DeferredForeignKey,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from models.clock import utcnow
from models.db import BaseModel, Prepared
from models.portal import Website


class Company(BaseModel):
    """The firm running this Kontor: exactly one row once setup is done."""
    name = CharField(max_length=200)
    street = CharField(max_length=200, default="")
    postcode = CharField(max_length=20, default="")
    city = CharField(max_length=100, default="")
    country = CharField(max_length=2, default="")
    phone = CharField(max_length=50, default="")
    email = CharField(max_length=254, default="")
    vat_number = CharField(max_length=30, default="")
    org_number = CharField(max_length=30, default="")
    language = CharField(max_length=5, default="en")
    timezone = CharField(max_length=64, default="Europe/Amsterdam")
    # Every staff member sees every support case (SPEC section 9; issue 11 item 19); off: staff
    # see the cases they asked or own, superusers all.
    staff_see_all_cases = BooleanField(default=True)
    currency = CharField(max_length=3, default="EUR")   # ISO 4217: prices and orders (issue 14)
    version = IntegerField(default=1)
    updated_at = DateTimeField(default=utcnow)

    @classmethod
    def current(cls):
        """The company (the first row), or None before setup. Every page reads it: its SQL
        is written once (issue 12 item 26)."""
        found = _COMPANY()
        return found[0] if found else None


_COMPANY = Prepared(lambda: Company.select().order_by(Company.id).limit(1))


class Employee(BaseModel):
    """A person in the employee register; may or may not have a user account."""
    name = CharField(max_length=200)
    email = CharField(max_length=254, default="")
    phone = CharField(max_length=50, default="")
    mobile = CharField(max_length=50, default="")
    title = CharField(max_length=100, default="")
    department = CharField(max_length=100, default="")
    active = BooleanField(default=True)
    version = IntegerField(default=1)   # change counter: every save increments it (sync, locking)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    # folded (kontor.text.fold), kept in step by kontor/employees.py: the search and the order
    search_text = TextField(default="")
    sort_name = CharField(max_length=200, default="")

    class Meta:
        indexes = ((("name",), False), (("sort_name", "id"), False))


class User(BaseModel):
    """An account. The login name is `email`, lower-cased, and never changes once created."""
    email = CharField(max_length=254, unique=True)
    password_hash = CharField(max_length=255)
    employee = ForeignKeyField(Employee, null=True, unique=True, backref="users",
                               on_delete="SET NULL")
    is_superuser = BooleanField(default=False)
    is_active = BooleanField(default=True)
    language = CharField(max_length=5, default="")
    failed_logins = IntegerField(default=0)
    locked_at = DateTimeField(null=True)
    last_login_at = DateTimeField(null=True)
    password_changed_at = DateTimeField(default=utcnow)
    created_at = DateTimeField(default=utcnow)
    # "E-mail me when new website data arrives" (issue 15 item 5, migration 0029): the last
    # such e-mail, and the newest queue item it (or the opt-in) covered
    notify_incoming = BooleanField(default=False)
    incoming_notified_at = DateTimeField(null=True)
    incoming_notified_upto = IntegerField(default=0)

    # flask-login's protocol
    @property
    def is_authenticated(self):
        return True

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return str(self.id)

    @property
    def display_name(self):
        return self.employee.name if self.employee_id else self.email

    @property
    def is_locked(self):
        return self.locked_at is not None

    @classmethod
    def by_email(cls, email):
        """The account whose login name is `email`, or None. `email` must be normalised
        already (kontor.mail.normalise_email: the one place that says how)."""
        return cls.get_or_none(cls.email == email)


def with_employee(query):
    """Join each selected user's employee (the query's current model must be User), so that
    `display_name` is read from the same row instead of one more query per user."""
    return query.select_extend(Employee).join(
        Employee, JOIN.LEFT_OUTER, on=(User.employee == Employee.id))


class UserSession(BaseModel):
    """A server-side session. The browser's cookie holds only a random id whose SHA-256 is
    `sid_hash`; `data` holds the Flask session (CSRF token, flash messages, user id)."""
    id = AutoField()
    sid_hash = CharField(max_length=64, unique=True)
    user = ForeignKeyField(User, null=True, backref="sessions", on_delete="CASCADE")
    data = TextField(default="{}")
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
    ip = CharField(max_length=64, default="")
    user_agent = CharField(max_length=300, default="")
    ended_at = DateTimeField(null=True)
    end_reason = CharField(max_length=20, default="")
    # The audience (kontor/access.py): "staff", or "portal" for a customer on a website's
    # portal. A session is only ever opened by the app of its own realm and website.
    realm = CharField(max_length=10, default="staff")
    # portal sessions only; `website_id` is the id, as the session interface uses it
    website = ForeignKeyField(Website, null=True, backref="sessions", on_delete="CASCADE")
    # portal sessions only: the signed-in customer's web account (models/web_accounts.py)
    web_account = DeferredForeignKey("WebAccount", null=True, backref="sessions",
                                     on_delete="CASCADE")

    class Meta:
        indexes = ((("ended_at", "last_seen_at"), False),)

    @classmethod
    def signed_in(cls):
        """Live staff sessions of signed-in users, the latest sign-in first (an order that
        stays put while the list is paged, unlike the last activity)."""
        return (with_employee(cls.select(cls, User).join(User))
                .where(cls.ended_at.is_null(), cls.user.is_null(False), cls.realm == "staff")
                .order_by(cls.created_at.desc(), cls.id.desc()))


class Token(BaseModel):
    """A single-use secret sent by e-mail or printed to the console. Only its SHA-256 is kept."""
    purpose = CharField(max_length=20)            # "reset", "setup", "invite"
    token_hash = CharField(max_length=64, unique=True)
    user = ForeignKeyField(User, null=True, backref="tokens", on_delete="CASCADE")
    employee = ForeignKeyField(Employee, null=True, backref="tokens", on_delete="CASCADE")
    web_account = DeferredForeignKey("WebAccount", null=True, backref="tokens",
                                     on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)


class Invitation(BaseModel):
    """An invitation e-mailed to an employee. Open while neither accepted nor revoked;
    usable while open and not expired. At most one open invitation per employee (a partial
    unique index made by migration 0003)."""
    employee = ForeignKeyField(Employee, backref="invitations", on_delete="CASCADE")
    email = CharField(max_length=254)         # the login name the account will get
    language = CharField(max_length=5, default="en")
    token_hash = CharField(max_length=64, unique=True)
    invited_by = ForeignKeyField(User, null=True, backref="invitations_sent",
                                 on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    accepted_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
    user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")

    @property
    def is_open(self):
        return self.accepted_at is None and self.revoked_at is None

    @property
    def is_expired(self):
        return self.is_open and self.expires_at <= utcnow()

    @classmethod
    def open(cls):
        return cls.select().where(cls.accepted_at.is_null(), cls.revoked_at.is_null())
