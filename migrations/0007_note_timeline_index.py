"""An index for a contact's timeline: all its note entries (its own and its persons'), newest
first. It replaces the index on `contact_id` alone, which it begins with."""


def up(migrator, db):
    db.execute_sql("CREATE INDEX note_entry_contact_created ON note_entry "
                   "(contact_id, created_at, id)")
    db.execute_sql("DROP INDEX IF EXISTS note_entry_contact_id")
