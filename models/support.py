"""Support cases: their categories and types, the cases themselves, the message thread, attached
files and the case history."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from models.accounts import User
from models.clock import utcnow
from models.contacts import Contact
from models.db import BaseModel


class CaseCategory(BaseModel):
    """A product or area a support case is about; the superuser keeps the list."""
    name = CharField(max_length=100)
    # the name folded (kontor/text.py list_key; kontor/support.py keeps it in step): unique,
    # so no two names differ only in case, accents or spaces (issue 11 item 19)
    name_key = CharField(max_length=100, unique=True)
    active = BooleanField(default=True)
    position = IntegerField(default=0)


class CaseType(BaseModel):
    """The kind of request (question, error, wish…); the superuser keeps the list."""
    name = CharField(max_length=100)
    # the name folded (kontor/text.py list_key; kontor/support.py keeps it in step): unique,
    # so no two names differ only in case, accents or spaces (issue 11 item 19)
    name_key = CharField(max_length=100, unique=True)
    active = BooleanField(default=True)
    position = IntegerField(default=0)


class SupportCase(BaseModel):
    """A support request for a customer (a contact). The requester is a staff user, or later
    a portal account (`requester_account_id`: a WebAccount id, then `requester_user` is None).
    Status: open, answered or closed."""
    year = IntegerField()
    seq = IntegerField()
    contact = ForeignKeyField(Contact, backref="cases", on_delete="RESTRICT")
    category = ForeignKeyField(CaseCategory, null=True, backref="+", on_delete="SET NULL")
    type = ForeignKeyField(CaseType, null=True, backref="+", on_delete="SET NULL")
    subject = CharField(max_length=200)
    owner = ForeignKeyField(User, null=True, backref="owned_cases", on_delete="SET NULL")
    requester_user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    requester_account_id = IntegerField(null=True)
    # staff showed this staff-opened case to the contact's portal customers (issue 14 item 6;
    # a case opened from the portal is always shown to them: kontor/portal_cases.py)
    customer_visible = BooleanField(default=False)
    status = CharField(max_length=10, default="open")
    satisfied = BooleanField(null=True)
    tech_info = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    closed_at = DateTimeField(null=True)
    version = IntegerField(default=1)
    search_text = TextField(default="")    # the subject folded (kontor.text.fold), for search

    class Meta:
        # the case list's indexes, in its order (updated_at DESC, id DESC), are migration
        # 0016's; so is the search index of `search_text` (issue 12 item 26)
        indexes = ((("year", "seq"), True), (("updated_at", "id"), False),
                   (("owner", "updated_at", "id"), False),
                   (("owner", "status", "updated_at", "id"), False),
                   (("status", "updated_at", "id"), False),
                   (("requester_user", "updated_at", "id"), False),
                   (("contact", "updated_at", "id"), False))    # the portal's (0022)

    @property
    def number(self):
        return f"{self.year}-{self.seq:04d}"


class CaseMessage(BaseModel):
    """One message in a case's thread (the description is the first)."""
    case = ForeignKeyField(SupportCase, backref="messages", on_delete="CASCADE")
    author = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    author_name = CharField(max_length=200, default="")
    author_account_id = IntegerField(null=True)     # a customer's WebAccount (migration 0022)
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
    web_account_id = IntegerField(null=True)    # a customer's WebAccount (migration 0022)
    action = CharField(max_length=20)
    old = CharField(max_length=200, default="")
    new = CharField(max_length=200, default="")

    class Meta:
        indexes = ((("action", "case"), False),)     # the satisfaction count (migration 0016)
