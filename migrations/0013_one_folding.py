"""One folding for every search (issue 11 item 8): employees and support cases get folded
search columns as contacts have (`employee.search_text` and `employee.sort_name`,
`support_case.search_text`), and every stored folded column is computed again with today's
`kontor.text.fold`, which now also makes ’ ‘ ʼ ´ ` the keyboard's apostrophe. Each row is
folded in Python, by the same functions that keep the columns in step on every save, so the
stored side and the query side fold alike on SQLite and PostgreSQL."""
from kontor.contacts.register import derived_fields as contact_fields
from kontor.employees import derived_fields as employee_fields
from kontor.text import search_text

BATCH = 1000


def _write(db, table, columns, rows):
    """UPDATE `table` SET `columns` from `rows` ((id, value, ...) tuples), a batch at a time
    as one UPDATE ... FROM (VALUES ...)."""
    names = ", ".join(columns)
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        values = ", ".join(["(" + ", ".join([db.param] * (len(columns) + 1)) + ")"] * len(batch))
        db.execute_sql(f"WITH v(id, {names}) AS (VALUES {values}) "
                       f"UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.id",
                       [item for row in batch for item in row])


def up(migrator, db):
    db.execute_sql("ALTER TABLE employee ADD COLUMN search_text TEXT NOT NULL DEFAULT ''")
    db.execute_sql("ALTER TABLE employee ADD COLUMN sort_name VARCHAR(200) NOT NULL DEFAULT ''")
    db.execute_sql("CREATE INDEX employee_sort_name_id ON employee (sort_name, id)")
    db.execute_sql("ALTER TABLE support_case ADD COLUMN search_text TEXT NOT NULL DEFAULT ''")

    employees = db.execute_sql("SELECT id, name, email, phone, mobile, title, department "
                               "FROM employee").fetchall()
    rows = []
    for employee_id, *fields in employees:
        derived = employee_fields(dict(zip(("name", "email", "phone", "mobile", "title",
                                            "department"), fields, strict=True)))
        rows.append((employee_id, derived["search_text"], derived["sort_name"]))
    _write(db, "employee", ("search_text", "sort_name"), rows)

    cases = db.execute_sql("SELECT id, subject FROM support_case").fetchall()
    _write(db, "support_case", ("search_text",),
           [(case_id, search_text(subject)) for case_id, subject in cases])

    # Contacts had folded columns already: write only those the new folding changes.
    columns = ("name_norm", "sort_name", "sort_city", "search_text")
    contacts = db.execute_sql(
        "SELECT id, name, customer_number, org_number, email, city, visit_city, phone, mobile, "
        "name_norm, sort_name, sort_city, search_text FROM contact").fetchall()
    rows = []
    for contact_id, *fields in contacts:
        values = dict(zip(("name", "customer_number", "org_number", "email", "city",
                           "visit_city", "phone", "mobile"), fields[:8], strict=True))
        derived = contact_fields(values)
        if tuple(derived[column] for column in columns) != tuple(fields[8:]):
            rows.append((contact_id, *(derived[column] for column in columns)))
    _write(db, "contact", columns, rows)
