"""Web accounts (issue 13 items 2-5): the `web_account`, `incoming_item` and
`web_account_event` tables; `user_session.web_account_id` (the signed-in customer of a portal
session) and `token.web_account_id` (a customer's confirmation and reset links); a website's
privacy statement address; and per-message sender and Bcc in the outbox for a website's
e-mails (staff e-mails keep "" there: Kontor's own sender, no copy).
Depends on 0017 only; it does not touch what 0016 adds.
"""
import datetime

from peewee import (
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

    class Website(Base):
        class Meta:
            table_name = "website"

    class User(Base):
        class Meta:
            table_name = "user"

    class Contact(Base):
        class Meta:
            table_name = "contact"

    class WebAccount(Base):
        website = ForeignKeyField(Website, backref="accounts", on_delete="CASCADE")
        email = CharField(max_length=254)
        password_hash = CharField(max_length=255, default="")
        status = CharField(max_length=10, default="pending")
        email_confirmed_at = DateTimeField(null=True)
        contact = ForeignKeyField(Contact, null=True, backref="web_accounts",
                                  on_delete="SET NULL")
        name = CharField(max_length=200, default="")
        language = CharField(max_length=5, default="")
        registration = TextField(default="")
        failed_logins = IntegerField(default=0)
        locked_at = DateTimeField(null=True)
        last_login_at = DateTimeField(null=True)
        password_changed_at = DateTimeField(default=_now)
        created_at = DateTimeField(default=_now)
        closed_at = DateTimeField(null=True)
        version = IntegerField(default=1)

        class Meta:
            table_name = "web_account"
            indexes = ((("website", "email"), True), (("website", "status"), False))

    class IncomingItem(Base):
        website = ForeignKeyField(Website, backref="incoming", on_delete="CASCADE")
        web_account = ForeignKeyField(WebAccount, null=True, backref="incoming",
                                      on_delete="CASCADE")
        kind = CharField(max_length=20)
        values = TextField()
        received_at = DateTimeField(default=_now)
        status = CharField(max_length=12, default="unprocessed")
        processed_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
        processed_at = DateTimeField(null=True)
        result = TextField(default="")

        class Meta:
            table_name = "incoming_item"
            indexes = ((("status", "kind", "received_at"), False),)

    class WebAccountEvent(Base):
        web_account = ForeignKeyField(WebAccount, backref="events", on_delete="CASCADE")
        contact = ForeignKeyField(Contact, null=True, backref="+", on_delete="SET NULL")
        user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
        action = CharField(max_length=30)
        old = CharField(max_length=254, default="")
        new = CharField(max_length=254, default="")
        at = DateTimeField(default=_now)

        class Meta:
            table_name = "web_account_event"
            indexes = ((("contact", "at"), False),)

    db.create_tables([WebAccount, IncomingItem, WebAccountEvent])
    migrator.migrate(
        migrator.add_column("website", "privacy_url", CharField(max_length=500, default="")),
        migrator.add_column("user_session", "web_account_id",
                            ForeignKeyField(WebAccount, field=WebAccount.id, null=True,
                                            on_delete="CASCADE")),
        migrator.add_column("token", "web_account_id",
                            ForeignKeyField(WebAccount, field=WebAccount.id, null=True,
                                            on_delete="CASCADE")),
        migrator.add_column("outbox_message", "from_addr", CharField(max_length=254, default="")),
        migrator.add_column("outbox_message", "from_name", CharField(max_length=200, default="")),
        migrator.add_column("outbox_message", "bcc_addr", CharField(max_length=254, default="")),
    )
