"""Kontor's Peewee models, the deferred database they live in, and model-level query helpers.

The database itself is chosen by `open_database(url)` (SQLite by default, PostgreSQL by
`DATABASE_URL`) and bound to the proxy `db`. The schema is created and changed only by the
numbered scripts in `migrations/` (see `kontor/migrate.py`), never from here.

Times are naive datetimes in UTC throughout (`kontor.clock.utcnow`).
"""
import inspect
from datetime import datetime, timedelta

from peewee import (
    JOIN,
    AutoField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    DecimalField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    Value,
    fn,
)
from playhouse.db_url import connect

from kontor.clock import utcnow

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": 1,          # NORMAL: safe with WAL, much faster than FULL
    "cache_size": -64000,      # 64 MB page cache
    "busy_timeout": 10000,     # wait up to 10 s for a writer instead of failing at once
}


def open_database(url: str):
    """Open the database named by `url` with Kontor's settings and bind it to `db`.

    SQLite gets the WAL pragmas and `lock_type='IMMEDIATE'`, so that every `db.atomic()`
    takes the write lock when it begins: a transaction that reads and then writes would
    otherwise fail at once with "database is locked" under concurrent writers.
    """
    if url.startswith("sqlite"):
        if not url.startswith("sqlite+pool"):
            url = "sqlite+pool" + url[len("sqlite"):]
        database = connect(url, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE",
                           check_same_thread=False, max_connections=32, stale_timeout=300)
    else:
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+pool://" + url[len("postgresql://"):]
        database = connect(url, max_connections=32, stale_timeout=300)
    db.initialize(database)
    return database


def is_sqlite() -> bool:
    return db.obj is not None and db.obj.__class__.__name__.endswith("SqliteDatabase")


def locked(query):
    """`SELECT … FOR UPDATE` where the database has it. SQLite has no row locks, but there
    every `db.atomic()` is IMMEDIATE and holds the one write lock, which serialises the same."""
    return query if is_sqlite() else query.for_update()


class _Arg:
    """Where the n-th argument of a `Prepared` query goes in its parameters."""
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class Prepared:
    """A query whose SQL is generated once per kind of database, then run with new arguments.

    Generating SQL is the dearest part of a small indexed query in Peewee (0.1-0.2 ms, several
    times what SQLite takes to answer it), and a contact page runs several of them.
    `build(*args)` returns the query with each argument where a value goes; the arguments
    are passed to the driver as they are (plain ids, strings and numbers; no conversion).
    Calling returns the query's rows, as the same query would (models, tuples...)."""

    def __init__(self, build, arity=None):
        self._build = build
        self._arity = arity if arity is not None else len(inspect.signature(build).parameters)
        self._compiled = {}

    def _compile(self):
        query = self._build(*[Value(_Arg(i), converter=False) for i in range(self._arity)])
        sql, params = query.sql()
        compiled = self._compiled[type(db.obj)] = (query, sql, params)
        return compiled

    def _cursor(self, args):
        query, sql, params = self._compiled.get(type(db.obj)) or self._compile()
        values = [args[p.index] if isinstance(p, _Arg) else p for p in params]
        return query, db.execute_sql(sql, values)

    def __call__(self, *args):
        query, cursor = self._cursor(args)
        return list(query._get_cursor_wrapper(cursor))

    def rows(self, *args):
        """The driver's own rows, unconverted: for hundreds of rows of plain columns. (A
        datetime is text on SQLite: see `as_datetime`.)"""
        return self._cursor(args)[1].fetchall()


