"""Saving contacts and contact persons: creating with the next customer number, editing with
optimistic locking (a version number; a save over someone else's newer one is refused with
what they changed), and the change history every save writes."""
import json
import re
from decimal import Decimal

from peewee import JOIN, IntegrityError

from kontor import form_keys
from kontor.contacts.register import (
    FIELDS,
    PERSON_FIELDS,
    derived_fields,
    get,
    next_customer_number,
)
from kontor.errors import Refused
from kontor.mail import normalise_email
from kontor.matching import home_country, person_keys
from kontor.versions import update_if_unchanged
from models import Contact, ContactChange, ContactPerson, User, db, insert_rows, with_employee
from models.clock import utcnow
from models.db import MAX_PARAMETERS, update_row
from models.db import insert_statements as db_insert_statements


class EditConflict(Refused):
    """Someone saved the contact after the editor opened it (reason "edit_conflict").
    `current` is the contact as saved now; `changes` are theirs: a list of
    (version, user, at, {field: [old, new]})."""

    def __init__(self, current, changes):
        super().__init__("edit_conflict")
        self.current = current
        self.changes = changes


def _clean(values):
    clean = {}
    for key in FIELDS:
        if key not in values:
            continue
        value = values[key]
        if isinstance(value, str):
            value = value.strip()
        if key == "email":
            value = normalise_email(value)
        if key == "discount":
            value = Decimal(str(value or 0)).quantize(Decimal("0.01"))
        if key in ("country", "visit_country"):
            value = (value or "").upper()
            value = value if re.fullmatch(r"[A-Z]{2}", value) else ""
        if value is None and key not in ("discount", "active"):
            value = ""
        clean[key] = value
    return clean


SOURCE_KEY = "_source"   # in a change's JSON: who made it when no user did ("sync")


def _history_json(changes, source=""):
    """The change-history JSON of `changes` ({field: [old, new]}), marked with `source`
    ("sync": the change came from the business database) when given."""
    return json.dumps(dict(changes, **{SOURCE_KEY: source}) if source else changes,
                      default=str)


def create(values, user=None, customer_number=None, form_key=None, source=""):
    """Create a contact from `values` (a dict of FIELDS; others are ignored) with the next
    free customer number, or `customer_number` when given; `user` (an id or None) is recorded
    as its author. Returns the new Contact. Raises IntegrityError when the number given is
    taken (or when five tries at the next free one all collided), and form_keys.AlreadySaved
    when `form_key` (the new-contact form's one-time key) was used before."""
    values = _clean(values)
    for attempt in range(5):
        try:
            with db.atomic():
                form_keys.claim(form_key, user)
                number = customer_number or next_customer_number()
                data = dict(values, customer_number=number)
                contact = Contact.create(**data, **derived_fields(data), updated_by=user)
                ContactChange.create(contact=contact, version=1, user=user,
                                     changes=_history_json({"created": [None, number]},
                                                           source))
                return contact
        except IntegrityError:
            if customer_number or attempt == 4:
                raise
    raise RuntimeError("unreachable")


def create_many(rows, user=None, contact_import=None, source=""):
    """Create many contacts at once, as `create` creates one: `rows` is a list of
    (customer number, values) with `values` a dict of FIELDS (others are ignored) and every
    number given (see kontor/contact_import.py for how they are allocated). Each contact gets
    its derived fields, `contact_import` (a ContactImport id or None) and a change-history row
    "created", like `create`; `user` (an id or None) is their author. A handful of statements
    for the whole list, no query per row (issue 10 item 1). Call it inside a transaction.
    Returns how many were created. Raises IntegrityError when a number is taken (the
    caller's transaction then rolls back)."""
    statements = insert_statements(rows, user, contact_import, source)
    run_statements(statements)
    return len(rows)


