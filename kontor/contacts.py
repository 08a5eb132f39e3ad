"""The contact register (SPEC section 6): search, numbering, duplicates, saving with
optimistic locking and a change history, contact persons, and the timeline.

Search matches substrings of the folded text ("ans" finds "Jansen", "Soren" finds "Søren")
through an FTS5 trigram index on SQLite and a pg_trgm index on PostgreSQL (migration 0004).
"""
import json
import re
import threading
from array import array
from collections import OrderedDict, namedtuple
from dataclasses import dataclass
from decimal import Decimal

from peewee import JOIN, OP, SQL, Expression, IntegrityError, NodeList, Tuple, fn

from kontor import support
from kontor.clock import utcnow
from kontor.text import fold
from models import (
    Contact,
    ContactChange,
    ContactPerson,
    NoteEntry,
    Prepared,
    SupportCase,
    User,
    as_datetime,
    db,
    is_sqlite,
    with_employee,
)

FIELDS = ("kind", "name", "org_number", "vat_number", "email", "phone", "mobile", "fax",
          "website", "street", "postcode", "city", "country", "visit_street", "visit_postcode",
          "visit_city", "visit_country", "discount", "active")
PERSON_FIELDS = ("name", "title", "email", "phone", "mobile", "active")
SORTS = {
    "name": (Contact.sort_name, Contact.id),
    "-name": (Contact.sort_name.desc(), Contact.id.desc()),
    "number": (Contact.customer_number,),
    "-number": (Contact.customer_number.desc(),),
    "city": (Contact.sort_city, Contact.sort_name, Contact.id),
    "-city": (Contact.sort_city.desc(), Contact.sort_name.desc(), Contact.id.desc()),
}
FIRST_CUSTOMER_NUMBER = 10001

_LEGAL_FORMS = re.compile(
    r"\b(b\.?v\.?|n\.?v\.?|v\.?o\.?f\.?|a/?s|asa|ans|da|gmbh|ag|kg|ohg|e\.?k\.?|ug|ltd|"
    r"limited|llc|inc|plc|co|company|and|og|en|und)\b\.?")


def normalise_name(name: str) -> str:
    """The name as a duplicate check sees it: folded, legal forms and punctuation dropped."""
    text = _LEGAL_FORMS.sub(" ", fold(name))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def search_text_for(values) -> str:
    """The text search looks in: name, number, organisation number, e-mail, phones, city."""
    parts = [values.get("name"), str(values.get("customer_number") or ""),
             values.get("org_number"), values.get("email"), values.get("city"),
             values.get("visit_city")]
    phones = [values.get(k) for k in ("phone", "mobile")]
    parts += phones + [digits(p) for p in phones if p]
    return " ".join(fold(p) for p in parts if p)


def _derived(values):
    return {"name_norm": normalise_name(values["name"])[:200],
            "sort_name": fold(values["name"]).strip()[:200],
            "sort_city": fold(values.get("city") or "").strip()[:100],
            "search_text": search_text_for(values)}


# --- search ---------------------------------------------------------------------------------

