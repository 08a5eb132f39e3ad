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
- Two generations (rows of migration 0006's `list_generation`, raised by triggers, whoever
  writes; kontor/generations.py): "case_answers", whenever an answer to "Was your question
  answered?" is added or removed or a case changes hands or goes (the satisfaction line's
  counts are kept while it stays), and "support_case", whenever a case is added or removed
  or a column that decides a search's matches or the list's order changes (a search's ids
  are kept while it and the contacts' generation stay).
"""
CASE_COLUMNS = "updated_at, status, owner_id, requester_user_id, search_text, contact_id"
CASE_BUMP = "UPDATE list_generation SET value = value + 1 WHERE name = 'support_case'"

ANSWERS = "('answered_yes', 'answered_no')"
BUMP = "UPDATE list_generation SET value = value + 1 WHERE name = 'case_answers'"


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
    db.execute_sql("INSERT INTO list_generation (name, value) VALUES ('case_answers', 1)")
    db.execute_sql("INSERT INTO list_generation (name, value) VALUES ('support_case', 1)")
    if sqlite:
        db.execute_sql(f"CREATE TRIGGER support_case_generation_insert AFTER INSERT ON "
                       f"support_case BEGIN {CASE_BUMP}; END")
        db.execute_sql(f"CREATE TRIGGER support_case_generation_delete AFTER DELETE ON "
                       f"support_case BEGIN {CASE_BUMP}; END")
        changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in CASE_COLUMNS.split(", "))
        db.execute_sql(f"CREATE TRIGGER support_case_generation_update AFTER UPDATE OF "
                       f"{CASE_COLUMNS} ON support_case WHEN {changed} BEGIN {CASE_BUMP}; END")
        db.execute_sql(f"CREATE TRIGGER case_answers_insert AFTER INSERT ON case_event "
                       f"WHEN new.action IN {ANSWERS} BEGIN {BUMP}; END")
        db.execute_sql(f"CREATE TRIGGER case_answers_delete AFTER DELETE ON case_event "
                       f"WHEN old.action IN {ANSWERS} BEGIN {BUMP}; END")
        db.execute_sql(f"CREATE TRIGGER case_answers_update AFTER UPDATE OF action, case_id "
                       f"ON case_event BEGIN {BUMP}; END")
        db.execute_sql(f"CREATE TRIGGER case_answers_hands AFTER UPDATE OF owner_id, "
                       f"requester_user_id ON support_case WHEN old.owner_id IS NOT new.owner_id "
                       f"OR old.requester_user_id IS NOT new.requester_user_id BEGIN {BUMP}; END")
        db.execute_sql(f"CREATE TRIGGER case_answers_gone AFTER DELETE ON support_case "
                       f"BEGIN {BUMP}; END")
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
        # statement triggers, as migration 0006's: a bulk write raises it once
        db.execute_sql("CREATE FUNCTION case_answers_bump() RETURNS trigger "
                       f"LANGUAGE plpgsql AS $$ BEGIN {BUMP}; RETURN NULL; END $$")
        db.execute_sql("CREATE TRIGGER case_answers_events AFTER INSERT OR DELETE OR UPDATE "
                       "OF action, case_id ON case_event FOR EACH STATEMENT "
                       "EXECUTE FUNCTION case_answers_bump()")
        db.execute_sql("CREATE TRIGGER case_answers_cases AFTER DELETE OR UPDATE OF owner_id, "
                       "requester_user_id ON support_case FOR EACH STATEMENT "
                       "EXECUTE FUNCTION case_answers_bump()")
        db.execute_sql("CREATE TRIGGER case_answers_truncate AFTER TRUNCATE ON case_event "
                       "FOR EACH STATEMENT EXECUTE FUNCTION case_answers_bump()")
        db.execute_sql("CREATE FUNCTION support_case_generation_bump() RETURNS trigger "
                       f"LANGUAGE plpgsql AS $$ BEGIN {CASE_BUMP}; RETURN NULL; END $$")
        db.execute_sql("CREATE TRIGGER support_case_generation AFTER INSERT OR DELETE OR "
                       f"UPDATE OF {CASE_COLUMNS} ON support_case FOR EACH STATEMENT "
                       "EXECUTE FUNCTION support_case_generation_bump()")
        db.execute_sql("CREATE TRIGGER support_case_generation_truncate AFTER TRUNCATE ON "
                       "support_case FOR EACH STATEMENT "
                       "EXECUTE FUNCTION support_case_generation_bump()")
        db.execute_sql("CREATE INDEX support_case_search_trgm ON support_case "
                       "USING gin (search_text gin_trgm_ops)")
