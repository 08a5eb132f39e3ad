"""The query planner's statistics come from Kontor itself (issue 12 item 28): after migrations,
after a large contact import and from a scheduled job, not only in the benchmark; on SQLite
the case list then uses the index it was built for."""
from datetime import timedelta
from types import SimpleNamespace

import pytest
from helpers import ON_POSTGRES
from support_helpers import category, customer, type_of_request

from kontor import config, contact_import, contact_io, jobs, maintenance, migrate
from models import Contact, JobLease, SupportCase, User, db, open_database
from models.clock import utcnow

MIGRATION_FILES = sorted(p.stem for p in migrate.MIGRATIONS_DIR.glob("[0-9]*.py"))


def analysed_tables():
    """The tables the planner has statistics of: sqlite_stat1 on SQLite; on PostgreSQL those
    analysed by hand or by autovacuum."""
    if not ON_POSTGRES:
        if not db.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
                              ).fetchone():
            return set()
        return {table for (table,) in db.execute_sql("SELECT tbl FROM sqlite_stat1")}
    return {table for (table,) in db.execute_sql(
        "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
        "AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)")}


def forget_statistics():
    """A database as an older Kontor left it: no statistics."""
    if not ON_POSTGRES:
        if db.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            db.execute_sql("DELETE FROM sqlite_stat1")
            db.execute_sql("ANALYZE sqlite_master")   # the planner rereads the (empty) table
        return
    db.execute_sql("SELECT pg_stat_reset()")


def as_older_kontor(model, **values):
    """Insert a row of `model` with only the columns the database has (one an older Kontor
    migrated), the model's defaults for the rest of them; returns its id."""
    table = model._meta.table_name
    present = {column.name for column in db.get_columns(table)}
    row = {}
    for field in model._meta.sorted_fields:
        if field.column_name not in present or field.name == "id":
            continue
        default = field.default() if callable(field.default) else field.default
        row[field.column_name] = field.db_value(values.get(field.name, default))
    names = ", ".join(f'"{name}"' for name in row)
    marks = ", ".join([db.param] * len(row))
    db.execute_sql(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', list(row.values()))
    return db.execute_sql(f'SELECT MAX(id) FROM "{table}"').fetchone()[0]


def some_cases(count, owner, contact=None):
    """`count` cases for one customer, most of them closed, written in bulk with the columns
    every Kontor since migration 0016 has (plain SQL, as an older Kontor wrote them: the
    model's defaults would name columns a later migration adds)."""
    contact = contact or customer()
    now = utcnow()
    columns = ("year", "seq", "contact_id", "subject", "search_text", "owner_id",
               "requester_user_id", "status", "satisfied", "tech_info", "created_at",
               "updated_at", "version")
    marks = ", ".join([db.obj.param] * len(columns))
    for i in range(count):
        db.execute_sql(f"INSERT INTO support_case ({', '.join(columns)}) VALUES ({marks})", (
            2026, i + 1, contact.id, f"Case {i}", f"case {i}", owner.id, owner.id,
            "closed" if i % 10 else "open", None, "", now - timedelta(hours=i),
            now - timedelta(hours=i), 1))


@pytest.mark.empty_database
def test_migrating_a_database_with_data_gathers_statistics(app_config):
    database = open_database(app_config["DATABASE_URL"])
    migrate.upgrade(database, MIGRATION_FILES[-2])       # the database of an older Kontor
    with db.connection_context():
        owner = SimpleNamespace(id=as_older_kontor(User, email="anna@jansen.example",
                                                   password_hash="x"))
        contact = as_older_kontor(Contact, customer_number=10001,
                                  name="Bakkerij De Korenschoof")
        some_cases(30, owner, SimpleNamespace(id=contact))
        forget_statistics()
        assert not {"contact", "support_case"} & analysed_tables()
    migrate.upgrade(database)                             # the newer Kontor starts
    with db.connection_context():
        assert {"contact", "support_case", "user"} <= analysed_tables()
    db.close()
    if hasattr(database, "close_all"):
        database.close_all()


def test_a_large_contact_import_refreshes_the_statistics(app, superuser, monkeypatch):
    monkeypatch.setattr(contact_import, "LARGE_IMPORT", 20)
    monkeypatch.setattr(config, "CSV_IMPORT_PAUSE_SECONDS", 0)
    forget_statistics()
    assert "contact" not in analysed_tables()
    preview = contact_io.parse(("Name\n" + "".join(f"Firma {i:03d}\n" for i in range(25))
                                ).encode())
    record = contact_import.start(preview, user=superuser.id)
    assert contact_import.run(record.id, preview, user=superuser.id) == 25
    assert "contact" in analysed_tables()


def test_a_small_import_leaves_the_statistics_to_the_job(app, superuser, monkeypatch):
    monkeypatch.setattr(contact_import, "LARGE_IMPORT", 20)
    forget_statistics()
    preview = contact_io.parse(b"Name\nFirma 1\nFirma 2\n")
    record = contact_import.start(preview, user=superuser.id)
    assert contact_import.run(record.id, preview, user=superuser.id) == 2
    assert "contact" not in analysed_tables()


def test_the_statistics_job_runs_hourly_once_through_its_lease(app, superuser):
    work, every = jobs.JOBS["refresh_statistics"]
    assert every == 3600
    some_cases(30, superuser)
    forget_statistics()
    assert jobs.run_job("refresh_statistics", work, app.config, holder="pc-office")
    assert {"support_case", "user"} <= analysed_tables()
    assert JobLease.get_by_id("refresh_statistics").last_run_at is not None
    # another process finds the lease taken and leaves the work to its holder
    assert not jobs.run_job("refresh_statistics", work, app.config, holder="pc-reception")


def test_fresh_statistics_are_left_alone(app, superuser):
    some_cases(30, superuser)
    forget_statistics()
    assert "support_case" in maintenance.refresh_statistics()
    if not ON_POSTGRES:     # PostgreSQL's counters reach the statistics views a moment later
        assert "support_case" not in maintenance.refresh_statistics()


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's statistics tables")
def test_a_table_that_grew_is_analysed_again(app, superuser):
    some_cases(5, superuser)
    maintenance.refresh_statistics(everything=True)
    contact = customer("Another customer")
    now = utcnow()
    SupportCase.insert_many([dict(
        year=2027, seq=i + 1, contact=contact.id, subject="More", search_text="more",
        owner=superuser.id, status="open", created_at=now, updated_at=now)
        for i in range(5 * maintenance.STALE_FACTOR)]).execute()
    assert "support_case" in maintenance.refresh_statistics()


def test_after_a_migration_even_the_small_lists_are_analysed(app):
    category("Invoicing")
    type_of_request("Question")
    maintenance.refresh_statistics(everything=True)
    assert {"case_category", "case_type"} <= analysed_tables()
