"""Contact imports in short batches (issue 10 item 1): a `contact_import` row per import (who,
how far, how it ended) and `contact.contact_import_id` on every contact it created, indexed, so
that a failed or interrupted import is taken out whole (kontor/contact_import.py)."""
import datetime

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model


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

    class ContactImport(Base):
        user = ForeignKeyField(User, null=True, on_delete="SET NULL")
        status = CharField(max_length=10, default="running")
        total = IntegerField(default=0)
        done = IntegerField(default=0)
        failure = CharField(max_length=40, default="")
        detail = CharField(max_length=200, default="")
        started_at = DateTimeField(default=_now)
        updated_at = DateTimeField(default=_now)
        finished_at = DateTimeField(null=True)

    db.create_tables([ContactImport])
    # a nullable column with no default: SQLite adds it without rewriting the table
    db.execute_sql("ALTER TABLE contact ADD COLUMN contact_import_id INTEGER "
                   "REFERENCES contact_import (id) ON DELETE SET NULL")
    db.execute_sql("CREATE INDEX contact_contact_import_id ON contact (contact_import_id)")
