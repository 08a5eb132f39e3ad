"""One sync cycle between Kontor and the business database (SPEC section 8; SYNC.md, "One
cycle"; issue 16 item 3). Nothing here imports Flask.

A cycle takes the sync lease, then for each entity (employees, contacts, contact persons,
note entries, parents first) first asks the cheap probe (SYNC.md step 2): a fingerprint of each
side's table computed in its database, and of the agreed states; when all three are as they
were at the start of this process's last pass over the entity that found nothing to do, and
no entity it links to was bound anew in this cycle, the entity is done. Otherwise it

A. reads the business table page by page (keyset order, so memory stays flat) and takes a
   fingerprint of each row's stored values: a bound row whose fingerprint is the agreed
   state's is unchanged; the rest are candidates;
B. reads Kontor's (id, change counter) pairs: a bound record whose counter moved, or an unbound
   one, is a candidate;
C. bindings whose business row or Kontor record is gone are deletes.

Candidates are merged field by field against the agreed state (kontor.sync.values.merge) and
written in batches: per batch one Kontor write transaction (SQLite: BEGIN IMMEDIATE) that
first checks the lease epoch (fencing) and that Kontor's records are still at the counters
read; inside it the **business side is written first**, each row compare-and-set against
the fingerprint read (the batch's rows read again in one locked query; a row changed
meanwhile is left for the next cycle; the rest written in one statement per set of changed
fields), and committed; then
Kontor's records are written through the domain functions, with their bindings, agreed
states and history rows, and committed. Interrupted anywhere, the next cycle repeats the
work safely: a business write whose Kontor half was lost is found again, bound by its
natural key, and merged against the old agreed state.
"""
import hashlib
import json
import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from peewee import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    PostgresqlDatabase,
    SqliteDatabase,
    fn,
)

from kontor import jobs
from kontor.errors import Refused
from kontor.sync.business import (
    SHORT_KEY_LENGTH,
    UUID_KEY_LENGTH,
    BusinessDatabaseError,
    check_layout,
    declared_lengths,
    key_column,
)
from kontor.sync.kontor_side import ADAPTERS, SkipRecord, chunks
from kontor.sync.layout import Layout, business_fields, business_models
from kontor.sync.values import UnfitValue, canon, check_fit, merge, python_value
from models import (
    Contact,
    JobLease,
    SyncBase,
    SyncBinding,
    SyncConflict,
    SyncRun,
    db,
    insert_rows,
)
from models.clock import utcnow

log = logging.getLogger("kontor.sync")
LEASE_NAME = "sync"
LEASE_TTL = timedelta(minutes=15)     # SPEC section 8: another computer takes over after this
BATCH = 200                           # records per write transaction
BUSINESS_LOCK_SECONDS = 5.0           # how long a batch waits for the business database's lock
PAGE = 1000                           # business rows read per query
ORDER = ("employees", "contacts", "contact_persons", "note_entries")
# The mass-delete safeguard (found by a new-user test: emptied business tables wiped Kontor in
# one cycle): a cycle that would delete more than MASS_DELETE[0] of an entity's synced Kontor
# records, and more than MASS_DELETE[1] per cent of them, deletes none of them and logs an
# Error ("mass_delete") until a superuser confirms (kontor.sync.service.confirm_deletes).
MASS_DELETE = (20, 10)


# SYNC.md step 2: per entity, the probes of both sides at the start of this process's last
# pass over it that found nothing to write, no conflict, no error and nothing to leave for
# later: {entity: ((databases, node, lease epoch), (business probe, Kontor probe, agreed
# states' probe))}. Kept in memory only: a restarted process (or another node) begins with
# a full pass.
_PROBES = {}


def _place(business):
    """Which two databases (and business layout) a cycle syncs, for _PROBES."""
    other = business.database
    return (type(db.obj).__name__, str(db.obj.database), str(db.obj.connect_params.get("host")),
            str(db.obj.connect_params.get("port")), type(other).__name__, str(other.database),
            str(other.connect_params.get("host")), str(other.connect_params.get("port")),
            repr(business.layout))


class LeaseLost(Exception):
    """Another process holds the sync lease now (a newer epoch): this cycle stops writing."""


class BusinessLocked(Exception):
    """The business database stayed locked by another program (SQLite: its write lock; a
    PostgreSQL row lock) longer than BUSINESS_LOCK_SECONDS: the cycle stops with an Error
    line saying so and the next cycle tries again."""


def is_lock_error(error) -> bool:
    """Whether a driver error means "locked by someone else, waited in vain": SQLite's
    "database is locked"/"database table is locked", PostgreSQL's lock_timeout (55P03)."""
    text = str(error).lower()
    return "database is locked" in text or "table is locked" in text \
        or _pg_lock_timeout(error)


class Held:
    """The business write transaction of a batch (BusinessSide.write_lock)."""

    def __init__(self, transaction):
        self.transaction, self.done = transaction, False

    def commit(self):
        """Commit the business side now (before Kontor's side)."""
        self.done = True
        self.transaction.__exit__(None, None, None)


class Interrupted(Exception):
    """Raised by a test's `interrupt` hook to stop a cycle at one write position."""


