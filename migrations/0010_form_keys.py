"""One-time form keys: every form that appends something (a note entry, a message on a case,
a new case, an item of the support lists) carries a random key, and the first request that
stores with it claims it here. The unique index decides a double-click or two racing posts on
both databases: the second insert fails, and its request stores nothing."""
import datetime

from peewee import CharField, DateTimeField, IntegerField, Model


def _now():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def up(migrator, db):
    class FormKey(Model):
        key = CharField(max_length=64, unique=True)
        user_id = IntegerField(null=True)
        used_at = DateTimeField(default=_now, index=True)

        class Meta:
            database = db
            legacy_table_names = False
            table_name = "form_key"

    db.create_tables([FormKey])
