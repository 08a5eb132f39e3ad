"""Kontor's side of the sync: reading Kontor's records as canonical records and writing them
through the same domain functions as the web forms (issue 16: "the sync writes Kontor's
records through the same domain functions as the web forms", so the search index, list
generations, duplicate keys, change history and timeline stay current, and the edit-conflict
check treats a sync change like anyone else's).

One adapter per entity; each works with canonical records ({field: text}, kontor.sync.values)
restricted to the fields the layout syncs. Parent links are translated between Kontor ids and
business keys by the caller's binding maps (`parents`: {entity: {kontor id: business key}}
to read, {entity: {business key: kontor id}} to write). Call the writers inside the sync's
Kontor transaction.
"""
import json

from peewee import IntegrityError

from kontor import employees, notes, users, web_accounts
from kontor.contacts import saving
from kontor.matching import normalise_name
from kontor.sync.values import canon, python_value
from models import (
    Contact,
    ContactPerson,
    Employee,
    NoteEntry,
    SupportCase,
    SyncBase,
    SyncBinding,
    User,
    WebAccount,
    Website,
    db,
    locked,
)
from models.clock import utcnow
from models.db import is_sqlite

CHUNK = 500      # ids or keys in one IN list


def chunks(values, size=CHUNK):
    """`values` (a list) in slices of at most `size`, for IN lists of bounded length."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


class SkipRecord(Exception):
    """This record cannot be written now (`reason`: "duplicate_email", "number_taken",
    "parent_missing", "in_use"); the cycle leaves it out and says so in the sync log."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _row_dict(row):
    """Every column of a Kontor row as JSON-friendly values (for the sync history)."""
    return {name: (None if value is None else str(value) if not isinstance(
        value, (int, bool, str)) else value)
        for name, value in row.__data__.items()}


def _unsynced(model, where):
    """Lines naming the rows of `model` (ContactPerson or NoteEntry) matching `where` that
    have no sync binding (added in Kontor and not synced yet)."""
    entity = "contact_persons" if model is ContactPerson else "note_entries"
    bound = SyncBinding.select(SyncBinding.kontor_id).where(SyncBinding.entity == entity)
    rows = model.select().where(where, model.id.not_in(bound)).order_by(model.id)
    if model is ContactPerson:
        return [f"{row.name}" for row in rows]
    return [f"{str(row.created_at)[:16]} {row.text}" for row in rows]


