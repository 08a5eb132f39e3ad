"""Contacts, contact persons, note entries and the per-contact change history (SPEC section 6).

Search: `contact.search_text` holds the searchable fields, lower-cased with accents folded
(kontor/contacts.py computes it). SQLite indexes it with an FTS5 trigram table kept in step by
triggers; PostgreSQL with a pg_trgm GIN index. Both serve `LIKE '%term%'` (substring match:
"ans" finds "Jansen").
"""
import datetime

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    DecimalField,
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
        customer_number = IntegerField(unique=True)
        kind = CharField(max_length=10, default="company")
        name = CharField(max_length=200)
        name_norm = CharField(max_length=200, default="", index=True)
        sort_name = CharField(max_length=200, default="", index=True)
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
        created_at = DateTimeField(default=_now)
        updated_at = DateTimeField(default=_now)
        updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class ContactPerson(Base):
        contact = ForeignKeyField(Contact, on_delete="CASCADE")
        name = CharField(max_length=200)
        title = CharField(max_length=100, default="")
        email = CharField(max_length=254, default="")
        phone = CharField(max_length=50, default="")
        mobile = CharField(max_length=50, default="")
        active = BooleanField(default=True)
        version = IntegerField(default=1)
        created_at = DateTimeField(default=_now)
        updated_at = DateTimeField(default=_now)

    class NoteEntry(Base):
        contact = ForeignKeyField(Contact, on_delete="CASCADE")
        person = ForeignKeyField(ContactPerson, null=True, on_delete="CASCADE")
        text = TextField()
        author = ForeignKeyField(User, null=True, on_delete="SET NULL")
        author_name = CharField(max_length=200, default="")
        created_at = DateTimeField(default=_now)
        uid = CharField(max_length=40, unique=True)

        class Meta:
            indexes = ((("contact", "person", "created_at"), False),)

    class ContactChange(Base):
        contact = ForeignKeyField(Contact, on_delete="CASCADE")
        version = IntegerField()
        user = ForeignKeyField(User, null=True, on_delete="SET NULL")
        at = DateTimeField(default=_now)
        changes = TextField(default="{}")

        class Meta:
            indexes = ((("contact", "version"), False),)

    db.create_tables([Contact, ContactPerson, NoteEntry, ContactChange])
    db.execute_sql("CREATE INDEX contact_active_sort ON contact (active, sort_name, id)")
    db.execute_sql("CREATE INDEX contact_sort ON contact (sort_name, id)")

    if db.__class__.__name__.endswith("SqliteDatabase"):
        db.execute_sql("CREATE VIRTUAL TABLE contact_fts USING fts5(search_text, "
                       "content='contact', content_rowid='id', tokenize='trigram')")
        db.execute_sql("CREATE TRIGGER contact_fts_insert AFTER INSERT ON contact BEGIN "
                       "INSERT INTO contact_fts(rowid, search_text) "
                       "VALUES (new.id, new.search_text); END")
        db.execute_sql("CREATE TRIGGER contact_fts_delete AFTER DELETE ON contact BEGIN "
                       "INSERT INTO contact_fts(contact_fts, rowid, search_text) "
                       "VALUES ('delete', old.id, old.search_text); END")
        db.execute_sql("CREATE TRIGGER contact_fts_update AFTER UPDATE OF search_text ON contact "
                       "BEGIN INSERT INTO contact_fts(contact_fts, rowid, search_text) "
                       "VALUES ('delete', old.id, old.search_text); "
                       "INSERT INTO contact_fts(rowid, search_text) "
                       "VALUES (new.id, new.search_text); END")
    else:
        db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        db.execute_sql("CREATE INDEX contact_search_trgm ON contact "
                       "USING gin (search_text gin_trgm_ops)")