class BusinessSide:
    """The business database seen through a layout: canonical records, keyset scans and the
    compare-and-set writes of one cycle. `database` is a connected Peewee database."""

    def __init__(self, database, layout: Layout):
        self.database = database
        self.layout = layout
        self.models = business_models(layout, database)
        self.for_update = isinstance(database, PostgresqlDatabase)
        self._fields, self._select, self._lengths, self._keys = {}, {}, {}, {}

    def transaction(self):
        """A write transaction on the business database: on SQLite BEGIN IMMEDIATE, so that
        it waits for the desktop program's writes (busy timeout) instead of failing with
        "database is locked" when it upgrades from reading to writing."""
        if isinstance(self.database, SqliteDatabase):
            return self.database.atomic(lock_type="IMMEDIATE")
        return self.database.atomic()

    @contextmanager
    def write_lock(self):
        """The business database's write transaction, begun **before** Kontor's write
        transaction, so that Kontor's own write lock is never held while the business
        database is waited for (a desktop program holding it locked must not stop Kontor's
        users saving). SQLite: BEGIN IMMEDIATE, waiting at most BUSINESS_LOCK_SECONDS
        (the connection's busy timeout); PostgreSQL: row locks wait at most as long
        (lock_timeout). Yields a `Held` whose `commit()` commits it early (business side
        first, then Kontor's, SYNC.md step 6-7); left without it, it commits, or rolls back
        on an exception. Raises BusinessLocked when the lock cannot be had in time."""
        sqlite = isinstance(self.database, SqliteDatabase)
        transaction = self.database.transaction(lock_type="IMMEDIATE") if sqlite \
            else self.database.transaction()
        try:
            if sqlite:
                self.database.execute_sql(
                    f"PRAGMA busy_timeout = {int(BUSINESS_LOCK_SECONDS * 1000)}")
            transaction.__enter__()
            if not sqlite:
                self.database.execute_sql(
                    f"SET LOCAL lock_timeout = '{int(BUSINESS_LOCK_SECONDS * 1000)}ms'")
        except OperationalError as error:
            if transaction.db.transaction_depth():
                transaction.__exit__(type(error), error, None)
            if is_lock_error(error):
                raise BusinessLocked() from error
            raise
        held = Held(transaction)
        try:
            yield held
        except BaseException as error:
            if not held.done:
                held.done = True
                transaction.__exit__(type(error), error, None)
            raise
        if not held.done:
            held.commit()

    def fields(self, entity):
        """The synced fields as the business database holds them (layout.business_fields:
        a link to a text-keyed parent is text)."""
        found = self._fields.get(entity)
        if found is None:
            found = self._fields[entity] = business_fields(self.layout, entity)
        return found

    def _sql(self, entity):
        """The SELECT of the key and the synced columns (tuples in that order), written
        once per entity: {"scan", "first", "in"} (a page after a key, the first page, and
        the start of a look-up of several)."""
        found = self._select.get(entity)
        if found is None:
            model = self.models[entity]
            columns = [model.key] + [getattr(model, f.name) for f in self.fields(entity)]
            base, _params = model.select(*columns).sql()
            key = f'"t1"."{model.key.column_name}"'
            param = self.database.param
            order = f" ORDER BY {key} LIMIT {PAGE}"
            found = self._select[entity] = {
                "first": base + order, "scan": f"{base} WHERE {key} > {param}{order}",
                "in": f"{base} WHERE {key} IN "}
        return found

    def record(self, entity, row) -> dict:
        """The canonical record of a business row (a tuple: key, then the synced columns in
        the layout's order). Raises UnfitValue."""
        return {spec.name: canon(spec, value)
                for spec, value in zip(self.fields(entity), row[1:], strict=True)}

    def rough_record(self, entity, row) -> dict:
        """The record of a business row as far as it is readable: canonical values, and the
        row's own text for a value that does not fit (to name the record in the log)."""
        record = {}
        for spec, value in zip(self.fields(entity), row[1:], strict=True):
            try:
                record[spec.name] = canon(spec, value)
            except UnfitValue:
                record[spec.name] = "" if value is None else str(value)
        return record

    def max_length(self, entity, name) -> int:
        """The longest text the business column of field `name` holds: the layout's length,
        or the column's declared length when that is shorter (read once per cycle, and only
        when something is to be written); 0 for no limit."""
        table = self.layout[entity]
        if entity not in self._lengths:
            self._lengths[entity] = declared_lengths(self.database, table.table)
        limits = [length for length in (table.entity.field(name).max_length,
                                        self._lengths[entity].get(table.columns[name].lower()))
                  if length]
        return min(limits, default=0)

    def key_value(self, entity, text):
        return int(text) if self.layout[entity].key_type == "integer" else text

    def scan(self, entity):
        """Yield (business key as text, row tuple) for every row, in key order, a page
        (PAGE rows) per query, so that memory stays flat."""
        sql = self._sql(entity)
        rows = self.database.execute_sql(sql["first"]).fetchall()
        while rows:
            for row in rows:
                yield str(row[0]), row
            if len(rows) < PAGE:
                return
            rows = self.database.execute_sql(sql["scan"], (rows[-1][0],)).fetchall()

    def fetch(self, entity, keys) -> dict:
        """{key text: row tuple} of the rows with `keys` (texts) that exist."""
        sql = self._sql(entity)["in"]
        found = {}
        values = [self.key_value(entity, key) for key in keys]
        for part in chunks(values):
            marks = ", ".join([self.database.param] * len(part))
            for row in self.database.execute_sql(f"{sql}({marks})", part).fetchall():
                found[str(row[0])] = row
        return found

    def current(self, entity, keys) -> dict:
        """{key text: row tuple} of the rows `keys` (texts) as they are now, read for a
        compare-and-set inside the business write transaction: locked (FOR UPDATE) on
        PostgreSQL; on SQLite the transaction's write lock (BEGIN IMMEDIATE) keeps every
        other writer out until it commits. One query per CHUNK keys."""
        sql = self._sql(entity)["in"]
        lock = " FOR UPDATE" if self.for_update else ""
        found = {}
        values = [self.key_value(entity, key) for key in keys]
        for part in chunks(values):
            marks = ", ".join([self.database.param] * len(part))
            for row in self.database.execute_sql(f"{sql}({marks}){lock}", part).fetchall():
                found[str(row[0])] = row
        return found

    def probe(self, entity):
        """A cheap fingerprint of the whole table, computed in the database: (rows, sum of a
        per-row hash of the key and synced columns, highest key). Equal probes: the table
        holds the same values (up to a hash collision). PostgreSQL: md5 of each row;
        SQLite: a hash function of this process registered on the connection (the rows
        never come over as Python tuples)."""
        model = self.models[entity]
        columns = ", ".join(f'"{c}"' for c in
                            [model.key.column_name] + [getattr(model, f.name).column_name
                                                       for f in self.fields(entity)])
        key = f'"{model.key.column_name}"'
        table = f'"{model._meta.table_name}"'
        if self.for_update:          # PostgreSQL
            one = f"('x' || substr(md5(ROW({columns})::text), 1, 15))::bit(60)::bigint"
        else:
            if not getattr(self, "_probe_function", False):
                self.database.connection().create_function(
                    "kontor_row_hash", -1, _row_hash, deterministic=True)
                self._probe_function = True
            one = f"kontor_row_hash({columns})"
        row = self.database.execute_sql(
            f"SELECT COUNT(*), SUM({one}), MAX({key}) FROM {table}").fetchone()
        return tuple(str(value) for value in row)

    def update_many(self, entity, writes):
        """Write the changed fields of each (key, record, changed fields) of `writes`: one
        executemany per set of changed fields (a batch of the same change is one statement),
        only the fields that changed (the others keep the business database's own spelling).
        Raises RowsMissing when a statement changed fewer rows than it had keys (they are
        locked by `current`, so this means the database did not do as told; the business
        transaction then rolls back)."""
        model = self.models[entity]
        groups = {}
        for key, record, changed in writes:
            names = tuple(name for name in (f.name for f in self.fields(entity))
                          if name in changed)
            if names:
                groups.setdefault(names, []).append((key, record))
        param = self.database.param
        for names, rows in groups.items():
            sets = ", ".join(f'"{getattr(model, name).column_name}" = {param}'
                             for name in names)
            sql = (f'UPDATE "{model._meta.table_name}" SET {sets} '
                   f'WHERE "{model.key.column_name}" = {param}')
            params = []
            for key, record in rows:
                values = self._values(entity, record)
                params.append([getattr(model, name).db_value(values[name]) for name in names]
                              + [self.key_value(entity, key)])
            cursor = self.database.cursor()
            cursor.executemany(sql, params)
            if cursor.rowcount != len(params):
                raise RowsMissing(entity, len(params), cursor.rowcount)

    def _values(self, entity, record):
        values = {}
        for spec in self.fields(entity):
            parent = self.layout[entity].entity.parents.get(spec.name)
            text = record.get(spec.name, "")
            if parent:
                values[spec.name] = self.key_value(parent, text) if text else None
            else:
                values[spec.name] = python_value(spec, text)
        return values

    def new_key(self, entity):
        """The key of a row Kontor inserts, or None when the database assigns it (SQLite
        INTEGER PRIMARY KEY, PostgreSQL serial or identity). A text key is a new UUID
        ("0b6f4c1e-…", 36 characters; its 32 hexadecimal digits where the column holds
        fewer): unique without asking the desktop program, and plain letters, digits and
        hyphens any program accepts. An integer key the database does not assign is one
        more than the highest (inside the business write transaction, which holds the
        write lock on SQLite). Raises KeyNotMade when the key column holds no such key."""
        table = self.layout[entity]
        about = self._keys.get(entity)
        if about is None:
            about = self._keys[entity] = key_column(self.database, table.table, table.key)
        if table.key_type == "text":
            limit = about.max_length
            if not limit or limit >= UUID_KEY_LENGTH:
                return str(uuid.uuid4())
            if limit >= SHORT_KEY_LENGTH:
                return uuid.uuid4().hex
            raise KeyNotMade(entity)
        if about.assigned:
            return None
        model = self.models[entity]
        highest = model.select(fn.MAX(model.key)).scalar()
        return int(highest or 0) + 1

    def insert(self, entity, record) -> str:
        """Insert `record`; its new key as text, never empty. Raises KeyNotMade (nothing
        inserted) when no key can be made for it, and RowsMissing when the database did
        not give back the key it assigned (the business transaction then rolls back: a
        record is never bound to a key that names no row)."""
        model = self.models[entity]
        values = self._values(entity, record)
        key = self.new_key(entity)
        if key is not None:
            values["key"] = key
        made = model.insert(**values).execute()
        key = key if key is not None else made
        if key is None or str(key) == "":
            raise RowsMissing(entity, 1, 0)
        return str(key)

    def children(self, entity):
        """[(child entity, its field that links to `entity`)]: contact persons and note
        entries of a contact, note entries of a person."""
        return [(table.entity.name, name) for table in self.layout.tables
                for name, parent in table.entity.parents.items()
                if parent == entity and name in table.columns]

    def delete(self, entity, key):
        """Delete the row `key` and the rows that belong to it (a contact's persons and note
        entries), as Kontor deletes a contact with them."""
        value = self.key_value(entity, key)
        for child, link in self.children(entity):
            model = self.models[child]
            for grandchild, grand_link in self.children(child):
                inner = self.models[grandchild]
                inner.delete().where(getattr(inner, grand_link).in_(
                    model.select(model.key).where(getattr(model, link) == value))).execute()
            model.delete().where(getattr(model, link) == value).execute()
        model = self.models[entity]
        model.delete().where(model.key == value).execute()

    def plain(self, entity, row) -> dict:
        return {spec.name: canon(spec, getattr(row, spec.name))
                for spec in self.fields(entity)} | {"key": str(row.key)}

    def whole(self, entity, key) -> str:
        """The business row `key` (text) and the rows that belong to it (a contact's persons
        and note entries) as JSON text, for the sync history: nothing deleted is
        unrecoverable."""
        model = self.models[entity]
        row = model.get_or_none(model.key == self.key_value(entity, key))
        if row is None:
            return "{}"
        data = self.plain(entity, row)
        for child, link in self.children(entity):
            model = self.models[child]
            data[child] = [self.plain(child, found) for found in model.select().where(
                getattr(model, link) == row.key).order_by(model.key)]
        return json.dumps(data, ensure_ascii=False)


