"""The deferred database `db`, how Kontor opens it, and what every model and hot query shares.

The database itself is chosen by `open_database(url)` (SQLite by default, PostgreSQL by
`DATABASE_URL`) and bound to the proxy `db`. Here too: `is_sqlite` and `locked` for the few
places where the two databases differ, `Prepared` for a hot query whose SQL is generated once,
and `BaseModel`, the base of every model.
"""
import inspect
from datetime import datetime

from peewee import DatabaseProxy, Model, Value
from playhouse.db_url import connect

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": 1,          # NORMAL: safe with WAL, much faster than FULL
    "cache_size": -64000,      # 64 MB page cache
    "busy_timeout": 10000,     # wait up to 10 s for a writer instead of failing at once
}


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
        database = connect(url, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE",
                           check_same_thread=False, max_connections=32, stale_timeout=300)
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
    Calling returns the query's rows, as the same query would (models, tuples...)."""

    def __init__(self, build, arity=None):
        self._build = build
        self._arity = arity if arity is not None else len(inspect.signature(build).parameters)
        self._compiled = {}

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
        return list(query._get_cursor_wrapper(cursor))

    def rows(self, *args):
        """The driver's own rows, unconverted: for hundreds of rows of plain columns. (A
        datetime is text on SQLite: see `as_datetime`.)"""
        return self._cursor(args)[1].fetchall()


def as_datetime(value):
    """A datetime that did not pass through a model field (a column of a `Prepared.rows` row,
    an aggregate such as MIN): text on SQLite, a datetime on PostgreSQL. None stays None."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class BaseModel(Model):
    """The base of every model: it lives in `db`, and its table is its name in snake_case."""
    class Meta:
        database = db
        legacy_table_names = False
