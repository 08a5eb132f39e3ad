"""Versioned schema migrations: the numbered scripts in `migrations/`, applied in order.

Called by the serving entry point (`python app.py`) and by `flask --app app migrate`, never by
`create_app`, so that importing or testing the app never changes a database behind its back.
"""
from pathlib import Path

from playhouse.migrations import Runner

from kontor import maintenance

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def runner(database):
    return Runner(database, directory=str(MIGRATIONS_DIR), table_name="schema_migration")


def upgrade(database, target=None):
    """Apply every pending migration (or up to `target`); return the names applied. When any
    was applied, the planner's statistics of every table are taken afresh (a migration may
    add an index or rewrite a table; issue 12 item 28, kontor/maintenance.py)."""
    with database.connection_context():
        applied = runner(database).up(target)
        if applied:
            maintenance.refresh_statistics(everything=True, database=database)
        return applied


def pending(database):
    with database.connection_context():
        return [m.name for m in runner(database).status() if not m.applied and m.path]