class KeyNotMade(Exception):
    """Kontor cannot give a new business row a key: the key column is too short for the
    keys Kontor makes, or the database did not assign one. The record is not inserted."""

    def __init__(self, entity):
        super().__init__(f"{entity}: no key for a new row")
        self.entity = entity


class RowsMissing(Exception):
    """A compare-and-set UPDATE of the business database changed fewer rows than it was
    given keys."""

    def __init__(self, entity, expected, changed):
        super().__init__(f"{entity}: {changed} of {expected} rows changed")


def _row_hash(*values):
    """SQLite function kontor_row_hash(key, columns…) of BusinessSide.probe: 40 bits of
    Python's own hash of the row's values, so that SUM over 8 million rows stays within
    SQLite's 64-bit integers. Python salts its string hashes per process, which does not
    matter here (the probes are compared only within the process that made them) and makes
    it cheap: a third of a BLAKE2b of the row's text."""
    return hash(values) & 0xFF_FFFF_FFFF


def fingerprint(row) -> str:
    """The fingerprint of a business row (a tuple: key, then the synced columns) kept as the
    agreed state's business hash: BLAKE2b (128 bits, 32 hex digits) of the values exactly as
    the database driver gave them. Cheap, so that a cycle passes over 100,000 unchanged rows
    without spelling each value canonically; any change of a stored value changes it, even
    one that kontor.sync.values.canon spells the same (such a row is merged, finds nothing
    to write and its agreed state takes the new fingerprint)."""
    return hashlib.blake2b(repr(row[1:]).encode("utf-8", "surrogatepass"),
                           digest_size=16).hexdigest()


@dataclass
class Item:
    """One record's way through a cycle."""
    kontor_id: int | None = None
    business_key: str | None = None
    bound: bool = False
    b_rec: dict | None = None
    b_hash: str = ""
    b_row: tuple | None = None     # the business row as read (the values as stored)
    k_rec: dict | None = None
    k_version: int | None = None
    business_gone: bool = False
    kontor_gone: bool = False
    base: dict | None = None
    merged: dict | None = None
    to_business: str = ""          # "insert", "update", "delete" or ""
    to_kontor: str = ""            # "create", "update", "delete" or ""
    history: list = field(default_factory=list)   # SyncConflict field dicts
    changed: list = field(default_factory=list)   # fields to write to the business row
    base_hash: str = ""
    skip: str = ""


@dataclass
class Counts:
    read: int = 0
    to_business: int = 0
    to_kontor: int = 0
    conflicts: int = 0
    errors: list = field(default_factory=list)


