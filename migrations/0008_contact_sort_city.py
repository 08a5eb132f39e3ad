"""Sorting by city ignores case and accents, as sorting by name does: `contact.sort_city` holds
the folded city (kontor/contacts.py keeps it in step), indexed for the list's city order."""
from kontor.text import fold


def up(migrator, db):
    db.execute_sql("ALTER TABLE contact ADD COLUMN sort_city VARCHAR(100) NOT NULL DEFAULT ''")
    rows = db.execute_sql("SELECT id, city FROM contact WHERE city <> ''").fetchall()
    update = f"UPDATE contact SET sort_city = {db.param} WHERE id = {db.param}"
    for start in range(0, len(rows), 5000):
        db.cursor().executemany(update, [(fold(city).strip()[:100], contact_id)
                                         for contact_id, city in rows[start:start + 5000]])
    db.execute_sql("CREATE INDEX contact_active_city ON contact (active, sort_city, sort_name, id)")