class Adapter:
    """Reading and writing one entity's Kontor records. Subclasses set `entity`, `model`,
    `attributes` ({layout field: model attribute}, default the same name) and `parents`
    ({layout field: parent entity})."""
    entity = ""
    model = None
    attributes = {}
    parents = {}

    def __init__(self, table):
        self.table = table          # the layout's Table of this entity
        self.fields = [f for f in table.entity.fields if f.name in table.columns]

    def attribute(self, name):
        return self.attributes.get(name, name)

    def max_length(self, name) -> int:
        """The longest text Kontor's column of field `name` holds (0: no limit)."""
        column = self.model._meta.fields.get(self.attribute(name))
        return getattr(column, "max_length", None) or 0

    # --- reading -------------------------------------------------------------------------
    version_sql = '"version"'     # the change counter's column (SQL)

    def versions(self):
        """(kontor id, change counter) of every row, as tuples (cheap: two columns, plain
        SQL: a cycle reads 100,000s of them)."""
        return db.execute_sql(f'SELECT "id", {self.version_sql} FROM '
                              f'"{self.model._meta.table_name}"')

    def probe(self):
        """A cheap fingerprint of every row's (id, change counter), computed in the database
        (SYNC.md step 2): (rows, a sum of a mix of each id and counter, highest id). A save
        moves the counter, a new row or a delete the count, the sum or both; equal probes
        mean that the pass over (id, counter) pairs (`versions`) would find what it found
        then."""
        mod = "%" if is_sqlite() else "%%"     # psycopg2 reads % as a parameter's mark
        mixed = f'((CAST("id" AS BIGINT) * 1000003 + {self.version_sql}) {mod} 2147483629)'
        return tuple(str(value) for value in db.execute_sql(
            f"SELECT COUNT(*), SUM({mixed} * {mixed} {mod} 2147483629), MAX(\"id\") "
            f'FROM "{self.model._meta.table_name}"').fetchone())

    def versions_of(self, ids):
        """{kontor id: change counter} of the rows `ids` that exist, locked for the write
        transaction (FOR UPDATE on PostgreSQL)."""
        out = {}
        for part in chunks(ids):
            out.update(locked(self.model.select(self.model.id, self.model.version).where(
                self.model.id.in_(part))).tuples())
        return out

    def records(self, ids, parents):
        """{kontor id: (version, record)} for the rows `ids` that exist. Reads only the
        synced columns, as tuples (a batch of 200 contacts as models costs more than the
        rest of its merge)."""
        fields = [self.model._meta.fields[self.attribute(spec.name)] for spec in self.fields]
        columns = ", ".join(f'"{field.column_name}"' for field in fields)
        sql = (f'SELECT "id", {self.version_sql}, {columns} FROM '
               f'"{self.model._meta.table_name}" WHERE "id" IN ')
        found = {}
        for part in chunks(ids):
            marks = ", ".join([db.param] * len(part))
            for kontor_id, version, *values in db.execute_sql(f"{sql}({marks})", part):
                found[kontor_id] = (version, self.record(
                    [field.python_value(value) for field, value in zip(fields, values,
                                                                        strict=True)],
                    parents))
        return found

    def record(self, values, parents):
        """The canonical record of a row's synced values (in self.fields' order; a parent
        link as its Kontor id)."""
        record = {}
        for spec, value in zip(self.fields, values, strict=True):
            if spec.name in self.parents:
                value = parents[self.parents[spec.name]].get(value, "") if value else ""
                record[spec.name] = str(value)
            else:
                record[spec.name] = canon(spec, value)
        return record

    def label(self, record):
        """How a person names the record in the sync history."""
        return record.get("name") or record.get("email") or ""

    natural_field = ""      # the field that is the natural key by itself, if one is

    def natural_key(self, record):
        """The natural key binding the record to the other side's ("" for none)."""
        return record.get(self.natural_field, "") if self.natural_field else ""

    def natural_matches(self, keys, unbound, parents):
        """{natural key: kontor id} among Kontor rows not bound yet (`unbound`: a callable
        telling whether a Kontor id is unbound) for the natural `keys`; `parents` as for
        writing ({entity: {business key: kontor id}}). This one: rows whose `natural_field`
        column equals a key."""
        if not self.natural_field:
            return {}
        column = getattr(self.model, self.natural_field)
        found = {}
        for part in chunks([key for key in keys if key]):
            for kontor_id, key in (self.model.select(self.model.id, column)
                                   .where(column.in_(part)).tuples()):
                if unbound(kontor_id):
                    found.setdefault(key, kontor_id)
        return found

    # --- writing -------------------------------------------------------------------------
    def values(self, record, parents):
        """Model values from a canonical record (parents by business key → Kontor id)."""
        values = {}
        for spec in self.fields:
            text = record.get(spec.name, "")
            if spec.name in self.parents:
                kontor_id = parents[self.parents[spec.name]].get(text) if text else None
                if text and kontor_id is None:
                    raise SkipRecord("parent_missing", f"{spec.name}={text}")
                values[self.attribute(spec.name)] = kontor_id
            else:
                values[self.attribute(spec.name)] = python_value(spec, text)
        return values

    def create_many(self, records, parents):
        """Create the records (canonical, in order); their new Kontor ids in the same order.
        Raises SkipRecord or IntegrityError when one cannot be created (the caller then
        creates them one by one to find it)."""
        return [self.create(record, parents) for record in records]

    def update_many(self, rows, parents):
        """Save each (kontor id, change counter read, record) of `rows` as `update` does.
        Raises as `update` does; the caller's savepoint then rolls all of them back (and
        it saves them one by one to find the one that cannot be saved)."""
        for kontor_id, version, record in rows:
            self.update(kontor_id, version, record, parents)

    def whole(self, kontor_id):
        """The whole row (and what belongs to it) as JSON text, for the sync history."""
        row = self.model.get_or_none(self.model.id == kontor_id)
        return json.dumps(_row_dict(row) if row else {}, ensure_ascii=False)

    def added_since(self, kontor_id):
        """What was added in Kontor to the record since both sides agreed (persons, notes
        not synced yet), as lines of text; [] for none (this entity has nothing below it)."""
        return []

    def delete(self, kontor_id):
        """Delete the record. Raises SkipRecord("in_use") when something keeps it."""
        try:
            with db.atomic():
                self.model.delete().where(self.model.id == kontor_id).execute()
        except IntegrityError:
            raise SkipRecord("in_use") from None