class Cycle:
    """One cycle for `node` holding the lease at `epoch`. `interrupt(position)` is a test's
    hook, called at every write position ("business", "business-commit", "kontor",
    "kontor-commit"); `clock` gives naive UTC now. `on_progress(entity, finished)` is called
    after each batch is written (finished False) and when an entity is done (True): the first
    sync's progress (kontor/sync/first_sync.py)."""

    def __init__(self, business: BusinessSide, node, epoch, first=False, interrupt=None,
                 clock=utcnow, ttl=LEASE_TTL, batch=BATCH, on_progress=None,
                 mass_delete=MASS_DELETE):
        self.business = business
        self.mass_delete = mass_delete
        # Kontor ids of contacts whose delete is held this cycle (in use, or the mass-delete
        # safeguard): their persons and notes are kept with them (atomic per record)
        self.held = set()
        self.parents_named = set()     # (entity, parent key) summarised in the Error line
        self.confirmations = []        # (Error line id, entity): mass deletes confirmed
        self.node, self.epoch, self.first = node, epoch, first
        self.interrupt = interrupt or (lambda position: None)
        self.on_progress = on_progress or (lambda entity, finished: None)
        self.clock, self.ttl, self.batch = clock, ttl, batch
        self.counts = Counts()
        self.run = None
        self.b2k = {entity: {} for entity in ORDER}     # business key → Kontor id
        self.k2b = {entity: {} for entity in ORDER}     # Kontor id → business key
        self.logged = set()                             # (entity, record) in the Error line
        self.loaded = set()          # entities whose bindings are in b2k/k2b
        self.rebound = set()         # entities whose bindings changed in this cycle
        self.skipped = 0             # records left for a later cycle
        self.place = _place(business)

    # --- the lease ------------------------------------------------------------------------
    def fence(self):
        """Renew the lease if it is still this cycle's (holder and epoch); inside the Kontor
        write transaction, so a stale epoch's writes never commit. Raises LeaseLost."""
        renewed = (JobLease.update(expires_at=self.clock() + self.ttl)
                   .where(JobLease.name == LEASE_NAME, JobLease.holder == self.node,
                          JobLease.epoch == self.epoch).execute())
        if not renewed:
            raise LeaseLost()

    # --- one entity -----------------------------------------------------------------------
    def maps(self, entity):
        """Load the bindings of `entity` into b2k/k2b (once a cycle)."""
        if entity in self.loaded:
            return
        self.loaded.add(entity)
        b2k, k2b = self.b2k[entity], self.k2b[entity]
        for bkey, kid in db.execute_sql(
                'SELECT "business_key", "kontor_id" FROM "sync_binding" WHERE "entity" = '
                f"{db.param}", (entity,)):
            b2k[bkey], k2b[kid] = kid, bkey

    def lineage(self, entity):
        """`entity` and the entities it links to, transitively (a note entry's contact and
        person)."""
        found, todo = [], [entity]
        while todo:
            name = todo.pop()
            if name not in found:
                found.append(name)
                todo += list(self.business.layout[name].entity.parents.values())
        return found

    def probe(self, entity, adapter):
        """The key under which the last clean quiet pass over `entity` kept its probes, and
        the probes now, each computed in its database: (business table, Kontor table, the
        agreed states: rewritten rows get new ids)."""
        place = (self.place, self.node, self.epoch)
        agreed = tuple(str(value) for value in db.execute_sql(
            'SELECT COUNT(*), MAX("id") FROM "sync_base" WHERE "entity" = ' + db.param,
            (entity,)).fetchone())
        return place, (self.business.probe(entity), adapter.probe(), agreed)

    def sync_entity(self, entity):
        table = self.business.layout[entity]
        adapter = ADAPTERS[entity](table)
        # SYNC.md step 2, the cheap probe: neither side's table changed since a pass over
        # this entity that found nothing to do, and no entity it links to changed bindings
        # in this cycle: nothing to do now either.
        place = probes = None
        if not self.first:
            place, probes = self.probe(entity, adapter)
            lineage = self.lineage(entity)
            if _PROBES.get(entity) == (place, probes) \
                    and not self.rebound.intersection(lineage):
                self.counts.read += int(probes[0][0])
                return
            _PROBES.pop(entity, None)
        before = (self.counts.to_business, self.counts.to_kontor, self.counts.conflicts,
                  len(self.counts.errors), self.skipped)
        self.maps(entity)        # its parents' when a batch needs them (process)
        b2k, k2b = self.b2k[entity], self.k2b[entity]
        # the agreed states' fingerprints, and their change counters where not 1 (most are
        # 1: two dicts of plain values take less memory than one of tuples)
        bases, counters = {}, {}
        for kid, bhash, version in db.execute_sql(
                'SELECT "kontor_id", "business_hash", "kontor_version" FROM "sync_base" '
                f'WHERE "entity" = {db.param}', (entity,)):
            bases[kid] = bhash
            if version != 1:
                counters[kid] = version
        # bound keys and ids not met yet on their side (what is left at the end is gone);
        # sets of the maps' own objects, not of every key read: less memory than "seen"
        unseen_b, unseen_k = set(b2k), set(k2b)
        handled, batch = set(), []

        def flush():
            if batch:
                self.process(adapter, batch)
                handled.update(item.kontor_id for item in batch if item.kontor_id)
                batch.clear()

        # A: the business table; a bound row whose fingerprint is the agreed one is unchanged
        keyless = False          # a row without a key seen: its record may be a bound one
        for key, row in self.business.scan(entity):
            self.counts.read += 1
            if row[0] is None or key == "":
                # a row without a key cannot be told apart from others: never bound, never
                # deleted; the sync log names it
                self.counts.errors.append(dict(
                    entity=entity, record="", **self.who(
                        entity, self.business.rough_record(entity, row)),
                    field="", reason="null_key"))
                keyless = True
                continue
            unseen_b.discard(key)
            bhash = fingerprint(row)
            kid = b2k.get(key)
            if kid is not None and bases.get(kid) == bhash:
                continue
            try:
                record = self.business.record(entity, row)
            except UnfitValue as error:
                self.error(entity, key, error, self.business.rough_record(entity, row))
                continue
            batch.append(Item(kontor_id=kid, business_key=key, bound=kid is not None,
                              b_rec=record, b_hash=bhash, b_row=row))
            if len(batch) >= self.batch:
                flush()
        flush()
        # B: Kontor's records
        for kid, version in adapter.versions():
            unseen_k.discard(kid)
            if kid in handled:
                continue
            bkey = k2b.get(kid)
            if bkey is None:
                batch.append(Item(kontor_id=kid))
            elif bkey not in unseen_b and (kid not in bases or counters.get(kid, 1) != version):
                batch.append(Item(kontor_id=kid, business_key=bkey, bound=True))
            if len(batch) >= self.batch:
                flush()
        flush()
        # C: deletes; those the business database asks of Kontor pass the mass-delete
        # safeguard first
        gone = []
        for bkey, kid in list(b2k.items()):
            if kid in handled or (bkey not in unseen_b and kid not in unseen_k):
                continue
            if keyless and bkey in unseen_b:
                # a bound row not found while rows without a key exist may be one of them
                # (its key emptied): no delete on that evidence
                self.skipped += 1
                continue
            gone.append(Item(kontor_id=kid, business_key=bkey, bound=True,
                             business_gone=bkey in unseen_b, kontor_gone=kid in unseen_k))
        gone = self.mass_delete_guard(entity, gone, len(b2k))
        for item in gone:
            batch.append(item)
            if len(batch) >= self.batch:
                flush()
        flush()
        after = (self.counts.to_business, self.counts.to_kontor, self.counts.conflicts,
                 len(self.counts.errors), self.skipped)
        if place is not None and after == before:
            _PROBES[entity] = (place, probes)   # a clean quiet pass: the next may trust them
        self.forget_maps(entity)

    def mass_delete_guard(self, entity, items, synced):
        """The mass-delete safeguard: `items` are the deletes found for `entity`, `synced` the
        number of its bound records. When the business database has lost more than
        mass_delete[0] of them and more than mass_delete[1] per cent (emptied or replaced by
        mistake?), those deletes are left out and named in the run's Error line (reason
        "mass_delete": how many, of how many, which table), unless a superuser confirmed
        that many for this entity since (`confirmed_deletes`); then they are applied and the
        confirmation is used up. Note entries are not counted: an entry deleted in the
        business database is put back, never deleted in Kontor. Returns the items to do."""
        kontor_deletes = [i for i in items if i.business_gone and not i.kontor_gone]
        least, share = self.mass_delete
        count = len(kontor_deletes)
        if entity == "note_entries" or count <= least or count * 100 <= share * synced:
            return items
        confirmation = confirmed_deletes(entity, count, self.clock())
        if confirmation is not None:
            self.confirmations.append((confirmation.id, entity))
            return items
        self.counts.errors.append(dict(
            entity=entity, record="", label="", field="", reason="mass_delete", count=count,
            total=synced, table=self.business.layout[entity].table))
        if entity == "contacts":
            self.held.update(i.kontor_id for i in kontor_deletes)
        held = {id(i) for i in kontor_deletes}
        return [i for i in items if id(i) not in held]

    def forget_maps(self, done):
        """Free the bindings in memory after the pass over `done` (the served process's
        memory: 100,000 contacts have 600,000 bindings); a later entity's batch loads its
        parents' again when it needs them (`process`)."""
        for name in list(self.loaded):
            self.loaded.discard(name)
            self.b2k[name], self.k2b[name] = {}, {}

    # --- a batch --------------------------------------------------------------------------
    def process(self, adapter, items):
        entity = adapter.entity
        for name in self.lineage(entity):
            self.maps(name)
        fields = [f.name for f in adapter.fields]
        k2b = self.k2b[entity]
        # what is still to be read of each side
        wanted = [i.kontor_id for i in items if i.kontor_id and i.k_rec is None
                  and not i.kontor_gone]
        kontor = adapter.records(wanted, self.k2b)
        for item in items:
            if item.kontor_id in kontor:
                item.k_version, item.k_rec = kontor[item.kontor_id]
            elif item.kontor_id and not item.kontor_gone and item.bound:
                item.kontor_gone = True     # deleted since phase B
        keys = [i.business_key for i in items if i.business_key and i.b_rec is None
                and not i.business_gone]
        rows = self.business.fetch(entity, keys)
        for item in items:
            if item.business_key in rows and item.b_rec is None:
                try:
                    item.b_rec = self.business.record(entity, rows[item.business_key])
                    item.b_hash = fingerprint(rows[item.business_key])
                    item.b_row = rows[item.business_key]
                except UnfitValue as error:
                    self.error(entity, item.business_key, error, self.business.rough_record(
                        entity, rows[item.business_key]))
                    item.skip = "unfit_value"
        # a new business row bound to a Kontor record with the same natural key
        unbound = {adapter.natural_key(i.b_rec): i for i in items
                   if not i.bound and i.b_rec is not None and not i.skip}
        unbound.pop("", None)
        claimed = set()
        matches = adapter.natural_matches(
            list(unbound), lambda kid: kid not in k2b and kid not in claimed, self.b2k)
        for key, kid in matches.items():
            claimed.add(kid)
            unbound[key].kontor_id = kid
        fresh = {i.kontor_id: i for i in unbound.values() if i.kontor_id}
        for kid, (version, record) in adapter.records(list(fresh), self.k2b).items():
            fresh[kid].k_version, fresh[kid].k_rec = version, record
        bound = [i.kontor_id for i in items if i.bound]
        agreed = {}
        for part in chunks(bound):
            agreed.update({kid: (json.loads(text), bhash) for kid, text, bhash in SyncBase.select(
                SyncBase.kontor_id, SyncBase.agreed, SyncBase.business_hash).where(
                SyncBase.entity == entity, SyncBase.kontor_id.in_(part)).tuples()})
        for item in items:
            if item.bound:
                item.base, item.base_hash = agreed.get(item.kontor_id, (None, ""))
        if entity == "contacts":
            self.number_clashes(adapter, items)
        for item in items:
            if not item.skip:
                self.decide(adapter, item, fields)
        self.write(adapter, items)
        self.skipped += sum(1 for item in items if item.skip)
        self.on_progress(entity, False)

    def number_clashes(self, adapter, items):
        """A business contact and a Kontor contact with the same customer number but names that
        do not agree are not bound (issue 16 item 3): both are left out and listed once in the
        sync history for a person to resolve."""
        new_business = [i for i in items if i.b_rec is not None and i.k_rec is None
                        and not i.bound and not i.skip]
        numbers = [int(i.b_rec["customer_number"]) for i in new_business
                   if i.b_rec.get("customer_number", "").isdigit()]
        taken = adapter.number_taken(numbers)
        for item in new_business:
            if item.b_rec.get("customer_number", "").isdigit() \
                    and int(item.b_rec["customer_number"]) in taken:
                item.skip = "number_taken"
                self.unbound_once(adapter, item.business_key, item.b_rec)
        new_kontor = [i for i in items if i.k_rec is not None and i.b_rec is None
                      and not i.bound and not i.skip]
        if new_kontor and "customer_number" in self.business.layout["contacts"].columns:
            model = self.business.models["contacts"]
            wanted = [int(i.k_rec["customer_number"]) for i in new_kontor]
            in_business = {number for part in chunks(wanted) for (number,) in
                           model.select(model.customer_number)
                           .where(model.customer_number.in_(part)).tuples()}
            for item in new_kontor:
                if int(item.k_rec["customer_number"]) in in_business:
                    item.skip = "number_taken"

    def unbound_once(self, adapter, business_key, record):
        exists = SyncConflict.select().where(
            SyncConflict.entity == adapter.entity, SyncConflict.business_key == business_key,
            SyncConflict.resolution == "unbound").exists()
        if not exists:
            with db.atomic():
                SyncConflict.create(run=self.run, at=self.clock(), entity=adapter.entity,
                                    business_key=business_key, label=adapter.label(record),
                                    field="customer_number",
                                    business_value=record.get("customer_number"),
                                    resolution="unbound",
                                    row=json.dumps(record, ensure_ascii=False))
            self.counts.conflicts += 1

    def decide(self, adapter, item, fields):
        """Set what to write on each side and what to log, from the two records and the
        agreed state (SYNC.md steps 4-5)."""
        entity = adapter.entity
        label = adapter.label(item.k_rec or item.b_rec or {})
        b, k = item.b_rec, item.k_rec
        if item.business_gone and item.kontor_gone:
            item.to_kontor = "forget"
            return
        if b is not None and k is not None:
            if entity == "note_entries":        # append-only: never rewritten
                item.merged = b
                return
            item.merged, conflicts = merge(fields, item.base if item.bound else None, k, b)
            for name, base, kontor, business in conflicts:
                item.history.append(dict(field=name, base_value=base, kontor_value=kontor,
                                         business_value=business, resolution="business",
                                         label=label))
            changed = [name for name in fields if item.merged[name] != b.get(name)]
            item.to_business = "update" if changed else ""
            item.changed = changed
            item.to_kontor = "update" if item.merged != k else ""
        elif b is not None:                     # only in the business database
            item.merged = b
            added = self.business_added(entity, item.business_key) \
                if item.bound and item.kontor_gone else []
            if item.bound and item.kontor_gone and item.b_hash == item.base_hash \
                    and not added:
                item.to_business = "delete"     # deleted in Kontor, untouched here: delete
                item.history.append(dict(field="", resolution="deleted", label=label,
                                         row=self.business.whole(entity, item.business_key),
                                         conflict=False))
            else:
                item.to_kontor = "create"       # new, or deleted in Kontor but changed here
                if item.bound:      # the business side's new persons or notes count as edits
                    item.history.append(dict(field="", resolution="restored", label=label,
                                             row=self.business.whole(entity, item.business_key),
                                             business_value="\n".join(added)[:2000] or None))
        elif k is not None:                     # only in Kontor
            item.merged = k
            if item.bound and self.parent_held(adapter, k):
                item.skip = "parent_kept"       # kept with its contact (named in the log)
                return
            if item.bound and entity == "note_entries":
                item.to_business = "insert"     # entries are never lost: put it back
            elif item.bound:
                item.to_kontor = "delete"       # deleted in the business database: delete
                # a conflict when Kontor changed the record since both agreed, or added
                # persons or notes to it (SPEC 8: the business side wins, the Kontor row
                # with what was added is kept in the history and counted as a conflict)
                added = adapter.added_since(item.kontor_id)
                edited = item.base is None or bool(added) or any(
                    k.get(name, "") != item.base.get(name, "") for name in fields)
                item.history.append(dict(field="", resolution="deleted", label=label,
                                         row=adapter.whole(item.kontor_id), conflict=edited,
                                         kontor_value="\n".join(added)[:2000] or None))
            else:
                item.to_business = "insert"
        try:
            if item.to_kontor in ("create", "update"):
                adapter.values(item.merged, self.b2k)     # a parent not bound yet: later
            if item.to_business == "insert":
                for name in adapter.table.entity.parents:
                    if adapter.table.entity.field(name).required and not item.merged.get(name):
                        raise SkipRecord("parent_missing", name)
        except SkipRecord as skipped:
            item.skip = skipped.reason
            if skipped.reason == "parent_missing":
                self.parent_missing(adapter, item, skipped.detail)
            return
        try:
            self.check_fits(adapter, item)
        except UnfitValue as error:
            item.skip = "unfit_value"
            self.error(entity, item.business_key or item.kontor_id, error, item.merged,
                       side=error.side)

    def check_fits(self, adapter, item):
        """Every value to be written fits its field on the side it goes to (Kontor's column,
        the business column): the fields of a new record, the changed fields of a record.
        Raises UnfitValue with `side` ("kontor" or "business"); the record is then written
        on neither side and its agreed state stays (issue 16, "a value that does not fit")."""
        entity, merged = adapter.entity, item.merged
        parents = adapter.table.entity.parents
        for spec in adapter.fields:
            name = spec.name
            if name in parents:
                continue
            value = merged.get(name, "")
            for side, writes, current in (
                    ("kontor", item.to_kontor in ("create", "update"), item.k_rec),
                    ("business", item.to_business in ("insert", "update"), item.b_rec)):
                if not writes or (current is not None and current.get(name, "") == value):
                    continue
                limit = adapter.max_length(name) if side == "kontor" \
                    else self.business.max_length(entity, name)
                try:
                    check_fit(spec, value, limit)
                except UnfitValue as error:
                    error.side = side
                    if side == "kontor" and item.b_row is not None:
                        # the value as the business database stores it ("Netherlands", not
                        # the canonical "NETHERLANDS" that was checked)
                        stored = self.stored_value(entity, item.b_row, name)
                        if stored is not None:
                            error.value = stored
                    raise

    def stored_value(self, entity, row, name):
        """The value of field `name` in the business row tuple `row` as stored (None when
        the layout does not read it)."""
        for spec, value in zip(self.business.fields(entity), row[1:], strict=True):
            if spec.name == name:
                return value
        return None

    # --- writing --------------------------------------------------------------------------
    def write(self, adapter, items):
        entity = adapter.entity
        work = [i for i in items if not i.skip and (i.to_business or i.to_kontor
                                                    or i.merged is not None)]
        if not work:
            return
        business = self.business
        # The business side's lock first, and its rows to compare-and-set read (locked on
        # PostgreSQL), before Kontor's write transaction begins: Kontor's write lock is
        # never held while the business database is waited for (BusinessLocked when it
        # stays locked). Then, as SYNC.md says, the business side is written and committed
        # first and Kontor's side after it, in one transaction.
        with business.write_lock() as held:
            existing = [i.business_key for i in work
                        if i.to_business and i.to_business != "insert" and i.business_key]
            try:
                now = business.current(entity, existing) if existing else {}
            except OperationalError as error:      # a row lock held too long (PostgreSQL)
                if is_lock_error(error):
                    raise BusinessLocked() from error
                raise
            with db.atomic():
                self.fence()
                # Kontor's records still at the counters read? (under the write lock)
                ids = [i.kontor_id for i in work if i.kontor_id and i.k_version is not None]
                now_at = dict(adapter.versions_of(ids)) if ids else {}
                for item in work:
                    if item.kontor_id and item.k_version is not None \
                            and now_at.get(item.kontor_id) != item.k_version:
                        item.skip = "changed_meanwhile"
                self.write_business(entity, [i for i in work
                                             if not i.skip and i.to_business], now)
                held.commit()
                self.interrupt("business-commit")
                self.write_kontor(adapter, [i for i in work if not i.skip])
                self.interrupt("kontor-commit")

    def write_business(self, entity, items, now):
        """Compare-and-set the business rows of a batch (SYNC.md step 6), inside the business
        write transaction: the rows to change or delete are read again in one query (locked),
        a row whose fingerprint is no longer the one read is left for the next cycle
        (`item.skip`); the rest are written, the updates in one statement per set of changed
        fields; then every written row is read once more for its new fingerprint. `now`: the
        rows to change or delete as read (locked) at the start of the business transaction."""
        business = self.business
        updates, written = [], []
        for item in items:
            if item.to_business == "insert":
                try:
                    item.business_key = business.insert(entity, item.merged)
                except KeyNotMade:
                    item.skip = "no_key"
                    self.counts.errors.append(dict(
                        entity=entity, record=str(item.kontor_id),
                        **self.who(entity, item.merged), field="", reason="no_key"))
                    continue
                written.append(item)
            else:
                row = now.get(item.business_key)
                if row is None or fingerprint(row) != item.b_hash:
                    item.skip = "changed_meanwhile"
                    continue
                if item.to_business == "delete":
                    business.delete(entity, item.business_key)
                else:
                    updates.append((item.business_key, item.merged, item.changed))
                    written.append(item)
            self.counts.to_business += 1
            self.interrupt("business")
        if updates:
            business.update_many(entity, updates)
        if written:
            after = business.current(entity, [i.business_key for i in written])
            missing = [i for i in written if i.business_key not in after]
            if missing:      # never bind a key that names no row: roll the batch back
                raise RowsMissing(entity, len(written), len(written) - len(missing))
            for item in written:
                item.b_hash = fingerprint(after[item.business_key])

    def write_kontor(self, adapter, items):
        """Write a batch on Kontor's side, inside the batch's transaction: new records in one
        go (adapter.create_many), changed ones in one go (adapter.update_many); if that
        fails, one by one to find the record that cannot be written; deletes one by one
        through the domain functions, each in a savepoint,
        so that a record that cannot be written is left out whole; then the batch's bindings,
        agreed states and history rows in a few statements."""
        entity = adapter.entity
        creates = [i for i in items if i.to_kontor == "create"]
        restored = [i for i in creates if i.bound]
        if restored:
            self.forget_many(entity, [(i.kontor_id, i.business_key) for i in restored])
        if creates:
            try:
                with db.atomic():
                    ids = adapter.create_many([i.merged for i in creates], self.b2k)
                for item, kid in zip(creates, ids, strict=True):
                    item.kontor_id = kid
                    self.counts.to_kontor += 1
                    self.interrupt("kontor")
            except (IntegrityError, SkipRecord, Refused):
                for item in creates:
                    self.one_record(adapter, item, lambda item=item: setattr(
                        item, "kontor_id", adapter.create(item.merged, self.b2k)))
        updates = [i for i in items if i.to_kontor == "update"]
        if updates:
            try:
                with db.atomic():
                    adapter.update_many([(i.kontor_id, i.k_version, i.merged)
                                         for i in updates], self.b2k)
                self.counts.to_kontor += len(updates)
            except (IntegrityError, SkipRecord, Refused):
                for item in updates:
                    self.one_record(adapter, item, lambda item=item: adapter.update(
                        item.kontor_id, item.k_version, item.merged, self.b2k))
            else:
                for _item in updates:
                    self.interrupt("kontor")
        for item in items:
            if item.to_kontor in ("create", "update"):
                continue
            if item.to_kontor == "delete":
                self.one_record(adapter, item, lambda item=item: adapter.delete(item.kontor_id))
            else:
                self.interrupt("kontor")
        done = [i for i in items if not i.skip]
        gone = [i for i in done if i.to_kontor in ("delete", "forget")
                or i.to_business == "delete"]
        kept = [i for i in done if not (i.to_kontor in ("delete", "forget")
                                        or i.to_business == "delete")]
        self.forget_many(entity, [(i.kontor_id, i.business_key) for i in gone])
        versions = adapter.versions_of([i.kontor_id for i in kept])
        self.bind_many(entity, [(i.kontor_id, i.business_key, adapter.natural_key(i.merged),
                                 i.merged, i.b_hash, versions.get(i.kontor_id, 1))
                                for i in kept])
        self.history_many(entity, done)

    def one_record(self, adapter, item, write):
        """Run `write()` for one record in a savepoint; a record that cannot be written is
        left out (`item.skip`) and named in the run's Error line."""
        try:
            with db.atomic():
                write()
            if item.to_kontor in ("create", "update", "delete"):
                self.counts.to_kontor += 1
        except (SkipRecord, Refused, IntegrityError) as error:
            item.skip = getattr(error, "reason", "refused")
            if adapter.entity == "contacts" and item.to_kontor == "delete":
                self.held.add(item.kontor_id)     # its persons and notes stay with it
            self.counts.errors.append(dict(
                entity=adapter.entity, record=str(item.business_key or item.kontor_id),
                **self.who(adapter.entity, item.merged), field="", reason=item.skip,
                value=getattr(error, "detail", "")[:80]))
        self.interrupt("kontor")

    def bind_many(self, entity, rows):
        """Bind each (Kontor id, business key, natural key, agreed record, business hash,
        Kontor change counter) of `rows`, replacing what either id was bound to (and the
        agreed state of a Kontor id whose business key is bound anew). Only bindings that
        exist are deleted (b2k/k2b hold them): the first sync inserts, it does not search."""
        if not rows:
            return
        b2k, k2b = self.b2k[entity], self.k2b[entity]
        old_kids, old_bkeys = set(), set()
        for kid, bkey, *_rest in rows:
            if kid in k2b:
                old_kids.add(kid)
                old_bkeys.add(k2b[kid])
            if bkey in b2k:
                old_bkeys.add(bkey)
                old_kids.add(b2k[bkey])
        for part in chunks(sorted(old_kids), 400):
            SyncBinding.delete().where(SyncBinding.entity == entity,
                                       SyncBinding.kontor_id.in_(part)).execute()
            SyncBase.delete().where(SyncBase.entity == entity,
                                    SyncBase.kontor_id.in_(part)).execute()
        for part in chunks(sorted(old_bkeys), 400):
            SyncBinding.delete().where(SyncBinding.entity == entity,
                                       SyncBinding.business_key.in_(part)).execute()
        insert_rows(SyncBinding, [dict(entity=entity, kontor_id=kid, business_key=bkey,
                                       natural_key=natural[:300])
                                  for kid, bkey, natural, _m, _h, _v in rows])
        insert_rows(SyncBase, [dict(entity=entity, kontor_id=kid, deleted=False,
                                    agreed=json.dumps(merged, sort_keys=True),
                                    business_hash=bhash, kontor_version=version)
                               for kid, _b, _n, merged, bhash, version in rows])
        for kid, bkey, *_rest in rows:
            if b2k.get(bkey) != kid or k2b.get(kid) != bkey:
                self.rebound.add(entity)
                b2k.pop(k2b.pop(kid, None), None)
                k2b.pop(b2k.pop(bkey, None), None)
            b2k[bkey], k2b[kid] = kid, bkey

    def forget_many(self, entity, pairs):
        """Drop the bindings and agreed states of (Kontor id, business key) `pairs`."""
        kids = [kid for kid, _bkey in pairs if kid is not None]
        for part in chunks(kids, 400):
            SyncBinding.delete().where(SyncBinding.entity == entity,
                                       SyncBinding.kontor_id.in_(part)).execute()
            SyncBase.delete().where(SyncBase.entity == entity,
                                    SyncBase.kontor_id.in_(part)).execute()
        if pairs:
            self.rebound.add(entity)
        for kid, bkey in pairs:
            self.b2k[entity].pop(bkey, None)
            self.k2b[entity].pop(kid, None)

    def history_many(self, entity, items):
        blank = dict(field="", base_value=None, kontor_value=None, business_value=None,
                     resolution="business", row="", label="")
        entries = [entry for item in items for entry in item.history]
        rows = [dict(blank, run=self.run, at=self.clock(), entity=entity,
                     kontor_id=item.kontor_id, business_key=item.business_key or "",
                     **{name: value for name, value in entry.items() if name != "conflict"})
                for item in items for entry in item.history]
        insert_rows(SyncConflict, rows)
        # a delete of a record the other side left alone is no conflict: the run counts it
        # among the records written (SPEC section 8)
        self.counts.conflicts += sum(1 for entry in entries if entry.get("conflict", True))

    def parent_held(self, adapter, record):
        """Whether the Kontor record `record` (canonical) belongs to a contact whose delete is
        held in this cycle (in use, or the mass-delete safeguard): then it is kept with it,
        neither deleted nor put back (atomic per record: the contact with its persons and
        notes)."""
        if not self.held or "contact_id" not in adapter.table.entity.parents:
            return False
        self.maps("contacts")
        return self.b2k["contacts"].get((record or {}).get("contact_id", "")) in self.held

    def business_added(self, entity, business_key):
        """The business rows belonging to the business record `business_key` that are not
        bound yet (new persons or notes since both sides agreed), each as a line of text:
        a Kontor delete of the record against them is a conflict, and the record is
        restored (SYNC.md step 5)."""
        lines = []
        for child, link in self.business.children(entity):
            model = self.business.models[child]
            rows = {str(row.key): row for row in model.select().where(
                getattr(model, link) == self.business.key_value(entity, business_key))}
            bound = {bkey for part in chunks(list(rows)) for (bkey,) in
                     SyncBinding.select(SyncBinding.business_key).where(
                         SyncBinding.entity == child,
                         SyncBinding.business_key.in_(part)).tuples()}
            lines += [_child_line(child, self.business.plain(child, row))
                      for key, row in rows.items() if key not in bound]
        return lines

    def parent_missing(self, adapter, item, detail):
        """A record whose contact (or contact person) is not on its side: named in the run's
        Error line, never skipped silently. When the parent does not exist at all
        ("orphan"): the record itself, with the parent's key. When the parent exists but is
        not bound (a customer-number clash reported in the sync history, or not synced yet):
        one entry per parent ("parent_unbound")."""
        entity = adapter.entity
        name, _sep, parent_key = (detail or "").partition("=")
        parent_entity = adapter.table.entity.parents.get(name)
        record = item.merged or item.b_rec or item.k_rec or {}
        if not parent_entity:
            name = next(iter(adapter.table.entity.parents), "")
            parent_entity = adapter.table.entity.parents.get(name, "contacts")
            parent_key = record.get(name, "")
        side = "business" if item.b_rec is not None else "kontor"
        if side == "business" and parent_key and not self.business.fetch(
                parent_entity, [parent_key]):
            self.counts.errors.append(dict(
                entity=entity, record=str(item.business_key or item.kontor_id),
                **self.who(entity, record), field=name, reason="orphan",
                parent_entity=parent_entity, parent_key=parent_key,
                table=self.business.layout[parent_entity].table))
            return
        named = self.who(entity, record)
        if side == "kontor" and item.kontor_id and parent_entity == "contacts":
            # Kontor's record: its contact as Kontor names it (it has no business key)
            found = (Contact.select(Contact.id, Contact.customer_number, Contact.name)
                     .join(adapter.model, on=(adapter.model.contact == Contact.id))
                     .where(adapter.model.id == item.kontor_id).tuples().first())
            if found:
                parent_key = f"kontor:{found[0]}"
                named["parent"] = f"{found[1]} {found[2]}"
        if (entity, parent_entity, parent_key, side) in self.parents_named:
            return
        self.parents_named.add((entity, parent_entity, parent_key, side))
        self.counts.errors.append(dict(
            entity=entity, record=str(item.business_key or item.kontor_id),
            **named, field=name, reason="parent_unbound", side=side,
            parent_entity=parent_entity, parent_key=parent_key))

    def error(self, entity, key, error, record, side="kontor"):
        """A record with a value that does not fit its field where it would be written (or
        that is not the field's kind at all): left out, and named in the run's Error line
        once (code "unfit_value"): the record as a person names it (who), the field, what
        is wrong and the value's start."""
        if (entity, key) in self.logged:      # a business key is text, a Kontor id a number
            return
        self.logged.add((entity, key))
        limit = error.limit
        self.counts.errors.append(dict(
            entity=entity, record=str(key), **self.who(entity, record), field=error.field,
            reason="unfit_value", problem=error.problem, side=side,
            kind=self.business.layout[entity].entity.field(error.field).kind,
            limit=list(limit) if isinstance(limit, tuple) else limit,
            value=str(error.value)[:80]))

    def who(self, entity, record):
        """How a person names the record in the sync log (issue 16: never by a business
        key): {"label": …} and, for what belongs to a contact, {"parent": its contact}. A
        contact: customer number and name; an employee: the e-mail address (the name when
        there is none); a contact person: the name; a note: its time; the parent contact:
        customer number and name."""
        record = record or {}
        if entity == "contacts":
            return {"label": _short(" ".join(filter(None, (record.get("customer_number", ""),
                                                           record.get("name", "")))))}
        if entity == "employees":
            return {"label": _short(record.get("email") or record.get("name", ""))}
        parent = self.contact_named(record.get("contact_id", ""))
        if entity == "contact_persons":
            return {"label": _short(record.get("name", "")), "parent": parent}
        return {"label": record.get("created_at", "")[:16], "parent": parent}

    def contact_named(self, business_key):
        """"customer number name" of the contact with `business_key`: Kontor's copy when it
        is bound, else the business row; "" when neither is found."""
        if not business_key:
            return ""
        kontor_id = self.b2k["contacts"].get(business_key)
        if kontor_id is not None:
            found = Contact.select(Contact.customer_number, Contact.name).where(
                Contact.id == kontor_id).tuples().first()
            if found:
                return f"{found[0]} {found[1]}"
        row = self.business.fetch("contacts", [business_key]).get(business_key)
        if row is None:
            return ""
        return self.who("contacts", self.business.rough_record("contacts", row))["label"]


