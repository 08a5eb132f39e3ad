"""The deferred database `db`, how Kontor opens it, and what every model and hot query shares.

The database itself is chosen by `open_database(url)` (SQLite by default, PostgreSQL by
`DATABASE_URL`) and bound to the proxy `db`. Here too: `is_sqlite` and `locked` for the few
places where the two databases differ, `Prepared` for a hot query whose SQL is generated once,
and `BaseModel`, the base of every model.
"""
import collections
import inspect
import logging
import threading
import time
import uuid
from array import array
from datetime import datetime

from peewee import DatabaseProxy, Model, OperationalError, Value
from playhouse.db_url import connect, parse
from playhouse.pool import PooledSqliteDatabase

db = DatabaseProxy()
log = logging.getLogger(__name__)

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": 1,          # NORMAL: safe with WAL, much faster than FULL
    # 4 MB of page cache per connection (SQLite's default is 2 MB). The cache is per
    # connection, and a served Kontor holds one per busy thread (8 waitress threads and the
    # jobs'): at 64 MB each, 8 clients browsing 100,000 contacts grew the process to 570 MB
    # (issue 12 item 27; bench/memory.py). Pages not in it come from the operating system's
    # file cache, which all connections share, at a few microseconds a page.
    "cache_size": -4000,
    "busy_timeout": 10000,     # wait up to 10 s for a writer instead of failing at once
}
SLOW_LOCK_WAIT_SECONDS = 1.0   # a write that waits longer for the lock is logged (issue 10 item 1)


class LockWaits:
    """How long write transactions waited for SQLite's write lock in this process, and how
    long they held it: the longest of each and how many transactions began, for the log and
    bench/import_load.py. Thread-safe; seconds as floats."""

    def __init__(self):
        self._lock = threading.Lock()
        self.longest = 0.0
        self.longest_hold = 0.0
        self.count = 0

    def held(self, seconds: float):
        """Note that a transaction held the lock for `seconds` (BEGIN to COMMIT/ROLLBACK)."""
        with self._lock:
            self.longest_hold = max(self.longest_hold, seconds)

    def record(self, seconds: float):
        """Count one transaction that waited `seconds` for the lock; log one that waited
        over SLOW_LOCK_WAIT_SECONDS (a warning: someone held the lock too long)."""
        with self._lock:
            self.count += 1
            self.longest = max(self.longest, seconds)
        if seconds > SLOW_LOCK_WAIT_SECONDS:
            log.warning("a write waited %.1f s for the database's write lock", seconds)

    def summary(self) -> str:
        """One line for the log: the longest wait in ms and the number of transactions."""
        with self._lock:
            return (f"longest wait for the database's write lock: {self.longest * 1000:.0f} ms "
                    f"over {self.count} write transactions; longest held: "
                    f"{self.longest_hold * 1000:.0f} ms")


lock_waits = LockWaits()


class WriteQueue:
    """First come, first served for SQLite's one write lock among this process's threads.

    SQLite lets a waiting writer poll for the lock, sleeping up to 100 ms between tries, so
    with 20 clients writing a newcomer often took the lock before someone who had waited a
    second (issue 10 item 1: 1.6 s waits while no transaction held the lock 0.5 s). Here a
    writer waits its turn on a condition and is woken the moment the one before it ends.
    `enter(timeout)` returns False when the turn has not come within `timeout` seconds;
    `leave()` ends the calling thread's turn (harmless when it has none)."""

    def __init__(self):
        self._condition = threading.Condition()
        self._waiting = collections.deque()
        self._owner = None

    def enter(self, timeout: float) -> bool:
        me = threading.get_ident()
        with self._condition:
            if self._owner == me:     # a transaction of this thread whose end went unseen
                return True
            place = object()
            self._waiting.append(place)
            deadline = time.monotonic() + timeout
            try:
                while self._owner is not None or self._waiting[0] is not place:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._condition.wait(remaining)
                self._owner = me
                return True
            finally:
                self._waiting.remove(place)
                self._condition.notify_all()

    def leave(self):
        with self._condition:
            if self._owner == threading.get_ident():
                self._owner = None
                self._condition.notify_all()


