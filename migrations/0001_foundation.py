"""Foundation: company, employees, users, sessions, tokens, outbox, audit log, job leases.

A frozen copy of the models as they were when this migration was written; later changes to
models.py never change what this script creates.
"""
import datetime

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def _now():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Company(Base):
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
        updated_at = DateTimeField(default=_now)

    class Employee(Base):
        name = CharField(max_length=200)
        email = CharField(max_length=254, default="")
        phone = CharField(max_length=50, default="")
        title = CharField(max_length=100, default="")
        active = BooleanField(default=True)
        version = IntegerField(default=1)
        created_at = DateTimeField(default=_now)
        updated_at = DateTimeField(default=_now)

        class Meta:
            indexes = ((("name",), False),)

    class User(Base):
        email = CharField(max_length=254, unique=True)
        password_hash = CharField(max_length=255)
        employee = ForeignKeyField(Employee, null=True, unique=True, on_delete="SET NULL")
        is_superuser = BooleanField(default=False)
        is_active = BooleanField(default=True)
        language = CharField(max_length=5, default="")
        failed_logins = IntegerField(default=0)
        locked_at = DateTimeField(null=True)
        last_login_at = DateTimeField(null=True)
        password_changed_at = DateTimeField(default=_now)
        created_at = DateTimeField(default=_now)

    class UserSession(Base):
        id = AutoField()
        sid_hash = CharField(max_length=64, unique=True)
        user = ForeignKeyField(User, null=True, on_delete="CASCADE")
        data = TextField(default="{}")
        created_at = DateTimeField(default=_now)
        last_seen_at = DateTimeField(default=_now)
        ip = CharField(max_length=64, default="")
        user_agent = CharField(max_length=300, default="")
        ended_at = DateTimeField(null=True)
        end_reason = CharField(max_length=20, default="")

        class Meta:
            indexes = ((("ended_at", "last_seen_at"), False),)

    class Token(Base):
        purpose = CharField(max_length=20)
        token_hash = CharField(max_length=64, unique=True)
        user = ForeignKeyField(User, null=True, on_delete="CASCADE")
        employee = ForeignKeyField(Employee, null=True, on_delete="CASCADE")
        created_at = DateTimeField(default=_now)
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)

    class OutboxMessage(Base):
        to_addr = CharField(max_length=254)
        subject = CharField(max_length=300)
        body = TextField()
        kind = CharField(max_length=30, default="")
        status = CharField(max_length=10, default="queued")
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField(default=_now)
        claimed_at = DateTimeField(null=True)
        last_error = TextField(default="")
        created_at = DateTimeField(default=_now)
        sent_at = DateTimeField(null=True)

        class Meta:
            indexes = ((("status", "next_attempt_at"), False),)

    class AuditEvent(Base):
        at = DateTimeField(default=_now, index=True)
        user = ForeignKeyField(User, null=True, on_delete="SET NULL")
        action = CharField(max_length=50, index=True)
        target = CharField(max_length=200, default="")
        detail = TextField(default="")
        ip = CharField(max_length=64, default="")

    class JobLease(Base):
        name = CharField(max_length=50, primary_key=True)
        holder = CharField(max_length=100, default="")
        epoch = IntegerField(default=0)
        expires_at = DateTimeField(default=_now)
        last_run_at = DateTimeField(null=True)
        last_error = TextField(default="")

    db.create_tables([Company, Employee, User, UserSession, Token, OutboxMessage, AuditEvent,
                      JobLease])