CONFIRMATION_HOURS = 24      # a mass-delete confirmation not used within this is void


def mass_deletes(run) -> list:
    """The mass-delete entries of the Error line `run` (a SyncRun): [{"entity", "count",
    "total", "table", …}]; [] for another line."""
    try:
        problem = json.loads(run.error) if run.error else {}
    except ValueError:
        return []
    if not isinstance(problem, dict):
        return []
    return [entry for entry in problem.get("records", [])
            if isinstance(entry, dict) and entry.get("reason") == "mass_delete"]


def confirm_mass_deletes(run, user_name, now):
    """Record on the Error line `run` that a superuser (`user_name`) confirmed its mass
    deletes at `now` (naive UTC): the next cycle applies up to that many deletes of each
    entity named, once. Returns the confirmed entries ([] when the line has none: nothing
    is recorded). The caller audits it."""
    entries = mass_deletes(run)
    if not entries:
        return []
    problem = json.loads(run.error)
    problem["confirmed"] = {"by": user_name, "at": now.isoformat(timespec="seconds")}
    problem.pop("applied", None)
    with db.atomic():
        SyncRun.update(error=json.dumps(problem, ensure_ascii=False)).where(
            SyncRun.id == run.id).execute()
    return entries


def confirmed_deletes(entity, count, now):
    """The Error line (SyncRun) whose confirmation, not used yet and at most
    CONFIRMATION_HOURS old at `now`, allows `count` deletes of `entity`; None if none."""
    since = now - timedelta(hours=CONFIRMATION_HOURS)
    for run in (SyncRun.select().where(SyncRun.status == "error",
                                       SyncRun.error.contains('"confirmed"'))
                .order_by(SyncRun.id.desc()).limit(20)):
        problem = json.loads(run.error)
        confirmed = problem.get("confirmed") or {}
        if entity in (problem.get("applied") or {}) or \
                confirmed.get("at", "") < since.isoformat(timespec="seconds"):
            continue
        for entry in mass_deletes(run):
            if entry.get("entity") == entity and int(entry.get("count", 0)) >= count:
                return run
    return None