class KontorSqliteDatabase(PooledSqliteDatabase):
    """SQLite with a pool of connections whose writers take turns (`WriteQueue`) before
    `begin` (BEGIN IMMEDIATE: the write lock), timed into `lock_waits`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.write_queue = WriteQueue()

    def begin(self, lock_type=None):
        started = time.perf_counter()
        if not self.write_queue.enter(SQLITE_PRAGMAS["busy_timeout"] / 1000):
            lock_waits.record(time.perf_counter() - started)
            raise OperationalError("database is locked (no turn to write within the timeout)")
        try:
            super().begin(lock_type)
        except BaseException:
            self.write_queue.leave()
            raise
        self._state.began = time.perf_counter()    # per thread, as the connection is
        lock_waits.record(self._state.began - started)

    def commit(self):
        try:
            return super().commit()
        finally:
            self._ended()

    def rollback(self):
        try:
            return super().rollback()
        finally:
            self._ended()

    def close(self):
        self.write_queue.leave()     # never keep the turn past the connection
        return super().close()

    def _ended(self):
        self.write_queue.leave()
        began = self._state.__dict__.pop("began", None)
        if began is not None:
            lock_waits.held(time.perf_counter() - began)


def open_database(url: str):
    """Open the database named by `url` with Kontor's settings and bind it to `db`.

    SQLite gets the WAL pragmas and `lock_type='IMMEDIATE'`, so that every `db.atomic()`
    takes the write lock when it begins: a transaction that reads and then writes would
    otherwise fail at once with "database is locked" under concurrent writers.
    Returns the opened database (also `db.obj` from then on).
    """
    if url.startswith("sqlite"):
        if not url.startswith("sqlite+pool"):
            url = "sqlite+pool" + url[len("sqlite"):]
        database = KontorSqliteDatabase(**parse(url), pragmas=SQLITE_PRAGMAS,
                                        lock_type="IMMEDIATE", check_same_thread=False,
                                        max_connections=32, stale_timeout=300)
    else:
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+pool://" + url[len("postgresql://"):]
        database = connect(url, max_connections=32, stale_timeout=300)
    db.initialize(database)
    return database


def is_sqlite() -> bool:
    """Whether `db` is bound to SQLite (False while nothing is bound yet)."""
    return db.obj is not None and db.obj.__class__.__name__.endswith("SqliteDatabase")


def locked(query):
    """`SELECT … FOR UPDATE` where the database has it. SQLite has no row locks, but there
    every `db.atomic()` is IMMEDIATE and holds the one write lock, which serialises the same."""
    return query if is_sqlite() else query.for_update()


class _Arg:
    """Where the n-th argument of a `Prepared` query goes in its parameters."""
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class Prepared:
    """A query whose SQL is generated once per kind of database, then run with new arguments.

    Generating SQL is the dearest part of a small indexed query in Peewee (0.1-0.2 ms, several
    times what SQLite takes to answer it), and a contact page runs several of them.
    `build(*args)` returns the query with each argument where a value goes; the arguments
    are passed to the driver as they are (plain ids, strings and numbers; no conversion).
    Calling returns the query's rows, as the same query would (models, tuples...).

    Turning rows into models has a fixed cost of its own in Peewee, as large again: matching
    the cursor's columns with the selected fields and the joins with the models to make
    (0.2-0.3 ms for a case with its customer, category and type, issue 12 item 26). That
    depends only on the query, so it is worked out at the first rows and kept with the SQL."""

    # what a Peewee result wrapper works out per execution (the rest it derives from the
    # query and the cursor's columns, the same each time: kept in `_readers`)
    _PER_EXECUTION = frozenset(("cursor", "count", "index", "initialized", "populated",
                                "row_cache"))

    def __init__(self, build, arity=None):
        self._build = build
        self._arity = arity if arity is not None else len(inspect.signature(build).parameters)
        self._compiled = {}
        self._readers = {}     # kind of database -> a wrapper's worked-out state

    def _compile(self):
        query = self._build(*[Value(_Arg(i), converter=False) for i in range(self._arity)])
        sql, params = query.sql()
        compiled = self._compiled[type(db.obj)] = (query, sql, params)
        return compiled

    def _cursor(self, args):
        query, sql, params = self._compiled.get(type(db.obj)) or self._compile()
        values = [args[p.index] if isinstance(p, _Arg) else p for p in params]
        return query, db.execute_sql(sql, values)

    def __call__(self, *args):
        query, cursor = self._cursor(args)
        wrapper = query._get_cursor_wrapper(cursor)
        reader = self._readers.get(type(db.obj))
        if reader is not None:
            wrapper.__dict__.update(reader)
            wrapper.initialized = True
        rows = list(wrapper)
        if reader is None and wrapper.initialized:     # (a query without rows: next time)
            self._readers[type(db.obj)] = {name: value for name, value in vars(wrapper).items()
                                           if name not in self._PER_EXECUTION}
        return rows

    def query(self, *args):
        """The query itself for these arguments, as a Peewee query whose SQL is written anew:
        for a rare use that changes it (a count, say). Each argument is a value as it is
        (no conversion); None stays None (`limit(None)`: no limit)."""
        return self._build(*[None if arg is None else Value(arg, converter=False)
                             for arg in args])

    def rows(self, *args):
        """The driver's own rows, unconverted: for hundreds of rows of plain columns. (A
        datetime is text on SQLite: see `as_datetime`.)"""
        return self._cursor(args)[1].fetchall()

    def cursor(self, *args):
        """The driver's cursor of the query run with these arguments, not yet read: for
        `id_array`."""
        return self._cursor(args)[1]


class _Fetched:
    """A PostgreSQL cursor (DECLARE … CURSOR) read `size` rows per FETCH, as the `fetchone`
    cursor a Peewee result wrapper reads."""

    def __init__(self, name, size):
        self._fetch = f"FETCH FORWARD {int(size)} FROM {name}"
        first = db.execute_sql(self._fetch)
        self.description = first.description
        self._rows = first.fetchall()[::-1]

    def fetchone(self):
        if not self._rows:
            self._rows = db.execute_sql(self._fetch).fetchall()[::-1]
        return self._rows.pop() if self._rows else None

    def close(self):
        """The cursor is closed by `stream` (CLOSE), not by the wrapper."""


# Values one statement carries: under SQLite's limit of 32,766 parameters (PostgreSQL's is
# 65,535). About 1,000 contacts of 31 columns: a batch of an import is one INSERT, so the
# importing thread goes back to Python (and waits for the GIL) as seldom as possible while it
# holds the write lock.
MAX_PARAMETERS = 32_000


def insert_statements(model, rows):
    """The multi-row INSERTs of `rows` (dicts with the same keys: field names of `model`),
    as a list of (sql, params), made without touching the database. The SQL is written here
    once per chunk rather than by Peewee's `insert_many`, which spends about 0.1 ms a value
    generating it (issue 10 item 1); values go through each field's `db_value` as Peewee
    passes them; as many rows per statement as MAX_PARAMETERS allows."""
    if not rows:
        return []
    fields = [model._meta.fields[name] for name in rows[0]]
    columns = ", ".join(f'"{field.column_name}"' for field in fields)
    one_row = "(" + ", ".join([db.param] * len(fields)) + ")"
    per_statement = max(1, MAX_PARAMETERS // len(fields))
    statements = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        statements.append((f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES '
                           + ", ".join([one_row] * len(chunk)),
                           [field.db_value(row[field.name]) for row in chunk
                            for field in fields]))
    return statements


def insert_rows(model, rows, returning=False):
    """Run `insert_statements(model, rows)`. Returns the new ids in the order of `rows` when
    `returning` (RETURNING: SQLite 3.35+, PostgreSQL), else []. One statement's rows get
    ascending ids in the order of its VALUES (SQLite's rowids, a PostgreSQL sequence's
    values), while RETURNING's own order is not promised: so the ids are sorted. Call it
    inside a transaction."""
    ids = []
    for sql, params in insert_statements(model, rows):
        if returning:
            cursor = db.execute_sql(sql + ' RETURNING "id"', params)
            ids += sorted(row[0] for row in cursor.fetchall())
        else:
            db.execute_sql(sql, params)
    return ids


def update_row(model, row_id, values, version=None) -> int:
    """UPDATE the row `row_id` of `model` with `values` ({field name: value}) and move its
    `version` on, if it is still at `version` (any version when None); the number of rows
    changed (0 or 1). The SQL is written here: Peewee spends about 0.1 ms a column generating
    it, and the sync saves records by the hundred (issue 16)."""
    fields = [model._meta.fields[name] for name in values]
    assignments = "".join(f'"{field.column_name}" = {db.param}, ' for field in fields)
    params = [field.db_value(values[field.name]) for field in fields] + [row_id]
    sql = (f'UPDATE "{model._meta.table_name}" SET {assignments}"version" = "version" + 1 '
           f'WHERE "id" = {db.param}')
    if version is not None:
        sql += f' AND "version" = {db.param}'
        params.append(version)
    return db.execute_sql(sql, params).rowcount


def stream(query, rows_at_a_time=500):
    """Yield the rows of `query` (models, tuples... as the query would) without holding the
    whole result in memory: on SQLite the cursor steps through it; on PostgreSQL a cursor
    (DECLARE … CURSOR, in a transaction of its own) is fetched `rows_at_a_time` rows at a
    time, where psycopg2 would read every row into this process first (8 exports of 20,000
    contacts at once took a served Kontor past 230 MB; issue 12 item 27). Consume it to the
    end or close it (a response that is cut off does)."""
    if is_sqlite():
        yield from query.iterator()
        return
    sql, params = query.sql()
    name = f"kontor_stream_{uuid.uuid4().hex}"
    with db.atomic():
        db.execute_sql(f"DECLARE {name} NO SCROLL CURSOR FOR {sql}", params)
        try:
            yield from query._get_cursor_wrapper(_Fetched(name, rows_at_a_time)).iterator()
        finally:
            db.execute_sql(f"CLOSE {name}")


ID_CHUNK = 2_000


def id_array(cursor):
    """The first column of every row of `cursor` (whole numbers that fit in 32 bits: ids), as
    an array('i'), read ID_CHUNK rows at a time: fetchall() of 80,000 ids made 80,000 row
    tuples and int objects first, about 8 MB for a moment, and eight requests doing so at
    once took a served Kontor past 200 MB (issue 12 item 27; bench/memory.py)."""
    ids = array("i")
    while rows := cursor.fetchmany(ID_CHUNK):
        ids.extend([row[0] for row in rows])
    return ids


def as_datetime(value):
    """A datetime that did not pass through a model field (a column of a `Prepared.rows` row,
    an aggregate such as MIN): text on SQLite, a datetime on PostgreSQL. None stays None."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class BaseModel(Model):
    """The base of every model: it lives in `db`, and its table is its name in snake_case."""
    class Meta:
        database = db
        legacy_table_names = False