def as_datetime(value):
    """A datetime column of a `Prepared.rows` row: text on SQLite, a datetime on PostgreSQL."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


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
    version = IntegerField(default=1)
    updated_at = DateTimeField(default=utcnow)

    @classmethod
    def current(cls):
        return cls.select().order_by(cls.id).first()


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

    class Meta:
        indexes = ((("name",), False),)


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
        return cls.get_or_none(cls.email == (email or "").strip().lower())


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
    website_id = IntegerField(null=True)   # portal sessions; a foreign key once Website exists

    class Meta:
        indexes = ((("ended_at", "last_seen_at"), False),)

    @classmethod
    def signed_in(cls):
        """Live staff sessions of signed-in users, newest activity first."""
        return (with_employee(cls.select(cls, User).join(User))
                .where(cls.ended_at.is_null(), cls.user.is_null(False), cls.realm == "staff")
                .order_by(cls.last_seen_at.desc()))


class Token(BaseModel):
    """A single-use secret sent by e-mail or printed to the console. Only its SHA-256 is kept."""
    purpose = CharField(max_length=20)            # "reset", "setup", "invite"
    token_hash = CharField(max_length=64, unique=True)
    user = ForeignKeyField(User, null=True, backref="tokens", on_delete="CASCADE")
    employee = ForeignKeyField(Employee, null=True, backref="tokens", on_delete="CASCADE")
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


class Contact(BaseModel):
    """A customer or other relation: a company or a person. `version` is the change counter
    (optimistic locking on edit; the sync's "changed since agreed" test)."""
    customer_number = IntegerField(unique=True)
    kind = CharField(max_length=10, default="company")     # "company" or "person"
    name = CharField(max_length=200)
    name_norm = CharField(max_length=200, default="", index=True)   # for duplicate warnings
    sort_name = CharField(max_length=200, default="", index=True)   # folded, for sorting
    sort_city = CharField(max_length=100, default="")               # folded, for sorting
    org_number = CharField(max_length=30, default="", index=True)
    vat_number = CharField(max_length=30, default="")
    email = CharField(max_length=254, default="", index=True)
    phone = CharField(max_length=50, default="")
    mobile = CharField(max_length=50, default="")
    fax = CharField(max_length=50, default="")
    website = CharField(max_length=200, default="")
    street = CharField(max_length=200, default="")
    postcode = CharField(max_length=20, default="")
    city = CharField(max_length=100, default="", index=True)
    country = CharField(max_length=2, default="")
    visit_street = CharField(max_length=200, default="")
    visit_postcode = CharField(max_length=20, default="")
    visit_city = CharField(max_length=100, default="")
    visit_country = CharField(max_length=2, default="")
    discount = DecimalField(max_digits=5, decimal_places=2, default=0)
    active = BooleanField(default=True)
    search_text = TextField(default="")
    version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    updated_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")


class ContactPerson(BaseModel):
    """A person at a company contact."""
    contact = ForeignKeyField(Contact, backref="persons", on_delete="CASCADE")
    name = CharField(max_length=200)
    title = CharField(max_length=100, default="")
    email = CharField(max_length=254, default="")
    phone = CharField(max_length=50, default="")
    mobile = CharField(max_length=50, default="")
    active = BooleanField(default=True)
    version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class NoteEntry(BaseModel):
    """One stamped entry of a note. The note of a contact is its entries with person NULL;
    a contact person's note has `person` set. Append-only: never edited or deleted online.
    `uid` identifies the entry across Kontor and the business database (sync merges notes
    as a union of entries)."""
    contact = ForeignKeyField(Contact, backref="note_entries", on_delete="CASCADE")
    person = ForeignKeyField(ContactPerson, null=True, backref="note_entries",
                             on_delete="CASCADE")
    text = TextField()
    author = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    author_name = CharField(max_length=200, default="")
    created_at = DateTimeField(default=utcnow)
    uid = CharField(max_length=40, unique=True)

    class Meta:
        indexes = ((("contact", "person", "created_at"), False),)


class ContactChange(BaseModel):
    """What one save changed on a contact: {field: [old, new]} as JSON, by whom, when."""
    contact = ForeignKeyField(Contact, backref="changes", on_delete="CASCADE")
    version = IntegerField()
    user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    at = DateTimeField(default=utcnow)
    changes = TextField(default="{}")

    class Meta:
        indexes = ((("contact", "version"), False),)


class CaseCategory(BaseModel):
    """A product or area a support case is about; the superuser keeps the list."""
    name = CharField(max_length=100)
    active = BooleanField(default=True)
    position = IntegerField(default=0)


class CaseType(BaseModel):
    """The kind of request (question, error, wish…); the superuser keeps the list."""
    name = CharField(max_length=100)
    active = BooleanField(default=True)
    position = IntegerField(default=0)


class SupportCase(BaseModel):
    """A support request for a customer (a contact). The requester is a staff user, or later
    a portal account (`requester_account_id`). Status: open, answered or closed."""
    year = IntegerField()
    seq = IntegerField()
    contact = ForeignKeyField(Contact, backref="cases", on_delete="RESTRICT")
    category = ForeignKeyField(CaseCategory, null=True, backref="+", on_delete="SET NULL")
    type = ForeignKeyField(CaseType, null=True, backref="+", on_delete="SET NULL")
    subject = CharField(max_length=200)
    owner = ForeignKeyField(User, null=True, backref="owned_cases", on_delete="SET NULL")
    requester_user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    requester_account_id = IntegerField(null=True)
    status = CharField(max_length=10, default="open")
    satisfied = BooleanField(null=True)
    tech_info = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    closed_at = DateTimeField(null=True)
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("year", "seq"), True), (("owner", "status"), False),
                   (("status", "updated_at"), False))

    @property
    def number(self):
        return f"{self.year}-{self.seq:04d}"


