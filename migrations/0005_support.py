"""Support requests (SPEC section 9): categories and types, cases with a thread of messages
and files, and each case's history.

A case's customer is a contact. Its requester is a staff user (`requester_user`) or, once the
portal exists, a portal account (`requester_account_id`, bound to that table by a later
migration). Case numbers are year-sequence ("2026-0042"), unique per year.
"""
import datetime

from peewee import (
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

    class User(Base):
        class Meta:
            table_name = "user"

    class Contact(Base):
        class Meta:
            table_name = "contact"

    class CaseCategory(Base):
        name = CharField(max_length=100)
        active = BooleanField(default=True)
        position = IntegerField(default=0)

    class CaseType(Base):
        name = CharField(max_length=100)
        active = BooleanField(default=True)
        position = IntegerField(default=0)

    class SupportCase(Base):
        year = IntegerField()
        seq = IntegerField()
        contact = ForeignKeyField(Contact, on_delete="RESTRICT")
        category = ForeignKeyField(CaseCategory, null=True, on_delete="SET NULL")
        type = ForeignKeyField(CaseType, null=True, on_delete="SET NULL")
        subject = CharField(max_length=200)
        owner = ForeignKeyField(User, null=True, on_delete="SET NULL")
        requester_user = ForeignKeyField(User, null=True, on_delete="SET NULL",
                                         backref="+")
        requester_account_id = IntegerField(null=True)
        status = CharField(max_length=10, default="open")
        satisfied = BooleanField(null=True)
        tech_info = TextField(default="")
        created_at = DateTimeField(default=_now)
        updated_at = DateTimeField(default=_now)
        closed_at = DateTimeField(null=True)
        version = IntegerField(default=1)

        class Meta:
            indexes = ((("year", "seq"), True), (("owner", "status"), False),
                       (("status", "updated_at"), False))

    class CaseMessage(Base):
        case = ForeignKeyField(SupportCase, on_delete="CASCADE")
        author = ForeignKeyField(User, null=True, on_delete="SET NULL")
        author_name = CharField(max_length=200, default="")
        body = TextField(default="")
        kind = CharField(max_length=10, default="message")
        created_at = DateTimeField(default=_now)

    class CaseFile(Base):
        case = ForeignKeyField(SupportCase, on_delete="CASCADE")
        message = ForeignKeyField(CaseMessage, null=True, on_delete="SET NULL")
        original_name = CharField(max_length=255)
        stored_name = CharField(max_length=64, unique=True)
        size = IntegerField()
        content_type = CharField(max_length=100)
        uploaded_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = DateTimeField(default=_now)

    class CaseEvent(Base):
        case = ForeignKeyField(SupportCase, on_delete="CASCADE")
        at = DateTimeField(default=_now)
        user = ForeignKeyField(User, null=True, on_delete="SET NULL")
        action = CharField(max_length=20)
        old = CharField(max_length=200, default="")
        new = CharField(max_length=200, default="")

    db.create_tables([CaseCategory, CaseType, SupportCase, CaseMessage, CaseFile, CaseEvent])
