"""Fetch website data at scale (issue 15, "Speed"): the queue page without sorting the whole
queue, and its match statuses kept while nothing they depend on changes.

- `incoming_item_queue`: the unprocessed items of a kind in the queue's order (received_at,
  id), a partial index of the unprocessed ones only: a page of a tab reads its rows in order
  (one range of the index per kind) instead of sorting every unprocessed item, and the counts
  per kind read the index alone. `web_account_awaiting`: the accounts awaiting approval (the
  staff navigation's count, on every staff page), likewise from the index alone.
- The generation "matching" (a row of migration 0006's `list_generation`, raised by triggers
  in the writing transaction, whoever writes; kontor/generations.py): whenever a change could
  alter an item's match status or what the queue shows of its match: a contact or a contact
  person added or removed, a matching key of theirs (kontor/matching.py, migration 0024), a
  contact's name, kind, e-mail or customer number, a person's e-mail or contact; a web
  account's e-mail or contact (a registration's e-mail is its account's, a linked account is
  a match); the company's country (phone numbers are read for it). kontor/incoming.py keeps
  the queue page's match statuses while it stays.

Depends on 0006 (list_generation) and 0024 (the matching keys)."""

BUMP = "UPDATE list_generation SET value = value + 1 WHERE name = 'matching'"

# table -> the columns whose change can change a match (an insert or a delete always can)
WATCHED = {
    "contact": ("name", "kind", "customer_number", "email", "name_norm", "org_key", "vat_key",
                "phone_key", "mobile_key", "address_key"),
    "contact_person": ("contact_id", "email", "name_key", "phone_key", "mobile_key"),
    "web_account": ("email", "contact_id"),
    "company": ("country",),
}


def up(migrator, db):
    sqlite = db.__class__.__name__.endswith("SqliteDatabase")
    db.execute_sql("CREATE INDEX incoming_item_queue ON incoming_item (kind, received_at, id) "
                   "WHERE status = 'unprocessed'")
    # the staff navigation's count of accounts awaiting approval, on every staff page: the
    # index alone answers it (kontor/web_accounts.py awaiting_counts)
    db.execute_sql("CREATE INDEX web_account_awaiting ON web_account (website_id) "
                   "WHERE status = 'pending' AND email_confirmed_at IS NOT NULL "
                   "AND closed_at IS NULL")
    db.execute_sql("INSERT INTO list_generation (name, value) VALUES ('matching', 1)")
    if not sqlite:
        db.execute_sql("CREATE FUNCTION matching_generation_bump() RETURNS trigger "
                       f"LANGUAGE plpgsql AS $$ BEGIN {BUMP}; RETURN NULL; END $$")
    for table, columns in WATCHED.items():
        quoted = f'"{table}"'
        if sqlite:
            # row triggers (SQLite has no others); an update fires only if a column changed
            db.execute_sql(f"CREATE TRIGGER {table}_matching_insert AFTER INSERT ON {quoted} "
                           f"BEGIN {BUMP}; END")
            db.execute_sql(f"CREATE TRIGGER {table}_matching_delete AFTER DELETE ON {quoted} "
                           f"BEGIN {BUMP}; END")
            changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in columns)
            db.execute_sql(f"CREATE TRIGGER {table}_matching_update AFTER UPDATE OF "
                           f"{', '.join(columns)} ON {quoted} WHEN {changed} "
                           f"BEGIN {BUMP}; END")
        else:
            # statement-level: a bulk write (the sync, an import) raises it once
            db.execute_sql(f"CREATE TRIGGER {table}_matching AFTER INSERT OR DELETE OR UPDATE "
                           f"OF {', '.join(columns)} ON {quoted} FOR EACH STATEMENT "
                           "EXECUTE FUNCTION matching_generation_bump()")
            db.execute_sql(f"CREATE TRIGGER {table}_matching_truncate AFTER TRUNCATE ON "
                           f"{quoted} FOR EACH STATEMENT "
                           "EXECUTE FUNCTION matching_generation_bump()")