def use_confirmation(run_id, entity, used_by):
    """Mark the confirmation of the Error line `run_id` as used for `entity` by the run
    `used_by` (a later cycle needs a new one)."""
    run = SyncRun.get_or_none(SyncRun.id == run_id)
    if run is None:
        return
    problem = json.loads(run.error)
    problem.setdefault("applied", {})[entity] = used_by
    SyncRun.update(error=json.dumps(problem, ensure_ascii=False)).where(
        SyncRun.id == run_id).execute()


def run_cycle(business_database, layout, node=None, first=False, interrupt=None,
              clock=utcnow, ttl=LEASE_TTL, batch=BATCH, on_progress=None,
              mass_delete=MASS_DELETE):
    """Run one cycle if `node` holds (or can take) the sync lease. Returns the SyncRun line
    it wrote (or the earlier quiet line it was folded into), or None when another process
    holds the lease. `business_database` is a connected Peewee database; `layout` its
    Layout. What goes wrong is written as an Error line (see `_finish`), never raised, except
    Interrupted (the tests' hook)."""
    node = node or jobs.NODE_ID
    if not jobs.take_lease(LEASE_NAME, node, ttl, now=clock()):
        return None
    epoch = JobLease.get_by_id(LEASE_NAME).epoch
    cycle = Cycle(BusinessSide(business_database, layout), node, epoch, first=first,
                  interrupt=interrupt, clock=clock, ttl=ttl, batch=batch,
                  on_progress=on_progress, mass_delete=mass_delete)
    with db.atomic():
        cycle.run = SyncRun.create(node=node, epoch=epoch, started_at=clock(), first=first)
    error = None
    try:
        for entity in ORDER:
            cycle.sync_entity(entity)
            cycle.on_progress(entity, True)
    except Interrupted:
        _finish(cycle, {"code": "interrupted"})
        raise
    except LeaseLost:
        error = {"code": "lease_lost"}
    except BusinessLocked:
        log.warning("sync cycle stopped: the business database is locked by another program")
        error = {"code": "business_locked", "seconds": int(BUSINESS_LOCK_SECONDS)}
    except Exception as exc:   # noqa: BLE001 - the log line says what went wrong
        error = _failure(business_database, layout, exc)
    if error is None and cycle.counts.errors:
        # held mass deletes first: they are never among the entries cut off
        errors = sorted(cycle.counts.errors, key=lambda e: e.get("reason") != "mass_delete")
        error = {"code": "records", "records": errors[:50], "more": max(0, len(errors) - 50)}
    return _finish(cycle, error)


