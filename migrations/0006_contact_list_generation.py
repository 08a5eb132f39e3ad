"""A generation number for the contact list: raised by the database itself whenever a change
could alter which contacts a search finds or their order (a contact added or removed; its
search text, active flag, sort name, city or customer number changed).

kontor/contacts.py keeps the ordered ids of recent searches in memory and uses them only
while the generation is unchanged. Triggers, not application code, raise it, so every writer
(this process, another one, the sync job, a bulk import, psql) invalidates every process's
lists. The counter is an ordinary row: it moves only when the writing transaction commits.
"""

LIST_COLUMNS = "search_text, active, sort_name, city, customer_number"


def up(migrator, db):
    db.execute_sql("CREATE TABLE list_generation (name VARCHAR(40) NOT NULL PRIMARY KEY, "
                   "value BIGINT NOT NULL)")
    db.execute_sql("INSERT INTO list_generation (name, value) VALUES ('contact', 1)")
    bump = "UPDATE list_generation SET value = value + 1 WHERE name = 'contact'"
    if db.__class__.__name__.endswith("SqliteDatabase"):
        # row triggers (SQLite has no others); an update fires only if a listed column changed
        db.execute_sql(f"CREATE TRIGGER contact_generation_insert AFTER INSERT ON contact "
                       f"BEGIN {bump}; END")
        db.execute_sql(f"CREATE TRIGGER contact_generation_delete AFTER DELETE ON contact "
                       f"BEGIN {bump}; END")
        changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in LIST_COLUMNS.split(", "))
        db.execute_sql(f"CREATE TRIGGER contact_generation_update AFTER UPDATE OF {LIST_COLUMNS} "
                       f"ON contact WHEN {changed} BEGIN {bump}; END")
    else:
        # one statement-level trigger: a bulk write by the sync job raises it once
        db.execute_sql("CREATE FUNCTION contact_generation_bump() RETURNS trigger "
                       f"LANGUAGE plpgsql AS $$ BEGIN {bump}; RETURN NULL; END $$")
        db.execute_sql(f"CREATE TRIGGER contact_generation AFTER INSERT OR DELETE OR UPDATE OF "
                       f"{LIST_COLUMNS} ON contact FOR EACH STATEMENT "
                       "EXECUTE FUNCTION contact_generation_bump()")
        db.execute_sql("CREATE TRIGGER contact_generation_truncate AFTER TRUNCATE ON contact "
                       "FOR EACH STATEMENT EXECUTE FUNCTION contact_generation_bump()")