class Employees(Adapter):
    entity = "employees"
    model = Employee

    natural_field = "email"

    def create(self, record, parents):
        values = self.values(record, parents)
        try:
            return employees.save(None, values).id
        except employees.DuplicateEmail:
            raise SkipRecord("duplicate_email", values.get("email", "")) from None

    def update(self, kontor_id, version, record, parents):
        """Save through employees.save as the employee form does: an employee made inactive
        in the business database loses their account too ("deactivate the account and sign
        them out now", users.deactivate). Raises SkipRecord("duplicate_email") and
        SkipRecord("last_superuser") (the last active superuser's account stays: the
        record waits, named in the Error line)."""
        values = self.values(record, parents)
        try:
            employees.save(Employee.get_by_id(kontor_id), values, opened_version=version,
                           keep_account=False, acting=None)
        except employees.DuplicateEmail:
            raise SkipRecord("duplicate_email", values.get("email", "")) from None
        except users.AccountActionRefused as refused:
            raise SkipRecord(refused.reason, values.get("email", "")) from None

    def delete(self, kontor_id):
        """Delete the employee, unless an active user account is linked to it: user access (users,
        and the employees they are linked to) is never deleted by the sync (issue 17 item 4;
        a business delete of the sync owner's employee must not unlink the only superuser).
        Raises SkipRecord("user_access") then (the Error line names the employee and says
        what to do), SkipRecord("in_use") as Adapter.delete."""
        if User.select().where(User.employee == kontor_id,
                               User.is_active == True).exists():  # noqa: E712
            found = Employee.get_or_none(Employee.id == kontor_id)
            raise SkipRecord("user_access", found.email if found else "")
        super().delete(kontor_id)


