"""Keeping the query planner's statistics fresh (issue 12 item 28; SPEC section 11, scale).

A plan is only as good as the statistics it was costed with. Without them SQLite guesses
(about a million rows a table, ten rows an equal value) and walks a whole sort index where a
narrow one would do; PostgreSQL estimates from a table's size alone. Kontor therefore keeps
them itself, the way each database recommends, instead of leaving it to a benchmark:

- SQLite (https://sqlite.org/lang_analyze.html): `ANALYZE` of each table whose statistics
  are missing, or whose row count doubled or halved (STALE_FACTOR) since they were taken,
  then `PRAGMA optimize`. SQLite before 3.46 has `PRAGMA optimize` look only at the tables
  the same connection has queried, so a job's new connection would never analyse anything;
  hence the check here. Each table is analysed in a transaction of its own and in full up to
  FULL_ANALYSIS_ROWS rows (measured: 140 ms for 300,000 note entries, 110 ms for 100,000
  contacts), with `PRAGMA analysis_limit=400`, as SQLite's page suggests, only beyond: the
  limited analysis estimates a column of few values as if it were selective (the contact
  list's `active` column as 401 rows a value instead of 100,000), which misleads the planner.
- PostgreSQL: autovacuum does it normally; after a bulk change Kontor does not wait for it,
  and runs `VACUUM (ANALYZE)` (or, inside a transaction, `ANALYZE`) on each table autovacuum
  would pick: never analysed, or changed in more rows than its default threshold (50 rows
  and 10 % of the table) since.

`refresh_statistics` is run after migrations (kontor/migrate.py), after a contact import
(kontor/contact_import.py), on start and every hour by the job "refresh_statistics"
(kontor/jobs.py).
"""
import logging

from models import db, is_sqlite

log = logging.getLogger("kontor.maintenance")

ANALYSIS_LIMIT = 400     # rows per index SQLite's ANALYZE of a huge table looks at (its docs)
FULL_ANALYSIS_ROWS = 1_000_000     # up to this many rows a table is analysed in full
STALE_FACTOR = 2         # a table whose row count moved by this factor is analysed again
PG_THRESHOLD, PG_SCALE = 50, 0.1     # autovacuum_analyze_threshold / _scale_factor defaults


def refresh_statistics(tables=(), everything=False, database=None) -> list:
    """Bring the planner's statistics up to date where they are missing or stale, and of
    `tables` (names of tables a bulk change just wrote) in any case; with `everything`, of
    every table (after a migration). `database` is
    Kontor's database (default the bound `db`), connected. Returns the names of the tables
    analysed. Short on both databases (SQLite's ANALYZE is limited to ANALYSIS_LIMIT rows
    an index), so it may run while others work. Rule: issue 12 item 28."""
    database = database or db
    sqlite = is_sqlite() if database is db else database.__class__.__name__.endswith(
        "SqliteDatabase")
    refresh = _refresh_sqlite if sqlite else _refresh_postgres
    analysed = refresh(database, set(tables), everything)
    if analysed:
        log.info("refreshed the planner's statistics of %s", ", ".join(analysed))
    return analysed


def _sqlite_tables(database):
    """Kontor's ordinary tables (no virtual tables, no SQLite internals)."""
    return [name for (name,) in database.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name").fetchall()]


def _sqlite_counts(database, tables):
    """{table: (rows now, rows when last analysed or None)}."""
    has_stats = database.execute_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
    known = {}
    if has_stats:
        for table, stat in database.execute_sql("SELECT tbl, stat FROM sqlite_stat1").fetchall():
            known[table] = int((stat or "0").split()[0] or 0)
    return {table: (database.execute_sql(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0],
                    known.get(table)) for table in tables}


def _refresh_sqlite(database, named, everything):
    counts = _sqlite_counts(database, _sqlite_tables(database))
    chosen = [table for table, (rows, known) in counts.items()
              if everything or table in named or
              (rows and (not known or max(rows, known) >= STALE_FACTOR * min(rows, known)))]
    try:
        for table in chosen:
            limit = ANALYSIS_LIMIT if counts[table][0] > FULL_ANALYSIS_ROWS else 0
            database.execute_sql(f"PRAGMA analysis_limit={limit}")
            database.execute_sql(f'ANALYZE "{table}"')
        # SQLite's own check too: from 3.46 on, 0x10000 looks at every table
        database.execute_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        database.execute_sql("PRAGMA optimize=0x10002")
    finally:
        database.execute_sql("PRAGMA analysis_limit=0")   # the connection goes back to the pool
    return chosen


def _refresh_postgres(database, named, everything):
    # reltuples < 0: never vacuumed nor analysed (PostgreSQL 14 on); the counters of changes
    # reach pg_stat_user_tables a moment after each transaction (not at once)
    rows = database.execute_sql(
        "SELECT s.relname, GREATEST(s.n_live_tup, c.reltuples), s.n_mod_since_analyze, "
        "c.reltuples < 0 OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL) "
        "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
        "WHERE s.schemaname = current_schema() ORDER BY s.relname").fetchall()
    chosen = [name for name, live, changed, never in rows
              if everything or name in named or changed > PG_THRESHOLD + PG_SCALE * live or
              (never and database.execute_sql(f'SELECT EXISTS (SELECT 1 FROM "{name}")'
                                              ).fetchone()[0])]
    vacuum = not database.in_transaction()     # VACUUM cannot run inside a transaction
    for table in chosen:
        database.execute_sql(f'VACUUM (ANALYZE) "{table}"' if vacuum else f'ANALYZE "{table}"')
    return chosen