@dataclass
class Result:
    contacts: list
    total: int          # exact up to COUNT_LIMIT, else COUNT_LIMIT + 1 ("more than")
    page: int
    per_page: int
    has_next: bool = False

    @property
    def pages(self):
        return max(1, -(-min(self.total, COUNT_LIMIT) // self.per_page))

    @property
    def total_is_exact(self):
        return self.total <= COUNT_LIMIT


COUNT_LIMIT = 1000   # beyond this the list says "more than 1,000" instead of counting
LIST_COLUMNS = (Contact.id, Contact.customer_number, Contact.kind, Contact.name, Contact.city,
                Contact.phone, Contact.mobile, Contact.email, Contact.active)


def _terms(text):
    return [fold(t) for t in (text or "").split() if t.strip()][:6]


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
                query = query.where(fn.instr(Contact.search_text, term) > 0)
        return query
    # pg_trgm's GIN index answers LIKE '%term%'. The text is folded already, so LIKE (not
    # ILIKE, which lower-cases every row it tests: four times slower); % and _ in the term are
    # escaped, so they are plain characters here too, as on SQLite above ("jan_de" in tests).
    # The matches are gathered first, as an array: left to itself the planner walks the sort
    # index and tests every row, ten times slower for a common word.
    matches = Contact.select(Contact.id)
    for term in terms:
        matches = matches.where(Expression(Contact.search_text, OP.LIKE, _like_pattern(term)))
    return query.where(Contact.id == fn.ANY(NodeList((SQL("ARRAY"), matches), glue="")))


def _like_pattern(term):
    """`%term%` for LIKE with `\\`, `%` and `_` as plain characters (PostgreSQL's default
    escape character is the backslash)."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", term) + "%"


# the columns that order each sort, ending in a unique one, for keyset paging
SORT_KEYS = {"name": ("sort_name", "id"), "number": ("customer_number",),
             "city": ("sort_city", "sort_name", "id")}


def _after(query, sort, row_id, forward):
    """Rows after (or before) the row `row_id` in the sort order: keyset paging, so a deep
    page costs what the first one does. The boundary row's values are read by the database
    itself from its id, so a cursor in a link cannot inject anything."""
    descending = sort.startswith("-")
    columns = SORT_KEYS[sort.lstrip("-")]
    key = Tuple(*(getattr(Contact, c) for c in columns))
    boundary = SQL(f"(SELECT {', '.join(columns)} FROM contact WHERE id = {db.param})",
                   [row_id])
    return query.where(key > boundary if forward != descending else key < boundary)


def search(text="", sort="name", page=1, per_page=50, include_inactive=False, after=None,
           before=None):
    """One page of contacts matching every word of `text`, and how many match (up to
    COUNT_LIMIT). `after` / `before` (a contact id) continue from the previous page's last
    row or the next page's first row; without them, `page` is counted from the start.

    A search, or a page asked for by number, keeps the ordered ids of its matches (as far as
    the pages asked for, and some more) in memory (`IdLists`) while the contact list's
    generation stays the same, so paging through it, or asking again, reads only the rows
    shown."""
    if sort not in SORTS:
        sort = "name"
    terms = _terms(text)
    numbered = page > 1 and not after and not before
    need = max(page * per_page + 1, COUNT_LIMIT + 1)    # this page, and whether more follow
    ids = id_lists.get(terms, sort, include_inactive, need, build=bool(terms) or numbered)
    if ids is not None:
        start = (page - 1) * per_page
        fits = ((not after or (start > 0 and ids[start - 1:start].tolist() == [after])) and
                (not before or ids[start + per_page:start + per_page + 1].tolist() == [before]))
        if fits:
            return Result(_rows_by_id(ids[start:start + per_page]),
                          min(len(ids), COUNT_LIMIT + 1), page, per_page,
                          has_next=len(ids) > start + per_page)
    base = _filtered(Contact.select(*LIST_COLUMNS), terms, include_inactive)
    order = SORTS[sort]
    if before:
        reverse = [o.desc() if not hasattr(o, "direction") else o.node for o in order]
        rows = list(_after(base, sort, before, False).order_by(*reverse).limit(per_page))[::-1]
        has_next = True       # we came back from the next page
    else:
        if after:
            query = _after(base, sort, after, True)
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
    return Result(rows, total, page, per_page, has_next)


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


_BY_ID = Prepared(lambda contact_id: Contact.select().where(Contact.id == contact_id).limit(1))
_PERSON = Prepared(lambda contact_id, person_id: ContactPerson.select().where(
    ContactPerson.id == person_id, ContactPerson.contact == contact_id).limit(1))
_PERSONS = Prepared(lambda contact_id: ContactPerson.select().where(
    ContactPerson.contact == contact_id).order_by(ContactPerson.active.desc(),
                                                  ContactPerson.name))


def get(contact_id):
    """The contact with this id, or None."""
    found = _BY_ID(contact_id)
    return found[0] if found else None


def get_person(contact, person_id):
    """The contact person with this id if they belong to `contact`, or None."""
    found = _PERSON(contact.id, person_id)
    return found[0] if found else None


def persons(contact):
    """The contact's persons, active ones first, by name."""
    return _PERSONS(contact.id)


class IdLists:
    """The ordered ids of recent searches, for the current generation of the contact list.

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
        cursor = db.execute_sql(*query.order_by(*SORTS[sort]).limit(limit).sql())
        ids = array("i", [row[0] for row in cursor.fetchall()])
        with self._lock:
            self._lists[key] = (ids, len(ids) < limit)      # (ids, whether that is all)
            for old in [k for k in self._lists if k[:2] != key[:2] and k[0] == key[0]]:
                del self._lists[old]      # lists of an earlier generation are never used again
            while len(self._lists) > self.MAX_LISTS:
                self._lists.popitem(last=False)
        return ids


id_lists = IdLists()


def _filtered(query, terms, include_inactive):
    if not include_inactive:
        query = query.where(Contact.active == True)  # noqa: E712
    return _matching(query, terms)


def filtered(text="", sort="name", include_inactive=False):
    """The whole filtered list, in order (for the CSV export)."""
    return _filtered(Contact.select(), _terms(text), include_inactive).order_by(
        *SORTS.get(sort, SORTS["name"]))


# --- duplicates -----------------------------------------------------------------------------

def likely_duplicates(values, exclude_id=None, limit=10):
    """Contacts that are probably the same: same organisation number, e-mail or normalised name."""
    conditions = []
    if (values.get("org_number") or "").strip():
        conditions.append(Contact.org_number == values["org_number"].strip())
    if (values.get("email") or "").strip():
        conditions.append(Contact.email == values["email"].strip().lower())
    norm = normalise_name(values.get("name") or "")
    if norm:
        conditions.append(Contact.name_norm == norm)
    if not conditions:
        return []
    match = conditions[0]
    for condition in conditions[1:]:
        match |= condition
    query = Contact.select().where(match)
    if exclude_id:
        query = query.where(Contact.id != exclude_id)
    return list(query.order_by(Contact.customer_number).limit(limit))


# --- saving ---------------------------------------------------------------------------------

class EditConflict(Exception):
    """Someone saved the contact after the editor opened it. `changes` are theirs:
    a list of (version, user, at, {field: [old, new]})."""

    def __init__(self, current, changes):
        super().__init__("edit conflict")
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
            value = (value or "").lower()
        if key == "discount":
            value = Decimal(str(value or 0)).quantize(Decimal("0.01"))
        if key in ("country", "visit_country"):
            value = (value or "").upper()
            value = value if re.fullmatch(r"[A-Z]{2}", value) else ""
        if value is None and key not in ("discount", "active"):
            value = ""
        clean[key] = value
    return clean


def next_customer_number():
    highest = Contact.select(fn.MAX(Contact.customer_number)).scalar()
    return max(FIRST_CUSTOMER_NUMBER, (highest or 0) + 1)


def create(values, user=None, customer_number=None):
    """Create a contact with the next free customer number (or the one given)."""
    values = _clean(values)
    for attempt in range(5):
        try:
            with db.atomic():
                number = customer_number or next_customer_number()
                data = dict(values, customer_number=number)
                contact = Contact.create(**data, **_derived(data), updated_by=user)
                ContactChange.create(contact=contact, version=1, user=user,
                                     changes=json.dumps({"created": [None, number]}))
                return contact
        except IntegrityError:
            if customer_number or attempt == 4:
                raise
    raise RuntimeError("unreachable")


def _as_text(value):
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def update(contact_id, values, opened_version, user=None):
    """Save the edited fields if nobody saved since `opened_version`; else EditConflict.

    Returns the updated contact (unchanged if nothing differed).
    """
    values = _clean(values)
    with db.atomic():
        current = Contact.get_by_id(contact_id)
        if current.version != opened_version:
            theirs = list(with_employee(
                ContactChange.select(ContactChange, User)
                .join(User, on=(ContactChange.user == User.id), join_type=JOIN.LEFT_OUTER))
                .where(ContactChange.contact == contact_id,
                       ContactChange.version > opened_version)
                .order_by(ContactChange.version))
            raise EditConflict(current, [(c.version, c.user, c.at, json.loads(c.changes))
                                         for c in theirs])
        changes = {k: [_as_text(getattr(current, k)), _as_text(v)] for k, v in values.items()
                   if _as_text(getattr(current, k)) != _as_text(v)}
        if not changes:
            return current
        merged = {k: getattr(current, k) for k in FIELDS}
        merged.update(values, customer_number=current.customer_number)
        updated = (Contact.update(**values, **_derived(merged), version=Contact.version + 1,
                                  updated_at=utcnow(), updated_by=user)
                   .where(Contact.id == contact_id, Contact.version == opened_version)
                   .execute())
        if not updated:   # cannot happen inside the write transaction, but never overwrite
            raise EditConflict(current, [])
        ContactChange.create(contact=contact_id, version=opened_version + 1, user=user,
                             changes=json.dumps(changes, default=str))
    return Contact.get_by_id(contact_id)


# --- contact persons ------------------------------------------------------------------------

def save_person(contact, person, values):
    values = {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()
              if k in PERSON_FIELDS}
    if "email" in values:
        values["email"] = (values["email"] or "").lower()
    with db.atomic():
        if person is None:
            return ContactPerson.create(contact=contact, **values)
        ContactPerson.update(**values, version=ContactPerson.version + 1, updated_at=utcnow()
                             ).where(ContactPerson.id == person.id).execute()
    return ContactPerson.get_by_id(person.id)


# --- timeline -------------------------------------------------------------------------------

@dataclass
class Event:
    at: object
    kind: str          # "note", "person_note", "change", "case"
    who: str
    text: str = ""
    changes: dict = None
    person: str = ""
    case: object = None


TIMELINE_ON_PAGE = 10      # the contact page shows the newest; the timeline page the rest
TIMELINE_PAGE = 50


_TIMELINE_NOTES = Prepared(lambda contact_id, limit: (
    NoteEntry.select(NoteEntry.created_at, NoteEntry.author_name, NoteEntry.text,
                     NoteEntry.person, ContactPerson.name)
    .join(ContactPerson, JOIN.LEFT_OUTER, on=(NoteEntry.person == ContactPerson.id))
    .where(NoteEntry.contact == contact_id)
    .order_by(NoteEntry.created_at.desc(), NoteEntry.id.desc()).limit(limit)))
_TIMELINE_CHANGES = Prepared(lambda contact_id, limit: (
    with_employee(ContactChange.select(ContactChange, User)
                  .join(User, JOIN.LEFT_OUTER, on=(ContactChange.user == User.id)))
    .where(ContactChange.contact == contact_id)
    .order_by(ContactChange.version.desc()).limit(limit)))
_Reader = namedtuple("_Reader", "id is_superuser")
# support.visible_to decides which cases a reader sees: all of them, or the own ones


def _timeline_cases(superuser):
    """The prepared query of the cases a superuser (or a staff member) may see on a contact.
    A function, not a lambda in the dict below: a lambda would read `superuser` when called,
    after the loop, and so both queries would be the staff one."""
    return Prepared(lambda user_id, contact_id, limit: (
        support.visible_to(_Reader(user_id, superuser)).where(SupportCase.contact == contact_id)
        .order_by(SupportCase.created_at.desc()).limit(limit)))


_TIMELINE_CASES = {superuser: _timeline_cases(superuser) for superuser in (True, False)}


def timeline(contact, user, page=1, per_page=TIMELINE_ON_PAGE):
    """Notes (the contact's and its persons'), changes and the support cases `user` may see,
    newest first: one page of events, and whether older ones follow."""
    need = page * per_page + 1           # enough of each kind to fill this page and peek past
    events = [Event(as_datetime(at), "person_note" if person_id else "note", author, text,
                    person=person or "")
              for at, author, text, person_id, person in _TIMELINE_NOTES.rows(contact.id, need)]
    events += [Event(change.at, "change", change.user.display_name if change.user_id else "",
                     changes=json.loads(change.changes))
               for change in _TIMELINE_CHANGES(contact.id, need)]
    cases = _TIMELINE_CASES[bool(user.is_superuser)](user.id, contact.id, need)
    events += [Event(case.created_at, "case", "", case.subject, case=case) for case in cases]
    events.sort(key=lambda e: e.at, reverse=True)
    start = (page - 1) * per_page
    return events[start:start + per_page], len(events) > start + per_page