class Contacts(Adapter):
    entity = "contacts"
    model = Contact

    def natural_key(self, record):
        return f"{record.get('customer_number', '')}|{normalise_name(record.get('name', ''))}"

    def natural_matches(self, keys, unbound, parents):
        numbers = {}
        for key in keys:
            number = key.split("|", 1)[0]
            if number.isdigit():
                numbers[int(number)] = key
        found = {}
        for part in chunks(list(numbers)):
            for kontor_id, number, norm in (
                    Contact.select(Contact.id, Contact.customer_number, Contact.name_norm)
                    .where(Contact.customer_number.in_(part)).tuples()):
                key = numbers[number]
                if unbound(kontor_id) and key.split("|", 1)[1] == norm:
                    found[key] = kontor_id
        return found

    def number_taken(self, numbers):
        """The customer numbers among `numbers` (ints) that a Kontor contact has."""
        return {number for part in chunks(numbers) for (number,) in
                Contact.select(Contact.customer_number)
                .where(Contact.customer_number.in_(part)).tuples()}

    def create(self, record, parents):
        values = self.values(record, parents)
        number = values.pop("customer_number", None)
        try:
            with db.atomic():
                return saving.create(values, customer_number=number, source="sync").id
        except IntegrityError:
            raise SkipRecord("number_taken", str(number)) from None

    def create_many(self, records, parents):
        """All at once through saving.create_many (the contact import's domain function:
        derived fields, change history), with the business database's customer numbers (the
        next free ones where it has none)."""
        rows, numbers = [], []
        next_free = None
        for record in records:
            values = self.values(record, parents)
            number = values.pop("customer_number", None)
            if number is None:
                next_free = next_free or saving.next_customer_number()
                number, next_free = next_free, next_free + 1
            rows.append((number, values))
            numbers.append(number)
        saving.create_many(rows, source="sync")
        ids = {}
        for part in chunks(numbers):
            ids.update(Contact.select(Contact.customer_number, Contact.id).where(
                Contact.customer_number.in_(part)).tuples())
        return [ids[number] for number in numbers]

    def update(self, kontor_id, version, record, parents):
        values = self.values(record, parents)
        number = values.pop("customer_number", None)
        saved = saving.update(kontor_id, values, version, source="sync")
        if number is not None and number != saved.customer_number:
            try:
                with db.atomic():
                    Contact.update(customer_number=number, version=Contact.version + 1,
                                   updated_at=utcnow()).where(Contact.id == kontor_id).execute()
            except IntegrityError:
                raise SkipRecord("number_taken", str(number)) from None

    def update_many(self, rows, parents):
        """Through saving.update_many (a handful of statements for the batch); a contact
        whose customer number changes goes through `update`, one by one."""
        numbers = {}
        for part in chunks([kontor_id for kontor_id, _version, _record in rows]):
            numbers.update(Contact.select(Contact.id, Contact.customer_number)
                           .where(Contact.id.in_(part)).tuples())
        plain = []
        for kontor_id, version, record in rows:
            values = self.values(record, parents)
            number = values.pop("customer_number", None)
            if number is not None and number != numbers.get(kontor_id):
                self.update(kontor_id, version, record, parents)
            else:
                plain.append((kontor_id, values, version))
        saving.update_many(plain, source="sync")

    def whole(self, kontor_id):
        contact = Contact.get_or_none(Contact.id == kontor_id)
        if contact is None:
            return "{}"
        data = _row_dict(contact)
        data["persons"] = [_row_dict(p) for p in ContactPerson.select()
                           .where(ContactPerson.contact == kontor_id)]
        data["notes"] = [_row_dict(n) for n in NoteEntry.select()
                         .where(NoteEntry.contact == kontor_id).order_by(NoteEntry.id)]
        data["web_accounts"] = [
            {"website": site, "email": email, "status": status} for site, email, status in
            WebAccount.select(Website.name, WebAccount.email, WebAccount.status)
            .join(Website).where(WebAccount.contact == kontor_id)
            .order_by(WebAccount.id).tuples()]
        return json.dumps(data, ensure_ascii=False)

    def added_since(self, kontor_id):
        """The contact's persons and notes that are not synced yet (added in Kontor since
        both sides agreed), and its persons changed since: their names, and the notes'
        times and texts."""
        edited = [name for (name,) in ContactPerson.select(ContactPerson.name).join(
            SyncBase, on=((SyncBase.kontor_id == ContactPerson.id)
                          & (SyncBase.entity == "contact_persons")))
            .where(ContactPerson.contact == kontor_id,
                   ContactPerson.version != SyncBase.kontor_version).tuples()]
        return _unsynced(ContactPerson, ContactPerson.contact == kontor_id) + edited \
            + _unsynced(NoteEntry, NoteEntry.contact == kontor_id)

    def delete(self, kontor_id):
        """Delete the contact (the business database deleted it). Its web accounts are
        unlinked and no longer approved first (kontor.web_accounts.unlink_deleted_contact):
        no portal account is left approved without a contact. Raises SkipRecord("in_use",
        the support cases' numbers) when support cases belong to it (they keep their
        contact): nothing of the contact is deleted then."""
        cases = [f"{year}-{seq:04d}" for year, seq in SupportCase.select(
            SupportCase.year, SupportCase.seq).where(SupportCase.contact == kontor_id)
            .order_by(SupportCase.year, SupportCase.seq).limit(10).tuples()]
        if cases:
            raise SkipRecord("in_use", ", ".join(cases))
        with db.atomic():
            web_accounts.unlink_deleted_contact(kontor_id)
            super().delete(kontor_id)