def insert_statements(rows, user=None, contact_import=None, source=""):
    """The SQL statements (a list of (sql, params)) that `create_many` runs for the same
    arguments, made without touching the database: a caller makes them before its write
    transaction, so that the transaction only runs them (issue 10 item 1: the write lock is
    held for the database's work, not for Python's).

    The contacts' multi-row INSERTs of models.db.insert_statements, then one INSERT ... SELECT
    of the change history per MAX_PARAMETERS numbers (the new contacts' ids are the
    database's)."""
    if not rows:
        return []
    now = utcnow()
    home = home_country()
    defaults = {name: Contact._meta.fields[name].default for name in FIELDS}
    data = []
    for number, values in rows:
        merged = dict(defaults, **_clean(values), customer_number=number)
        data.append(dict(merged, **derived_fields(merged, home), updated_by=user,
                         contact_import=contact_import, version=1, created_at=now,
                         updated_at=now))
    if source not in ("", "sync"):       # written into the SQL text below
        raise ValueError(f"unknown source {source!r}")
    statements = db_insert_statements(Contact, data)
    numbers = [number for number, _values in rows]
    for start in range(0, len(numbers), MAX_PARAMETERS):
        part = numbers[start:start + MAX_PARAMETERS]
        # the same JSON as json.dumps({"created": [None, number]}) in `create`
        statements.append((
            'INSERT INTO "contact_change" ("contact_id", "version", "user_id", "at", "changes") '
            f"SELECT id, 1, {db.param}, {db.param}, "
            "'{\"created\": [null, ' || CAST(customer_number AS TEXT) || ']"
            + (f', \"{SOURCE_KEY}\": \"{source}\"' if source else "") + "}' "
            f'FROM "contact" WHERE customer_number IN ({", ".join([db.param] * len(part))})',
            [ContactChange.user.db_value(user), ContactChange.at.db_value(now), *part]))
    return statements


def run_statements(statements):
    """Run the statements of `insert_statements`, in the caller's transaction."""
    for sql, params in statements:
        db.execute_sql(sql, params)


def _as_text(value):
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def update(contact_id, values, opened_version, user=None, contact_import=None, source=""):
    """Save the edited fields (a dict of FIELDS) if nobody saved since `opened_version`.
    `contact_import`: the id of the import making the change (its history row says so).

    Returns the updated contact (unchanged if nothing differed). Raises EditConflict when
    someone saved since, and Contact.DoesNotExist when there is no such contact.
    """
    values = _clean(values)
    with db.atomic():
        current = _existing(contact_id)
        if current.version != opened_version:
            raise _conflict(current, opened_version)
        changes, columns = _changed(current, values)
        if not changes:
            return current
        updated = update_row(Contact, contact_id, dict(columns, updated_at=utcnow(),
                                                       updated_by=user), opened_version)
        if not updated:   # cannot happen inside the write transaction, but never overwrite
            raise EditConflict(current, [])
        insert_rows(ContactChange, [dict(contact=contact_id, version=opened_version + 1,
                                         user=user, at=utcnow(),
                                         changes=_history_json(changes, source),
                                         contact_import=contact_import)])
    return _existing(contact_id)


def update_many(rows, user=None, source=""):
    """Save many contacts at once, each as `update` saves one (the sync, issue 16 "Speed"):
    `rows` is a list of (contact id, values, opened version). One query reads them, each
    changed contact is one UPDATE of only the columns that differ (derived ones included:
    an unchanged search text leaves the search index alone), and their change-history rows
    are one multi-row INSERT. Call it inside a transaction: when one contact was saved by
    someone else since its `opened version` it raises EditConflict, or Contact.DoesNotExist
    for one that is gone, and the caller's transaction rolls back (it may then save them
    one by one). Returns {contact id: its version now}."""
    if not rows:
        return {}
    found = {}
    ids = [contact_id for contact_id, _values, _version in rows]
    for start in range(0, len(ids), 500):
        found.update((c.id, c) for c in Contact.select().where(
            Contact.id.in_(ids[start:start + 500])))
    home = home_country()
    now = utcnow()
    history, versions = [], {}
    for contact_id, values, opened_version in rows:
        current = found.get(contact_id)
        if current is None:
            raise Contact.DoesNotExist(f"no contact {contact_id}")
        if current.version != opened_version:
            raise _conflict(current, opened_version)
        changes, columns = _changed(current, _clean(values), home)
        versions[contact_id] = current.version
        if not changes:
            continue
        if not update_row(Contact, contact_id, dict(columns, updated_at=now, updated_by=user),
                          opened_version):
            raise EditConflict(current, [])
        versions[contact_id] = opened_version + 1
        history.append(dict(contact=contact_id, version=opened_version + 1, user=user, at=now,
                            changes=_history_json(changes, source), contact_import=None))
    insert_rows(ContactChange, history)
    return versions


