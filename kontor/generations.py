"""Values kept in memory while the database says nothing they depend on has changed.

A generation is a counter in the table `list_generation` that database triggers raise, in the
writing transaction, whenever a change could alter what a list shows: "contact" (migration
0006: the contact list), "support_case" and "case_answers" (migration 0016: the case list's
order and matches, the satisfaction line). Whoever writes (this process, another one, psql),
a value is never used after such a change has committed: each use reads the generations
first, one small indexed query. kontor/contacts/searching.py keeps its result ids this way;
`KeptWhileUnchanged` is the same for the support pages (issue 12 item 26).
"""
import contextvars
import threading
from contextlib import contextmanager

from models import db

# the generations as read once in a `read_once` block (None outside one)
_read = contextvars.ContextVar("kontor_generations_read", default=None)


@contextmanager
def read_once():
    """A block in which every generation is read at most once, all of them at the first use
    (the table has a row per kept kind of list): for a page that writes nothing (a GET) and
    uses several kept values, such as the case list's search ids and satisfaction line, which
    read their generations in a query each before (issue 12 item 26: one round trip fewer on
    PostgreSQL). Not for a block that writes: a value made after its own write would be kept
    under the generations read before it."""
    token = _read.set({})
    try:
        yield
    finally:
        _read.reset(token)


def current(names):
    """The values of the generations `names` (a tuple), in that order; None for one the
    database does not have (a schema before its migration). In a `read_once` block, as read
    at its first use."""
    seen = _read.get()
    if seen is not None:
        if not seen:
            seen.update(db.execute_sql("SELECT name, value FROM list_generation").fetchall())
            seen[None] = None      # read (also when the table is empty)
        return tuple(seen.get(name) for name in names)
    marks = ", ".join([db.param] * len(names))
    found = dict(db.execute_sql(
        f"SELECT name, value FROM list_generation WHERE name IN ({marks})", list(names)
    ).fetchall())
    return tuple(found.get(name) for name in names)


class KeptWhileUnchanged:
    """Values by key, each kept while the generations `names` stay as they were when it was
    made; at most `max_entries` of them, all of the current generations."""

    def __init__(self, names, max_entries=64):
        self.names = tuple(names)
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._values = {}    # (database, generations, key) -> value

    def clear(self):
        """Forget every kept value."""
        with self._lock:
            self._values.clear()

    def get(self, key, make):
        """The value kept for `key` (hashable), or `make()`'s, which is kept unless it is
        None. The database object itself is part of the key, not its id(): a later one
        could be given the same id."""
        generations = current(self.names)
        if None in generations:
            return make()
        full = (db.obj, generations, key)
        with self._lock:
            if full in self._values:
                return self._values[full]
        value = make()
        if value is None:
            return None
        with self._lock:
            for old in [k for k in self._values if k[:2] != full[:2]]:
                del self._values[old]        # an earlier generation's are never used again
            if len(self._values) >= self.max_entries:
                self._values.pop(next(iter(self._values)))    # the oldest
            self._values[full] = value
        return value
