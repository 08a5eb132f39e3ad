"""Sync administration (issue 17 items 2-4 and 6): on `sync_state` when the sync was
deactivated (`deactivated_at`; the owner stays recorded, since only they may reactivate) and
the last takeover of the sync by another computer (`taken_over_from`, the node that stopped
renewing its lease, and `taken_over_at`). The alerts' `alert_sent` table is made by 0026.
Depends on 0025 (the sync) only."""
from peewee import CharField, DateTimeField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("sync_state", "deactivated_at", DateTimeField(null=True)),
        migrator.add_column("sync_state", "taken_over_from",
                            CharField(max_length=120, default="")),
        migrator.add_column("sync_state", "taken_over_at", DateTimeField(null=True)),
    )