class CaseMessage(BaseModel):
    """One message in a case's thread (the description is the first)."""
    case = ForeignKeyField(SupportCase, backref="messages", on_delete="CASCADE")
    author = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    author_name = CharField(max_length=200, default="")
    body = TextField(default="")
    kind = CharField(max_length=10, default="message")    # message, feedback
    created_at = DateTimeField(default=utcnow)


class CaseFile(BaseModel):
    """A file attached to a case, stored under a random name in the data folder."""
    case = ForeignKeyField(SupportCase, backref="files", on_delete="CASCADE")
    message = ForeignKeyField(CaseMessage, null=True, backref="files", on_delete="SET NULL")
    original_name = CharField(max_length=255)
    stored_name = CharField(max_length=64, unique=True)
    size = IntegerField()
    content_type = CharField(max_length=100)
    uploaded_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)


class CaseEvent(BaseModel):
    """The case history: every status, owner and message change, with who and when."""
    case = ForeignKeyField(SupportCase, backref="events", on_delete="CASCADE")
    at = DateTimeField(default=utcnow)
    user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    action = CharField(max_length=20)
    old = CharField(max_length=200, default="")
    new = CharField(max_length=200, default="")


class OutboxMessage(BaseModel):
    """An e-mail waiting for, or done with, delivery. Nothing is sent except from here."""
    to_addr = CharField(max_length=254)
    subject = CharField(max_length=300)
    body = TextField()
    kind = CharField(max_length=30, default="")
    status = CharField(max_length=10, default="queued")   # queued, sending, sent, failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    claimed_at = DateTimeField(null=True)
    last_error = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)

    @classmethod
    def backlog(cls):
        """Counts by status and the age in seconds of the oldest queued message."""
        counts = dict.fromkeys(("queued", "sending", "sent", "failed"), 0)
        for status, count in (cls.select(cls.status, fn.COUNT(cls.id))
                              .group_by(cls.status).tuples()):
            counts[status] = count
        oldest = (cls.select(fn.MIN(cls.created_at))
                  .where(cls.status.in_(("queued", "sending"))).scalar())
        if isinstance(oldest, str):   # SQLite hands back text for aggregates
            oldest = datetime.fromisoformat(oldest)
        counts["oldest_queued_seconds"] = int((utcnow() - oldest).total_seconds()) if oldest else 0
        return counts


class AuditEvent(BaseModel):
    """Who did what, when: security-relevant and administrative actions."""
    at = DateTimeField(default=utcnow, index=True)
    user = ForeignKeyField(User, null=True, backref="audit_events", on_delete="SET NULL")
    action = CharField(max_length=50, index=True)
    target = CharField(max_length=200, default="")
    detail = TextField(default="")
    ip = CharField(max_length=64, default="")


class JobLease(BaseModel):
    """One row per scheduled job: which process holds it, until when, and how it last went."""
    name = CharField(max_length=50, primary_key=True)
    holder = CharField(max_length=100, default="")
    epoch = IntegerField(default=0)
    expires_at = DateTimeField(default=utcnow)
    last_run_at = DateTimeField(null=True)
    last_error = TextField(default="")


ALL_MODELS = [Company, Employee, User, UserSession, Token, Invitation, Contact, ContactPerson,
              NoteEntry, ContactChange, CaseCategory, CaseType, SupportCase, CaseMessage,
              CaseFile, CaseEvent, OutboxMessage, AuditEvent, JobLease]


def ago(**kwargs):
    """utcnow() minus a timedelta: `ago(minutes=20)`."""
    return utcnow() - timedelta(**kwargs)
