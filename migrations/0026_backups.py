"""Backups, restores and alerts (issue 17 items 5-6): `backup_setting` (one row: the backup
folder a superuser chose, and how the last nightly backup went), `alert_sent` (when an alert of
each kind last went out, for the at-most-once-an-hour rule) and `sync_state.restored_at` (when
a restore put the sync out of action: it must be reactivated). Depends on 0025."""
import datetime

from peewee import CharField, DateTimeField, IntegerField, Model, TextField


def _now():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class BackupSetting(Base):
        folder = CharField(max_length=500, default="")
        last_nightly_at = DateTimeField(null=True)
        last_nightly_file = CharField(max_length=200, default="")
        last_error = TextField(default="")
        last_error_at = DateTimeField(null=True)
        version = IntegerField(default=1)
        updated_at = DateTimeField(default=_now)

    class AlertSent(Base):
        kind = CharField(max_length=50, unique=True)
        last_sent_at = DateTimeField(default=_now)
        held_back = IntegerField(default=0)

    db.create_tables([BackupSetting, AlertSent])
    # a nullable column with no default: SQLite adds it without rewriting the table
    db.execute_sql("ALTER TABLE sync_state ADD COLUMN restored_at TIMESTAMP")
