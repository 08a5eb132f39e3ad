"""What keeps the house running: the e-mail outbox, the audit log, the scheduled jobs'
leases and the one-time form keys."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField, fn

from models.accounts import User
from models.clock import utcnow
from models.db import BaseModel, as_datetime


class OutboxMessage(BaseModel):
    """An e-mail waiting for, or done with, delivery. Nothing is sent except from here."""
    to_addr = CharField(max_length=254)
    # a website's e-mails: its sender and its copy address (Bcc); "" means Kontor's MAIL_FROM
    # and no copy, as for every staff e-mail
    from_addr = CharField(max_length=254, default="")
    from_name = CharField(max_length=200, default="")
    bcc_addr = CharField(max_length=254, default="")
    subject = CharField(max_length=300)
    body = TextField()
    kind = CharField(max_length=30, default="")
    status = CharField(max_length=10, default="queued")   # queued, sending, sent, written, failed
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
        counts = dict.fromkeys(("queued", "sending", "sent", "written", "failed"), 0)
        for status, count in (cls.select(cls.status, fn.COUNT(cls.id))
                              .group_by(cls.status).tuples()):
            counts[status] = count
        oldest = (cls.select(fn.MIN(cls.created_at))
                  .where(cls.status.in_(("queued", "sending"))).scalar())
        oldest = as_datetime(oldest)   # SQLite hands back text for aggregates
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


class AlertSent(BaseModel):
    """When an alert e-mail of `kind` last went to the superusers (kontor/alerts.py): at
    most one per kind per hour."""
    kind = CharField(max_length=50, primary_key=True)
    sent_at = DateTimeField(default=utcnow)


class FormKey(BaseModel):
    """A one-time form key that has been used (kontor/form_keys.py): the unique `key` lets one
    request, and only one, store what a form appends."""
    key = CharField(max_length=64, unique=True)
    user_id = IntegerField(null=True)
    used_at = DateTimeField(default=utcnow, index=True)


class KeptForm(BaseModel):
    """What a person typed into a form that could not be taken (kontor/kept_forms.py): their
    session had ended, or they switched the language on a form that came back with errors.
    Kept for `user` only, for the page at `path`, until it is filled back in or expires."""
    user = ForeignKeyField(User, backref="kept_forms", on_delete="CASCADE")
    path = CharField(max_length=500)
    fields = TextField()                       # JSON: [[name, value], ...] as posted
    reason = CharField(max_length=20)          # "signed_out" or "language"
    kept_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("user", "path"), False),)
