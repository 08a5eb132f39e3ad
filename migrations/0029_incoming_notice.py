"""The e-mail about new website data (issue 15 item 5): a staff member's choice to get it
(`user.notify_incoming`, off by default), when the last one went (`incoming_notified_at`,
at most one an hour) and the newest queue item it covered (`incoming_notified_upto`, an
`incoming_item` id). Plain ALTER TABLE with constant defaults: SQLite adds the columns
without rebuilding the table. Depends on 0001 (users) only."""


def up(migrator, db):
    false = "0" if db.__class__.__name__.endswith("SqliteDatabase") else "FALSE"
    db.execute_sql(f'ALTER TABLE "user" ADD COLUMN notify_incoming BOOLEAN NOT NULL '
                   f"DEFAULT {false}")
    db.execute_sql('ALTER TABLE "user" ADD COLUMN incoming_notified_at TIMESTAMP')
    db.execute_sql('ALTER TABLE "user" ADD COLUMN incoming_notified_upto INTEGER NOT NULL '
                   "DEFAULT 0")