def _conflict(current, opened_version):
    """The EditConflict for a save over `current` opened at `opened_version`: with the
    changes saved since."""
    theirs = list(with_employee(
        ContactChange.select(ContactChange, User)
        .join(User, on=(ContactChange.user == User.id), join_type=JOIN.LEFT_OUTER))
        .where(ContactChange.contact == current.id, ContactChange.version > opened_version)
        .order_by(ContactChange.version))
    return EditConflict(current, [(c.version, c.user, c.at, _without_source(c.changes))
                                  for c in theirs])


def _without_source(text):
    """A change's {field: [old, new]} from its JSON, without the source mark."""
    changes = json.loads(text)
    changes.pop(SOURCE_KEY, None)
    return changes


def _changed(current, values, home=None):
    """What saving the cleaned `values` over the Contact `current` changes:
    ({field: [old, new]} for the history, {column: new value} of the fields and derived
    columns that differ, the only ones to write)."""
    changes = {k: [_as_text(getattr(current, k)), _as_text(v)] for k, v in values.items()
               if _as_text(getattr(current, k)) != _as_text(v)}
    if not changes:
        return changes, {}
    merged = {k: getattr(current, k) for k in FIELDS}
    merged.update(values, customer_number=current.customer_number)
    columns = {k: v for k, v in dict(values, **derived_fields(merged, home)).items()
               if getattr(current, k) != v}
    return changes, columns


def _existing(contact_id):
    """The contact, read by a prepared query (the sync updates hundreds in a row); raises
    Contact.DoesNotExist."""
    found = get(contact_id)
    if found is None:
        raise Contact.DoesNotExist(f"no contact {contact_id}")
    return found


def add_persons(rows):
    """Add many contact persons at once (the sync's first run, issue 16): `rows` is a list of
    dicts with `contact` (an id) and PERSON_FIELDS, cleaned as `save_person` cleans them and
    with the same matching keys.
    Call it inside a transaction. Returns the new persons' ids in the order of `rows`."""
    clean = []
    for values in rows:
        row = {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()
               if k in PERSON_FIELDS}
        if "email" in row:
            row["email"] = normalise_email(row["email"])
        if row.get("active") is None:
            row["active"] = True
        clean.append(dict(row, contact=values["contact"]))
    countries = {}
    wanted = sorted({row["contact"] for row in clean})
    for start in range(0, len(wanted), 500):
        countries.update(Contact.select(Contact.id, Contact.country).where(
            Contact.id.in_(wanted[start:start + 500])).tuples())
    # the matching keys, as save_person writes them (the import queue finds persons by them)
    clean = [dict(row, **person_keys(row, countries.get(row["contact"]) or "")) for row in clean]
    now = utcnow()
    blank = {name: ContactPerson._meta.fields[name].default for name in PERSON_FIELDS}
    return insert_rows(ContactPerson, [dict(blank, **row, version=1, created_at=now,
                                            updated_at=now) for row in clean], returning=True)


def save_person(contact, person, values, opened_version=None, form_key=None):
    """Add a person to `contact` (when `person` is None) or save `person`'s fields, from
    `values` (a dict of PERSON_FIELDS; others are ignored). Returns the saved ContactPerson.
    Saving raises versions.ChangedMeanwhile when someone saved the person since
    `opened_version` (the version the editor's form opened; None: not checked); adding
    raises form_keys.AlreadySaved when `form_key` was used before (a double-click)."""
    values = {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()
              if k in PERSON_FIELDS}
    if "email" in values:
        values["email"] = normalise_email(values["email"])
    merged = {k: getattr(person, k) for k in PERSON_FIELDS} if person is not None else {}
    merged.update(values)
    keys = person_keys(merged, getattr(contact, "country", "") or "")
    with db.atomic():
        if person is None:
            form_keys.claim(form_key)
            return ContactPerson.create(contact=contact, **values, **keys)
        update_if_unchanged(ContactPerson, person.id, opened_version, **values, **keys,
                            updated_at=utcnow())
    return ContactPerson.get_by_id(person.id)
