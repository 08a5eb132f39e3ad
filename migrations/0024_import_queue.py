"""Fetch website data (issue 15): the matching keys of the import queue, indexed, on contacts
(`org_key`, `vat_key`, `phone_key`, `mobile_key`, `address_key`) and contact persons
(`name_key`, `phone_key`, `mobile_key`, and an index on their e-mail), indexed (a person's
keys and e-mail where they are not "": a partial index, as most persons have no phone; the
contact's keys in full, as a partial index of the contact table misled SQLite's plan of the
contact search), computed for every
existing row by the functions that keep them in step on every save (kontor/matching.py); and
on `incoming_item` the contact an item was imported into (`contact_id`, for its timeline), a
person's choices saved for "Import all" (`decision`, `confirmed_by_id`, `confirmed_at`), with
indexes for the timeline and the Processed view. Depends on 0018 (incoming items) only."""
from kontor.matching import contact_keys, person_keys

BATCH = 1000

CONTACT_KEYS = (("org_key", 30), ("vat_key", 30), ("phone_key", 20), ("mobile_key", 20),
                ("address_key", 250))
PERSON_KEYS = (("name_key", 200), ("phone_key", 20), ("mobile_key", 20))


def _write(db, table, columns, rows):
    """UPDATE `table` SET `columns` from `rows` ((id, value, ...) tuples), a batch at a time
    as one UPDATE ... FROM (VALUES ...) (as migrations/0013_one_folding.py)."""
    names = ", ".join(columns)
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        values = ", ".join(["(" + ", ".join([db.param] * (len(columns) + 1)) + ")"] * len(batch))
        db.execute_sql(f"WITH v(id, {names}) AS (VALUES {values}) "
                       f"UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.id",
                       [item for row in batch for item in row])


def _home(db):
    row = db.execute_sql("SELECT country FROM company ORDER BY id LIMIT 1").fetchone()
    return row[0] if row else ""


def up(migrator, db):
    for table, keys in (("contact", CONTACT_KEYS), ("contact_person", PERSON_KEYS)):
        for column, length in keys:
            db.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR({length}) "
                           "NOT NULL DEFAULT ''")
            # partial for persons: most have no phone; the keys alone keep the planner's
            # estimate of a look-up honest
            db.execute_sql(f"CREATE INDEX {table}_{column} ON {table} ({column})"
                           + (f" WHERE {column} <> ''" if table == "contact_person" else ""))
    db.execute_sql("CREATE INDEX contact_person_email ON contact_person (email) "
                   "WHERE email <> ''")

    home = _home(db)
    names = ("org_number", "vat_number", "phone", "mobile", "street", "postcode", "country")
    rows = []
    countries = {}
    for contact_id, *fields in db.execute_sql(
            f"SELECT id, {', '.join(names)} FROM contact").fetchall():
        values = dict(zip(names, fields, strict=True))
        countries[contact_id] = (values["country"] or "").upper()
        keys = contact_keys(values, home)
        if any(keys.values()):
            rows.append((contact_id, *(keys[column] for column, _ in CONTACT_KEYS)))
    _write(db, "contact", [column for column, _ in CONTACT_KEYS], rows)

    rows = []
    for person_id, contact_id, name, phone, mobile in db.execute_sql(
            "SELECT id, contact_id, name, phone, mobile FROM contact_person").fetchall():
        keys = person_keys({"name": name, "phone": phone, "mobile": mobile},
                           countries.get(contact_id, ""), home)
        rows.append((person_id, *(keys[column] for column, _ in PERSON_KEYS)))
    _write(db, "contact_person", [column for column, _ in PERSON_KEYS], rows)

    # nullable columns without a default: SQLite adds them without rewriting the table
    db.execute_sql("ALTER TABLE incoming_item ADD COLUMN contact_id INTEGER "
                   "REFERENCES contact (id) ON DELETE SET NULL")
    db.execute_sql("ALTER TABLE incoming_item ADD COLUMN decision TEXT NOT NULL DEFAULT ''")
    db.execute_sql('ALTER TABLE incoming_item ADD COLUMN confirmed_by_id INTEGER '
                   'REFERENCES "user" (id) ON DELETE SET NULL')
    db.execute_sql("ALTER TABLE incoming_item ADD COLUMN confirmed_at TIMESTAMP")
    db.execute_sql("CREATE INDEX incoming_item_contact_id_processed_at "
                   "ON incoming_item (contact_id, processed_at)")
    db.execute_sql("CREATE INDEX incoming_item_processed_at ON incoming_item (processed_at)")