def _child_line(entity, record) -> str:
    """A new person or note as one line of the sync history ("Contact person: name",
    "Note: text")."""
    if entity == "note_entries":
        return f"{record.get('created_at', '')[:16]} {record.get('text', '')}".strip()
    return record.get("name", "") or record.get("email", "")


def _short(text, length=100):
    """`text` cut to `length` characters with "…" (a record's name in the sync log)."""
    return text if len(text) <= length else text[:length - 1] + "…"


def _failure(business_database, layout, exc) -> dict:
    """The Error of a cycle that stopped with `exc`: when the business database lacks a table
    or column of the layout now (dropped or renamed while the sync was active) or a column
    has another type, that problem by name ("table_missing", "column_missing", "wrong_type",
    as Test connection says it); otherwise "failed" with the error's text."""
    if isinstance(exc, OperationalError) and is_lock_error(exc) and (
            _pg_lock_timeout(exc) or _business_locked(business_database)):
        log.warning("sync cycle failed: the business database is locked by another program")
        return {"code": "business_locked", "seconds": int(BUSINESS_LOCK_SECONDS)}
    if isinstance(exc, DatabaseError):
        try:
            check_layout(business_database, layout, count=False)
        except BusinessDatabaseError as problem:
            log.warning("sync cycle failed: %s %s", problem.code, problem.params)
            return {"code": problem.code, **problem.params}
        except Exception:   # noqa: BLE001 - the database is not answering: say what failed
            pass
    log.exception("sync cycle failed")
    return {"code": "failed", "detail": f"{type(exc).__name__}: {exc}"[:1000]}


