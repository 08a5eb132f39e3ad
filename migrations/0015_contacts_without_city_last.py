"""Contacts without a city sort after every city (issue 11 item 19): `contact.sort_city` is
"0" and the folded city, or "1" without one, as kontor.contacts.register.city_sort_key makes
it on every save. Each row is computed with that function and written only when it differs,
so the migration is right whether or not an earlier one (0013) already refolded the row. The
index on (active, sort_city, sort_name, id) stays."""
from kontor.contacts.register import city_sort_key

BATCH = 1000


def up(migrator, db):
    rows = [(contact_id, city_sort_key(city))
            for contact_id, city, stored in db.execute_sql(
                "SELECT id, city, sort_city FROM contact").fetchall()
            if stored != city_sort_key(city)]
    for start in range(0, len(rows), BATCH):    # one UPDATE ... FROM (VALUES ...) a batch
        batch = rows[start:start + BATCH]
        values = ", ".join([f"({db.param}, {db.param})"] * len(batch))
        db.execute_sql(f"WITH v(id, sort_city) AS (VALUES {values}) "
                       "UPDATE contact SET sort_city = v.sort_city FROM v "
                       "WHERE contact.id = v.id", [item for row in batch for item in row])
