"""Sync administration (issue 17 items 2-4 and 6): on `sync_state` when the sync was
deactivated (`deactivated_at`; the owner stays recorded, since only they may reactivate) and
the last takeover of the sync by another computer (`taken_over_from`, the node that stopped
renewing its lease, and `taken_over_at`); and `alert_sent`, when an alert e-mail of each kind
last went out (at most one per kind per hour). Depends on 0025 (the sync) only."""
import datetime

from peewee import CharField, DateTimeField, Model


def _now():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("sync_state", "deactivated_at", DateTimeField(null=True)),
        migrator.add_column("sync_state", "taken_over_from",
                            CharField(max_length=120, default="")),
        migrator.add_column("sync_state", "taken_over_at", DateTimeField(null=True)),
    )

    class AlertSent(Model):
        kind = CharField(max_length=50, primary_key=True)
        sent_at = DateTimeField(default=_now)

        class Meta:
            database = db
            table_name = "alert_sent"

    db.create_tables([AlertSent])