class Persons(Adapter):
    entity = "contact_persons"
    model = ContactPerson
    attributes = {"contact_id": "contact"}
    parents = {"contact_id": "contacts"}

    def natural_key(self, record):
        return f"{record.get('contact_id', '')}|{normalise_name(record.get('name', ''))}"

    def natural_matches(self, keys, unbound, parents):
        by_contact = {}
        for key in keys:
            contact_key, norm = key.split("|", 1)
            kontor_contact = parents["contacts"].get(contact_key)
            if kontor_contact:
                by_contact.setdefault(kontor_contact, {})[norm] = key
        found = {}
        for part in chunks(list(by_contact)):
            for kontor_id, contact_id, name in (
                    ContactPerson.select(ContactPerson.id, ContactPerson.contact,
                                         ContactPerson.name)
                    .where(ContactPerson.contact.in_(part)).tuples()):
                key = by_contact[contact_id].get(normalise_name(name))
                if key and unbound(kontor_id) and key not in found:
                    found[key] = kontor_id
        return found

    def create(self, record, parents):
        values = self.values(record, parents)
        contact = values.pop("contact")
        if contact is None:
            raise SkipRecord("parent_missing", "contact_id")
        return saving.save_person(contact, None, values).id

    def create_many(self, records, parents):
        rows = [self.values(record, parents) for record in records]
        if any(row.get("contact") is None for row in rows):
            raise SkipRecord("parent_missing", "contact_id")
        return saving.add_persons(rows)

    def update(self, kontor_id, version, record, parents):
        values = self.values(record, parents)
        values.pop("contact", None)      # a person does not move to another contact
        saving.save_person(None, ContactPerson.get_by_id(kontor_id), values,
                           opened_version=version)

    def added_since(self, kontor_id):
        return _unsynced(NoteEntry, NoteEntry.person == kontor_id)

    def whole(self, kontor_id):
        person = ContactPerson.get_or_none(ContactPerson.id == kontor_id)
        if person is None:
            return "{}"
        data = _row_dict(person)
        data["notes"] = [_row_dict(n) for n in NoteEntry.select()
                         .where(NoteEntry.person == kontor_id).order_by(NoteEntry.id)]
        return json.dumps(data, ensure_ascii=False)


class Notes(Adapter):
    """Note entries are append-only (SPEC section 8): never updated, merged as a union by
    their `uid`; the change counter of an entry is always 1."""
    entity = "note_entries"
    model = NoteEntry
    attributes = {"contact_id": "contact", "person_id": "person", "author": "author_name"}
    parents = {"contact_id": "contacts", "person_id": "contact_persons"}

    version_sql = "1"     # an entry never changes: its counter is always 1

    def versions_of(self, ids):
        return {kid: 1 for part in chunks(ids) for (kid,) in
                NoteEntry.select(NoteEntry.id).where(NoteEntry.id.in_(part)).tuples()}

    def label(self, record):
        return record.get("uid", "")

    natural_field = "uid"

    def create(self, record, parents):
        values = self.values(record, parents)
        if values.get("contact") is None:
            raise SkipRecord("parent_missing", "contact_id")
        return notes.add_synced_entry(
            values["contact"], values.get("text") or "", author_name=values.get("author_name")
            or "", created_at=values.get("created_at") or utcnow(), uid=values.get("uid"),
            person=values.get("person")).id

    def create_many(self, records, parents):
        rows = [self.values(record, parents) for record in records]
        if any(row.get("contact") is None for row in rows):
            raise SkipRecord("parent_missing", "contact_id")
        return notes.add_synced_entries(rows)

    def update(self, kontor_id, version, record, parents):
        """Entries are never changed: a different text on the other side is not synced."""


ADAPTERS = {"employees": Employees, "contacts": Contacts, "contact_persons": Persons,
            "note_entries": Notes}
