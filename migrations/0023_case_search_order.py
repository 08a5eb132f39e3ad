"""The order of a search's matches without reading the cases (issue 12 item 26): an index of
the cases' ids with their `updated_at`. The first search after a case changed finds its
matches in the trigram indexes and then puts them in the list's order (most recently changed
first); for that it read each matching case's row by id (1,352 rows for "uberweisung" on
bench/support.py's 20,000 cases), and now reads the pairs from this index: on SQLite about
half the time, and on PostgreSQL an index-only scan."""


def up(migrator, db):
    db.execute_sql("CREATE INDEX support_case_id_updated ON support_case (id, updated_at)")
