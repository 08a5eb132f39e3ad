"""A failed contact import also takes back its updates (issue 10 item 1, all or nothing): the
change history row of every contact an import updated carries the import's id
(`contact_change.contact_import_id`, indexed), so that `kontor.contact_import.undo` finds the
values those contacts had before and puts them back, also after the process died."""


def up(migrator, db):
    # a nullable column with no default: SQLite adds it without rewriting the table
    db.execute_sql("ALTER TABLE contact_change ADD COLUMN contact_import_id INTEGER "
                   "REFERENCES contact_import (id) ON DELETE SET NULL")
    db.execute_sql("CREATE INDEX contact_change_contact_import_id "
                   "ON contact_change (contact_import_id)")
