"""The customers' side of the websites (issue 13 items 2-5): web accounts, the incoming items
their portals hand to the coming "Fetch website data" queue, and the events of a web account
that a contact's timeline shows."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from models.accounts import User
from models.clock import utcnow
from models.contacts import Contact
from models.db import BaseModel
from models.portal import Website

STATUSES = ("pending", "approved", "rejected")
INCOMING_KINDS = ("registration", "order", "activity", "account_update")
INCOMING_STATUSES = ("unprocessed", "imported", "rejected")


class WebAccount(BaseModel):
    """A customer's account on one website's portal. `email` is the login name, stored
    normalised (kontor.mail.normalise_email), unique per website: the same address may have an
    account on each website. `password_hash` is "" until the customer sets one (access created
    by staff). Only a confirmed (`email_confirmed_at`), approved, unclosed account signs in.
    `registration` holds the details typed at "Create user" (JSON) until the address is
    confirmed; then they become an IncomingItem. `version` guards staff edits."""
    website = ForeignKeyField(Website, backref="accounts", on_delete="CASCADE")
    email = CharField(max_length=254)
    password_hash = CharField(max_length=255, default="")
    status = CharField(max_length=10, default="pending")
    email_confirmed_at = DateTimeField(null=True)
    contact = ForeignKeyField(Contact, null=True, backref="web_accounts", on_delete="SET NULL")
    name = CharField(max_length=200, default="")       # the contact person, for the e-mails
    language = CharField(max_length=5, default="")
    registration = TextField(default="")
    failed_logins = IntegerField(default=0)
    locked_at = DateTimeField(null=True)
    last_login_at = DateTimeField(null=True)
    password_changed_at = DateTimeField(default=utcnow)
    created_at = DateTimeField(default=utcnow)
    closed_at = DateTimeField(null=True)
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("website", "email"), True), (("website", "status"), False))

    # flask-login's protocol
    @property
    def is_authenticated(self):
        return True

    @property
    def is_active(self):
        return self.status == "approved" and self.closed_at is None \
            and self.email_confirmed_at is not None

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return str(self.id)

    @property
    def is_locked(self):
        return self.locked_at is not None

    @property
    def display_name(self):
        return self.name or self.email


class IncomingItem(BaseModel):
    """Something a website's portal received for staff to process (SPEC section 10): a
    registration, an order, an activity (inquiry) or an account update. `values` is the
    submitted values as received (JSON) and is never changed; processing fills in `status`,
    `processed_by`, `processed_at` and `result` (JSON: the contact and what was created or
    changed) once."""
    website = ForeignKeyField(Website, backref="incoming", on_delete="CASCADE")
    web_account = ForeignKeyField(WebAccount, null=True, backref="incoming",
                                  on_delete="CASCADE")
    kind = CharField(max_length=20)
    values = TextField()
    received_at = DateTimeField(default=utcnow)
    status = CharField(max_length=12, default="unprocessed")
    processed_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    processed_at = DateTimeField(null=True)
    result = TextField(default="")
    # the contact it was imported into (its timeline shows the import; migration 0024)
    contact = ForeignKeyField(Contact, null=True, backref="+", on_delete="SET NULL")
    # a person's choices on the item page saved for "Import all" (JSON; kontor/incoming.py)
    decision = TextField(default="")
    confirmed_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    confirmed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "kind", "received_at"), False),
                   (("contact", "processed_at"), False), (("processed_at",), False))


class WebAccountEvent(BaseModel):
    """One change of a web account by staff or by its customer: access created, status
    changed, e-mail corrected, closed. `old` and `new` are the values before and after. The
    contact's timeline shows the events of its accounts (`contact`: the account's contact
    at the time)."""
    web_account = ForeignKeyField(WebAccount, backref="events", on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, backref="+", on_delete="SET NULL")
    user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    action = CharField(max_length=30)
    old = CharField(max_length=254, default="")
    new = CharField(max_length=254, default="")
    at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("contact", "at"), False),)
