"""Contacts (customers and other relations), the people at them, their notes and the record
of what each save changed."""
from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    DecimalField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from models.accounts import User
from models.clock import utcnow
from models.db import BaseModel


class ContactImport(BaseModel):
    """One CSV import of contacts (issue 10 item 1): who started it, how far it got and how it
    ended. Its contacts carry its id (`Contact.contact_import`) so that a failed import can be
    taken out whole. `status`: "running", "done" or "failed" (then `failure` is a reason code
    and `detail` its value, e.g. the customer number taken meanwhile). `updated_at` moves with
    every batch: a running import that stops moving was interrupted (see
    kontor/contact_import.py)."""
    user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    status = CharField(max_length=10, default="running")
    total = IntegerField(default=0)
    done = IntegerField(default=0)
    failure = CharField(max_length=40, default="")
    detail = CharField(max_length=200, default="")
    started_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)


class Contact(BaseModel):
    """A customer or other relation: a company or a person. `version` is the change counter
    (optimistic locking on edit; the sync's "changed since agreed" test)."""
    customer_number = IntegerField(unique=True)
    kind = CharField(max_length=10, default="company")     # "company" or "person"
    name = CharField(max_length=200)
    name_norm = CharField(max_length=200, default="", index=True)   # for duplicate warnings
    sort_name = CharField(max_length=200, default="", index=True)   # folded, for sorting
    sort_city = CharField(max_length=100, default="1")   # "0" + folded city, "1" for none
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
    contact_import = ForeignKeyField(ContactImport, null=True, backref="+", on_delete="SET NULL")
    # the import queue's matching keys (kontor/matching.py contact_keys; migration 0024)
    org_key = CharField(max_length=30, default="", index=True)
    vat_key = CharField(max_length=30, default="", index=True)
    phone_key = CharField(max_length=20, default="", index=True)
    mobile_key = CharField(max_length=20, default="", index=True)
    address_key = CharField(max_length=250, default="", index=True)


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
    # the import queue's matching keys (kontor/matching.py person_keys), each with a partial
    # index of the rows where it is not "", as the e-mail has (migration 0024)
    name_key = CharField(max_length=200, default="")
    phone_key = CharField(max_length=20, default="")
    mobile_key = CharField(max_length=20, default="")


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
    # the import that made this change (an update of an existing contact), so that a failed
    # import puts the old values back (kontor/contact_import.py undo; migration 0019)
    contact_import = ForeignKeyField(ContactImport, null=True, backref="+", on_delete="SET NULL")

    class Meta:
        indexes = ((("contact", "version"), False),)
