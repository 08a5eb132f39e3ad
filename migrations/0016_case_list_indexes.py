"""The support case list at scale (issue 12 item 26): indexes in the list's own order, so that a
page of 20,000 cases is read from an index instead of sorting every case, and a search index
for the cases' subjects like the contacts' (migration 0004).

- `support_case (updated_at, id)`, and the same after `owner_id` (My cases), `status` (the
  status filter; it replaces `(status, updated_at)`), `owner_id, status` (both; it replaces
  `(owner_id, status)`) and `requester_user_id` (the cases a staff member asked, when staff
  see only their own): the list's order is `updated_at DESC, id DESC`.
- `case_event (action, case_id)`: the "answered to satisfaction" count reads only the
  answers, not the whole history.
- The subject's folded text (`support_case.search_text`): an FTS5 trigram table kept in step
  by triggers on SQLite, a pg_trgm GIN index on PostgreSQL; both find `%term%` for a term of
  three characters or more (kontor/support.py).
"""


def up(migrator, db):
    sqlite = db.__class__.__name__.endswith("SqliteDatabase")
    order = "updated_at, id"
    db.execute_sql(f"CREATE INDEX support_case_updated ON support_case ({order})")
    db.execute_sql(f"CREATE INDEX support_case_owner_updated ON support_case (owner_id, {order})")
    db.execute_sql("CREATE INDEX support_case_owner_status_updated ON support_case "
                   f"(owner_id, status, {order})")
    db.execute_sql(f"CREATE INDEX support_case_status_updated ON support_case (status, {order})")
    db.execute_sql("CREATE INDEX support_case_requester_updated ON support_case "
                   f"(requester_user_id, {order})")
    db.execute_sql("DROP INDEX support_case_status_updated_at")
    db.execute_sql("DROP INDEX support_case_owner_id_status")
    db.execute_sql("CREATE INDEX case_event_action_case ON case_event (action, case_id)")
    if sqlite:
        db.execute_sql("CREATE VIRTUAL TABLE support_case_fts USING fts5(search_text, "
                       "content='support_case', content_rowid='id', tokenize='trigram')")
        db.execute_sql("INSERT INTO support_case_fts(support_case_fts) VALUES ('rebuild')")
        db.execute_sql("CREATE TRIGGER support_case_fts_insert AFTER INSERT ON support_case "
                       "BEGIN INSERT INTO support_case_fts(rowid, search_text) "
                       "VALUES (new.id, new.search_text); END")
        db.execute_sql("CREATE TRIGGER support_case_fts_delete AFTER DELETE ON support_case "
                       "BEGIN INSERT INTO support_case_fts(support_case_fts, rowid, search_text) "
                       "VALUES ('delete', old.id, old.search_text); END")
        db.execute_sql("CREATE TRIGGER support_case_fts_update AFTER UPDATE OF search_text "
                       "ON support_case BEGIN "
                       "INSERT INTO support_case_fts(support_case_fts, rowid, search_text) "
                       "VALUES ('delete', old.id, old.search_text); "
                       "INSERT INTO support_case_fts(rowid, search_text) "
                       "VALUES (new.id, new.search_text); END")
    else:
        db.execute_sql("CREATE INDEX support_case_search_trgm ON support_case "
                       "USING gin (search_text gin_trgm_ops)")
