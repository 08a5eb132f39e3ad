"""Issue 11 item 19, two parts:

- `company.staff_see_all_cases`: every staff member sees every support case, the default a
  small firm expects (SPEC section 9); off, staff see the cases they asked or own.
- `case_category.name_key` and `case_type.name_key`: the name folded (case, accents, spaces;
  kontor/support.py `list_key`) with a unique index, so "Installatie" and " installatie " cannot
  both exist, even when two superusers add them at the same moment. Names that already clash
  are renamed first, the later ones getting " (2)", " (3)" …, so that the migration cannot fail
  on an existing database and no category or type is lost (cases keep theirs by id).
"""
from peewee import BooleanField

from kontor.support import numbered_name
from kontor.text import list_key


def _unique_keys(db, table):
    db.execute_sql(f"ALTER TABLE {table} ADD COLUMN name_key VARCHAR(100) NOT NULL DEFAULT ''")
    taken = set()
    for item_id, name in db.execute_sql(f"SELECT id, name FROM {table} ORDER BY id").fetchall():
        key, number, new_name = list_key(name), 1, name
        while key in taken:
            number += 1
            new_name = numbered_name(name, number)
            key = list_key(new_name)
        taken.add(key)
        db.execute_sql(f"UPDATE {table} SET name = {db.param}, name_key = {db.param} "
                       f"WHERE id = {db.param}", (new_name, key, item_id))
    db.execute_sql(f"CREATE UNIQUE INDEX {table}_name_key ON {table} (name_key)")


def up(migrator, db):
    migrator.migrate(migrator.add_column("company", "staff_see_all_cases",
                                         BooleanField(default=True)))
    _unique_keys(db, "case_category")
    _unique_keys(db, "case_type")
