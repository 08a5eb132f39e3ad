"""Finding contacts (SPEC section 6): the contact list's search, sorting and paging, the
filtered list for the CSV export, and the cache of result ids that makes paging cheap.

Search matches substrings of the folded text ("ans" finds "Jansen", "Soren" finds "Søren")
through an FTS5 trigram index on SQLite and a pg_trgm index on PostgreSQL (migration 0004).
"""
import threading
from collections import OrderedDict
from dataclasses import dataclass

from peewee import SQL, NodeList, Tuple, fn

from kontor import paging
from kontor.search import contains
from kontor.text import search_terms, whole_number
from models import Contact, Prepared, db, id_array, is_sqlite

SORTS = {
    "name": (Contact.sort_name, Contact.id),
    "-name": (Contact.sort_name.desc(), Contact.id.desc()),
    "number": (Contact.customer_number,),
    "-number": (Contact.customer_number.desc(),),
    "city": (Contact.sort_city, Contact.sort_name, Contact.id),
    "-city": (Contact.sort_city.desc(), Contact.sort_name.desc(), Contact.id.desc()),
}


@dataclass
class Result:
    """One page of the contact list: its rows, how many match, where the page is."""
    contacts: list
    total: int          # exact up to COUNT_LIMIT, else COUNT_LIMIT + 1 ("more than")
    page: int
    per_page: int
    has_next: bool = False
    sort: str = "name"

    def at(self, row):
        """What a link to the next (or previous) page carries besides `row`'s id: the row's
        values of the sort's columns as shown now (SORT_KEYS, without the id), so the page
        starts where this one ended even if someone renames `row` meanwhile."""
        return [getattr(row, column) for column in SORT_KEYS[self.sort.lstrip("-")]
                if column != "id"]

    @property
    def pages(self):
        return max(1, -(-min(self.total, COUNT_LIMIT) // self.per_page))

    @property
    def total_is_exact(self):
        return self.total <= COUNT_LIMIT


COUNT_LIMIT = 1000   # beyond this the list says "more than 1,000" instead of counting
LIST_COLUMNS = (Contact.id, Contact.customer_number, Contact.kind, Contact.name, Contact.city,
                Contact.phone, Contact.mobile, Contact.email, Contact.active,
                Contact.sort_name, Contact.sort_city)


def _matching(query, terms):
    if not terms:
        return query
    if is_sqlite():
        # The FTS5 trigram index answers a phrase MATCH ("jans") from its position lists,
        # without reading the rows: several times faster than LIKE. A phrase needs 3+
        # characters; shorter terms are matched on the row itself (instr: a plain substring
        # test, so % and _ are ordinary characters everywhere).
        indexed = [t for t in terms if len(t) >= 3]
        if indexed:
            phrase = " AND ".join('"' + t.replace('"', '""') + '"' for t in indexed)
            query = query.where(Contact.id.in_(SQL(
                "(SELECT rowid FROM contact_fts WHERE contact_fts MATCH ?)", [phrase])))
        for term in terms:
            if term not in indexed:
                query = query.where(contains(Contact.search_text, term))
        return query
    # pg_trgm's GIN index answers LIKE '%term%'. The text is folded already, so LIKE (not
    # ILIKE, which lower-cases every row it tests: four times slower); % and _ in the term are
    # escaped, so they are plain characters here too, as on SQLite above ("jan_de" in tests).
    # The matches are gathered first, as an array: left to itself the planner walks the sort
    # index and tests every row, ten times slower for a common word.
    matches = Contact.select(Contact.id)
    for term in terms:
        matches = matches.where(contains(Contact.search_text, term))
    return query.where(Contact.id == fn.ANY(NodeList((SQL("ARRAY"), matches), glue="")))


# the columns that order each sort, ending in a unique one, for keyset paging
SORT_KEYS = {"name": ("sort_name", "id"), "number": ("customer_number",),
             "city": ("sort_city", "sort_name", "id")}


def _boundary(columns, row_id, at):
    """The boundary of a keyset page as values for `columns`: the sort values `at` the link
    carried (Result.at: the values shown when the page was made) with the row's id, or None
    when `at` does not fit the sort (an older link: the row's current values are read then).
    Values go to the database as parameters, never into the SQL text."""
    wanted = [c for c in columns if c != "id"]
    if at is None or len(at) != len(wanted):
        return None
    values = []
    for column, value in zip(wanted, at, strict=True):
        if column == "customer_number":
            value = whole_number(value)
            if value is None:
                return None
        values.append(value)
    return values + [row_id] if "id" in columns else values


def _after(query, sort, row_id, forward, at=None):
    """Rows after (or before) the row `row_id` in the sort order: keyset paging, so a deep
    page costs what the first one does. The boundary is the row's sort values as the link
    carried them (`at`), or, for a link without them, as the database has them now."""
    descending = sort.startswith("-")
    columns = SORT_KEYS[sort.lstrip("-")]
    key = Tuple(*(getattr(Contact, c) for c in columns))
    values = _boundary(columns, row_id, at)
    if values is None:
        boundary = SQL(f"(SELECT {', '.join(columns)} FROM contact WHERE id = {db.param})",
                       [row_id])
    else:
        boundary = Tuple(*values)
    return query.where(key > boundary if forward != descending else key < boundary)


def search(text="", sort="name", page=1, per_page=50, include_inactive=False, after=None,
           before=None, at=None):
    """One page of contacts matching every word of `text`, and how many match (up to
    COUNT_LIMIT), as a Result; `sort` is a key of SORTS (an unknown one sorts by name).
    `after` / `before` (a contact id) continue from the previous page's last row or the next
    page's first row, with `at` that row's sort values as the page showed them (Result.at, a
    list of strings); without them, `page` is counted from the start.

    A search, or a page asked for by number, keeps the ordered ids of its matches (as far as
    the pages asked for, and some more) in memory (`ResultIdCache`) while the contact list's
    generation stays the same, so paging through it, or asking again, reads only the rows
    shown."""
    if sort not in SORTS:
        sort = "name"
    terms = search_terms(text)
    numbered = page > 1 and not after and not before
    need = max(page * per_page + 1, COUNT_LIMIT + 1)    # this page, and whether more follow
    ids = result_ids.get(terms, sort, include_inactive, need, build=bool(terms) or numbered)
    if ids is not None:
        start = (page - 1) * per_page
        if start >= len(ids) > 0 and numbered:     # past the end: the last page (see below)
            return search(text, sort, paging.last_page(len(ids), per_page), per_page,
                          include_inactive)
        fits = ((not after or (start > 0 and ids[start - 1:start].tolist() == [after])) and
                (not before or ids[start + per_page:start + per_page + 1].tolist() == [before]))
        if fits:
            return Result(_rows_by_id(ids[start:start + per_page]),
                          min(len(ids), COUNT_LIMIT + 1), page, per_page,
                          has_next=len(ids) > start + per_page, sort=sort)
    base = _filtered(Contact.select(*LIST_COLUMNS), terms, include_inactive)
    order = SORTS[sort]
    if before:
        reverse = [o.desc() if not hasattr(o, "direction") else o.node for o in order]
        rows = list(_after(base, sort, before, False, at).order_by(*reverse)
                    .limit(per_page))[::-1]
        has_next = True       # we came back from the next page
    else:
        if after:
            query = _after(base, sort, after, True, at)
        elif page > 1:
            # a page number without a cursor (a bookmark) in a list too long to keep: find
            # the page's ids in the sort index alone, then read only those rows
            ids = (base.select(Contact.id).order_by(*order).limit(per_page + 1)
                   .offset((page - 1) * per_page))
            query = base.where(Contact.id.in_(ids))
        else:
            query = base
        rows = list(query.order_by(*order).limit(per_page + 1))
        has_next = len(rows) > per_page
        rows = rows[:per_page]
    if page == 1 and not has_next:
        total = len(rows)     # everything is on this page: nothing to count
    else:
        total = base.select(Contact.id).limit(COUNT_LIMIT + 1).count()
    if not rows and page > 1 and not after and not before and total:
        # a page number past the end (a bookmark of a list that shrank): the last page
        last = min(paging.last_page(total, per_page), page - 1)
        return search(text, sort, last, per_page, include_inactive)
    return Result(rows, total, page, per_page, has_next, sort=sort)


_LIST_ROWS = Prepared(lambda *ids: Contact.select(*LIST_COLUMNS).where(Contact.id.in_(ids)),
                     arity=50)


def _rows_by_id(ids):
    """The list rows of `ids`, in that order."""
    ids = ids.tolist()
    if not ids:
        return []
    if len(ids) <= 50:    # a page: the same SQL every time (the unused places ask for id 0)
        found = _LIST_ROWS(*(ids + [0] * (50 - len(ids))))
    else:
        found = Contact.select(*LIST_COLUMNS).where(Contact.id.in_(ids))
    rows = {row.id: row for row in found}
    return [rows[i] for i in ids if i in rows]


class ResultIdCache:
    """A cache of result ids: the ordered ids of recent searches' matches, for the current
    generation of the contact list.

    The generation is a counter that database triggers raise whenever a contact is added or
    removed or a column that decides matching or order changes (migration 0006), whoever
    writes. Each request reads it first (one indexed row), so a list is never used after
    such a change has committed, in this process or another.

    A list holds the first ids of its order: all matches of most searches, and of the whole
    register as far as the pages asked for (plus `AHEAD` more). The lists live in this
    process, at most `MAX_LISTS` of them, each at most `MAX_IDS` long (4-byte ids: 100,000
    take 400 kB)."""

    MAX_LISTS = 32
    MAX_IDS = 200_000
    AHEAD = 5_000         # read this many ids past the page asked for (or all, if fewer)

    def __init__(self):
        self._lock = threading.Lock()
        self._lists = OrderedDict()    # (database, generation, terms, sort, inactive) -> ids

    def clear(self):
        """Forget every kept list."""
        with self._lock:
            self._lists.clear()

    def get(self, terms, sort, include_inactive, need, build=True):
        """At least the first `need` ids of the list (all of them if it is shorter), or None
        if they are not kept and `build` is false or `need` is more than MAX_IDS."""
        generation = db.execute_sql(
            f"SELECT value FROM list_generation WHERE name = {db.param}", ["contact"]
        ).fetchone()
        if generation is None or need > self.MAX_IDS:
            return None
        key = (id(db.obj), generation[0], tuple(terms), sort, include_inactive)
        with self._lock:
            kept = self._lists.get(key)
            if kept is not None and (kept[1] or len(kept[0]) >= need):
                self._lists.move_to_end(key)
                return kept[0]
        if not build:
            return None
        limit = min(need + self.AHEAD, self.MAX_IDS)
        query = _filtered(Contact.select(Contact.id), terms, include_inactive)
        ids = id_array(db.execute_sql(*query.order_by(*SORTS[sort]).limit(limit).sql()))
        with self._lock:
            self._lists[key] = (ids, len(ids) < limit)      # (ids, whether that is all)
            for old in [k for k in self._lists if k[:2] != key[:2] and k[0] == key[0]]:
                del self._lists[old]      # lists of an earlier generation are never used again
            while len(self._lists) > self.MAX_LISTS:
                self._lists.popitem(last=False)
        return ids


result_ids = ResultIdCache()


def _filtered(query, terms, include_inactive):
    if not include_inactive:
        query = query.where(Contact.active == True)  # noqa: E712
    return _matching(query, terms)


def filtered(text="", sort="name", include_inactive=False):
    """The whole filtered list, in order, as a query of Contacts (for the CSV export)."""
    return _filtered(Contact.select(), search_terms(text), include_inactive).order_by(
        *SORTS.get(sort, SORTS["name"]))