def _pg_lock_timeout(exc) -> bool:
    """PostgreSQL's lock_timeout (55P03): only the business side's transactions set one."""
    return "55P03" in (getattr(exc, "pgcode", None) or "",
                       getattr(getattr(exc, "orig", None), "pgcode", None) or "") \
        or "lock timeout" in str(exc).lower()


def _business_locked(business_database) -> bool:
    """Whether another program holds the business database's write lock now (SQLite: BEGIN
    IMMEDIATE fails at once), so that a "database is locked" is named as the business
    database's and not Kontor's. Always False on PostgreSQL (its lock_timeout is caught as
    BusinessLocked where it happens)."""
    if not isinstance(business_database, SqliteDatabase):
        return False
    try:
        business_database.execute_sql("PRAGMA busy_timeout = 0")
        with business_database.atomic(lock_type="IMMEDIATE"):
            pass
    except OperationalError as error:
        return is_lock_error(error)
    finally:
        try:
            business_database.execute_sql(
                f"PRAGMA busy_timeout = {int(BUSINESS_LOCK_SECONDS * 1000)}")
        except OperationalError:
            pass
    return False


def error_line(node, error, clock=utcnow, epoch=0):
    """Write an Error line to the sync log for a cycle that could not start (the business
    database unreachable, the login refused …): `error` is {"code": …, params}. Returns it."""
    with db.atomic():
        now = clock()
        return SyncRun.create(node=node, epoch=epoch, started_at=now, finished_at=now,
                              status="error", error=json.dumps(error, ensure_ascii=False))


def _finish(cycle, error):
    """Close the cycle's log line: OK with its counts, or Error with `error` (a dict, stored
    as JSON: {"code": "records"|"lease_lost"|"failed"|"interrupted", …}). A quiet cycle
    (nothing written, no conflict) after a quiet OK line is folded into that line."""
    counts, run = cycle.counts, cycle.run
    if not error or error.get("code") == "records":
        with db.atomic():
            for confirmed, entity in cycle.confirmations:
                use_confirmation(confirmed, entity, run.id)
    quiet = not error and not (counts.to_business or counts.to_kontor or counts.conflicts)
    with db.atomic():
        if quiet and not cycle.first:
            previous = (SyncRun.select().where(SyncRun.id < run.id)
                        .order_by(SyncRun.id.desc()).first())
            if previous is not None and previous.status == "ok" and not previous.first \
                    and not (previous.to_business or previous.to_kontor or previous.conflicts):
                SyncRun.update(quiet_runs=SyncRun.quiet_runs + 1, finished_at=cycle.clock(),
                               read=counts.read).where(SyncRun.id == previous.id).execute()
                SyncConflict.update(run=previous.id).where(SyncConflict.run == run.id).execute()
                SyncRun.delete().where(SyncRun.id == run.id).execute()
                return SyncRun.get_by_id(previous.id)
        SyncRun.update(status="error" if error else "ok",
                       error=json.dumps(error, ensure_ascii=False) if error else "",
                       read=counts.read,
                       to_business=counts.to_business, to_kontor=counts.to_kontor,
                       conflicts=counts.conflicts, finished_at=cycle.clock(),
                       quiet_runs=1 if quiet else 0).where(SyncRun.id == run.id).execute()
    return SyncRun.get_by_id(run.id)
