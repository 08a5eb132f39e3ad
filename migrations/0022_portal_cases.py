"""Support cases for portal customers (issue 14 item 6):

- `website.customer_cases`: the superuser lets the customers of a website open support cases
  from its portal (off by default); `website.case_owner_id`: the staff user who owns the cases
  opened there (none: the case waits unowned in "All");
- `support_case.customer_visible`: staff show a case they opened themselves to the customer
  (a case opened from the portal is always shown to its contact's customers); with an index of
  the customer's case list, (contact_id, updated_at, id);
- `case_message.author_account_id` and `case_event.web_account_id`: a message or history line
  of a customer (their web account), where staff have `author_id` / `user_id`.

Nullable columns and constant defaults only, added by plain ALTER TABLE: SQLite adds them
without rebuilding the tables (a rebuild, as peewee's migrator makes for a NOT NULL column,
would drop the triggers that keep the case search's full-text index in step, migration 0016).
Depends on 0018 (web accounts) only; it does not touch what 0020 or 0021 add.
"""


def up(migrator, db):
    false = "0" if db.__class__.__name__.endswith("SqliteDatabase") else "FALSE"
    for table, column in (("website", "customer_cases"), ("support_case", "customer_visible")):
        db.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column} BOOLEAN NOT NULL "
                       f"DEFAULT {false}")
    db.execute_sql('ALTER TABLE website ADD COLUMN case_owner_id INTEGER '
                   'REFERENCES "user" (id) ON DELETE SET NULL')
    db.execute_sql("CREATE INDEX support_case_contact_id_updated_at_id "
                   "ON support_case (contact_id, updated_at, id)")
    db.execute_sql("ALTER TABLE case_message ADD COLUMN author_account_id INTEGER "
                   "REFERENCES web_account (id) ON DELETE SET NULL")
    db.execute_sql("ALTER TABLE case_event ADD COLUMN web_account_id INTEGER "
                   "REFERENCES web_account (id) ON DELETE SET NULL")
