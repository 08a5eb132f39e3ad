"""The first sync's progress (issue 17 item 1): `sync_first_progress`, one row per synced
table ("employees", "contacts", "contact_persons", "note_entries") with its records to sync
(`total`) and done, when the first sync started, and when this run of it started (`resumed_at`,
with what was done by then, `done_at_resume`, for the estimate of the time left), so that the
progress page survives a restart of Kontor. Depends on 0001 only."""
import datetime

from peewee import CharField, DateTimeField, IntegerField, Model


def _now():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class SyncFirstProgress(Base):
        entity = CharField(max_length=20, unique=True)
        total = IntegerField(default=0)
        done = IntegerField(default=0)
        done_at_resume = IntegerField(default=0)
        started_at = DateTimeField(default=_now)
        resumed_at = DateTimeField(default=_now)
        updated_at = DateTimeField(default=_now)
        finished_at = DateTimeField(null=True)

    db.create_tables([SyncFirstProgress])
