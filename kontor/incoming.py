"""Fetch website data: the import queue of what the websites' portals received (SPEC section
10; issue 15; seeds 001 second half and 002).

The portals store registrations, account updates, orders and inquiries as IncomingItem rows
(`values` as received, never changed). Here:

- `values_of` reads an item's customer values (one shape for every kind);
- `classify` gives each item its match status against the contact register: "existing"
  (the normalised company name or the organisation/VAT number equals a contact's, or the
  item's web account is linked to a contact already), "check" (otherwise the e-mail, postal
  address, a contact person's name or a phone number matches; or several contacts match
  equally: `Match.candidates`), "new" (no match). It looks the normalised keys up in indexed
  columns, a fixed handful of queries for any number of items, never all-against-all;
- `queue_page` reads a page of a tab in the queue's order from an index, and `page_matches`
  keeps the page's match statuses while the register's generation "matching" stays
  (migration 0030: raised by triggers whoever writes a contact, a person, a web account or
  the company), so that viewing the queue does not classify it again (issue 15, "Speed");
- `import_item` imports one item in one transaction with a person's (or the default)
  `Decision`: it creates a customer or updates the chosen one only where "take" was chosen,
  adds a new contact person, links the web account, approves a pending account (the approval
  e-mail goes out), links an order (`_link_order`) or turns an inquiry into an activity (an
  entry of the contact's note: the timeline shows it). The item is claimed first by a
  conditional UPDATE, so a double submit or two people importing at once import it once;
- `import_all` imports the "new" and "existing" items with their defaults and the items a
  person confirmed (`confirm`); "check" items wait for a person. A web account is linked to
  an existing contact without a person's confirmation only when its confirmed e-mail is the
  contact's or one of its persons' (issue 15 item 4);
- `reject` rejects items; `processed` lists what was done, by whom and when.

Callers need an application context (the approval e-mail).
"""
import json
from dataclasses import dataclass, field

from peewee import JOIN, fn

from kontor import audit, contacts, notes, web_accounts
from kontor.errors import Refused
from kontor.generations import KeptWhileUnchanged
from kontor.mail import normalise_email
from kontor.matching import (
    address_key,
    home_country,
    normalise_name,
    number_key,
    phone_key,
    words_key,
)
from kontor.paging import MAX_PAGE, Page, last_page
from kontor.text import one_line, whole_number, without_controls
from models import Contact, ContactPerson, Prepared, User, Website, db, with_employee
from models.clock import utcnow
from models.db import is_sqlite
from models.web_accounts import IncomingItem, WebAccount, WebAccountEvent

# The tabs of the queue and the kinds each shows (issue 15 item 1).
TABS = {"contacts": ("registration", "account_update"), "activities": ("activity",),
        "orders": ("order",)}
TAB_OF_KIND = {kind: tab for tab, kinds in TABS.items() for kind in kinds}

# The customer values of an item, compared field by field with a contact's (issue 15 item 3):
# the contact's fields, and the contact person (added to the contact when new). Lengths are
# the register's.
FIELDS = ("name", "org_number", "email", "phone", "street", "postcode", "city", "country",
          "contact_person")
CONTACT_FIELDS = FIELDS[:-1]
MAX_LENGTHS = {"name": 200, "org_number": 30, "email": 254, "phone": 50, "street": 200,
               "postcode": 20, "city": 100, "country": 2, "contact_person": 200}
STATUSES = ("existing", "check", "new")
PAGE_SIZE = 50
IMPORT_ALL_LIMIT = 500      # items one "Import all" goes through; the rest wait for the next
REJECT_LIMIT = 200          # items one "Reject selected" rejects
CHUNK = 500                 # keys of one IN list


class AlreadyProcessed(Refused):
    """Someone imported or rejected the item meanwhile (reason "already_processed");
    `item` is the item as it is now."""

    def __init__(self, item):
        super().__init__("already_processed")
        self.item = item


class ImportFailed(Refused):
    """The import could not be done (reason: "contact_gone", "edit_conflict",
    "order_missing", "orders_unavailable", "website_inactive", "no_name"...); the item stays
    unprocessed."""


# --- an item's values ---------------------------------------------------------------------

def _text(value, limit):
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, str) and value.isprintable():    # the usual case, fast
        return " ".join(value.split())[:limit]
    return " ".join(without_controls(one_line(str(value))).split())[:limit]


def received(item):
    """The item's values as received (a dict; {} when they are no JSON object)."""
    return _parsed(item.values)


def reference_of(item):
    """What names the item to a person beside its kind: an order's number ("2026-0001", as
    the portal stored it) or an inquiry's subject; "" for the other kinds (or when missing:
    then the item's id names it)."""
    if item.kind not in ("order", "activity"):
        return ""
    raw = received(item)
    return _text(raw.get("number") if item.kind == "order" else raw.get("subject"), 200)


def changed_fields(item, contact=None):
    """{field: value before} of the FIELDS an account update changed: compared with the
    same web account's previous registration or account update (the details the customer
    had); without one, with `contact`'s register values (None: none are known, {}).
    Other kinds: {}."""
    if item.kind != "account_update":
        return {}
    now = values_of(item)
    before = None
    if item.web_account_id:
        previous = (IncomingItem.select().where(
            IncomingItem.web_account == item.web_account_id, IncomingItem.id < item.id,
            IncomingItem.kind.in_(("registration", "account_update")))
            .order_by(IncomingItem.id.desc()).first())
        if previous is not None:
            before = values_of(previous, item.web_account)
    if before is None and contact is not None:
        before = {name: str(getattr(contact, name, "") or "") for name in CONTACT_FIELDS}
        before["contact_person"] = now["contact_person"]    # the register has persons
    if before is None:
        return {}
    return {name: before.get(name, "") for name in FIELDS
            if name != "email" and now[name] != before.get(name, "")}


def _first(values, *names):
    for name in names:
        if isinstance(values.get(name), (str, int)) and str(values[name]).strip():
            return values[name]
    return ""


def values_of(item, account=None):
    """The customer values of `item` (any kind), a dict of FIELDS (str, "" for none) plus
    "kind" ("company" when a company name was given, else "person"). A registration and an
    account update carry kontor.web_accounts.DETAIL_FIELDS; their e-mail is the web
    account's (`account`, the item's). An order or an inquiry may carry the same names
    (also "company", "email", "contact_name", "name")."""
    account = account if account is not None else (
        item.web_account if item.web_account_id else None)
    return _values(item.kind, received(item), account.email if account is not None else "")


def _parsed(text):
    try:
        values = json.loads(text or "{}")
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def _values(kind, raw, account_email):
    """`values_of` from the item's kind, its received values (a dict) and its web account's
    e-mail ("" for none)."""
    company = _first(raw, "company_name", "company")
    person = _first(raw, "contact_person", "contact_name") or (
        _first(raw, "name") if company else "")
    name = company or person or _first(raw, "name")
    email = _first(raw, "email") if kind in ("order", "activity") else ""
    values = {"name": name, "org_number": _first(raw, "org_number"),
              "email": email or account_email or "",
              "phone": _first(raw, "phone", "mobile"), "street": _first(raw, "street"),
              "postcode": _first(raw, "postcode"), "city": _first(raw, "city"),
              "country": _first(raw, "country"), "contact_person": person}
    values = {key: _text(value, MAX_LENGTHS[key]) for key, value in values.items()}
    values["country"] = values["country"].upper() if len(values["country"]) == 2 \
        and values["country"].isalpha() else ""
    values["email"] = normalise_email(values["email"])
    values["kind"] = "company" if company else "person"
    return values


# --- matching -----------------------------------------------------------------------------

@dataclass
class Match:
    """An item's match status: "existing", "check" or "new"; the matched contact (None for
    "new"); the fields that matched it ("name", "org_number", "email", "address",
    "contact_person", "phone", "web_account"); and, when several contacts match, all of them
    as (contact, fields) pairs, best first."""
    status: str
    contact: object = None
    fields: tuple = ()
    candidates: list = field(default_factory=list)


STRONG = ("web_account", "name", "org_number")


def _keys(values, home):
    country = values.get("country") or home
    person = values.get("contact_person") or ""
    return {"name": normalise_name(values["name"]) if values["kind"] == "company" else "",
            "org_number": number_key(values["org_number"]),
            "email": values["email"],
            "phone": phone_key(values["phone"], country),
            "address": address_key(values["street"], values["postcode"]),
            "person": words_key(person)[:200],
            "person_norm": normalise_name(person)[:200]}


@dataclass
class Candidate:
    """A contact as matching found it: what the queue shows of it and what a default
    decision needs (the item page reads the whole contact)."""
    id: int
    name: str
    customer_number: int
    version: int
    kind: str
    email: str


ARITIES = (8, 32, 128, CHUNK)   # IN lists of ids are padded to one of these lengths

# Every indexed look-up of a kind of key: (kind of key, table, key column, the contact's id
# column, the index, a further condition, the field it names). Rule: SPEC section 10, issue
# 15 item 2.
_LOOK_UPS = (
    ("name", "contact", "name_norm", "id", "contact_name_norm", "", "name"),
    ("org_number", "contact", "org_key", "id", "contact_org_key", "", "org_number"),
    ("org_number", "contact", "vat_key", "id", "contact_vat_key", "", "org_number"),
    ("email", "contact", "email", "id", "contact_email", "", "email"),
    ("phone", "contact", "phone_key", "id", "contact_phone_key", "", "phone"),
    ("phone", "contact", "mobile_key", "id", "contact_mobile_key", "", "phone"),
    ("address", "contact", "address_key", "id", "contact_address_key", "", "address"),
    ("person_norm", "contact", "name_norm", "id", "contact_name_norm", " AND kind = 'person'",
     "contact_person"),
    ("email", "contact_person", "email", "contact_id", "contact_person_email", "", "email"),
    ("phone", "contact_person", "phone_key", "contact_id", "contact_person_phone_key", "",
     "phone"),
    ("phone", "contact_person", "mobile_key", "contact_id", "contact_person_mobile_key", "",
     "phone"),
    ("person", "contact_person", "name_key", "contact_id", "contact_person_name_key", "",
     "contact_person"),
)
_SQL = {}       # (database kind, look-up, arity) -> SQL text


def _look_up_sql(look_up, arity):
    """The SQL of one look-up for `arity` keys (None: PostgreSQL's one array parameter),
    written once. On SQLite the index is named (INDEXED BY): the planner estimates a long IN
    list of a key with many rows alike (a common person's name: 167 rows a name in the
    benchmark) as most of the table and scanned 100,000 persons for 500 names (0.4 s of the
    queue's 0.8), where each key is one probe of the index. `column <> ''` lets the database
    use a partial index (the persons')."""
    kind = (is_sqlite(), look_up, arity)
    sql = _SQL.get(kind)
    if sql is None:
        _kind, table, column, id_column, index, more, _field = look_up
        if arity is None:
            sql = (f"SELECT {column}, {id_column} FROM {table} "
                   f"WHERE {column} = ANY(%s) AND {column} <> ''{more}")
        else:
            marks = ", ".join(["?"] * arity)
            sql = (f"SELECT {column}, {id_column} FROM {table} INDEXED BY {index} "
                   f"WHERE {column} IN ({marks}) AND {column} <> ''{more}")
        sql = _SQL[kind] = sql
    return sql


_CANDIDATES = {arity: Prepared(lambda *ids: Contact.select(
    Contact.id, Contact.name, Contact.customer_number, Contact.version, Contact.kind,
    Contact.email).where(Contact.id.in_(list(ids))), arity=arity) for arity in ARITIES}


def _chunks(values, chunk=CHUNK):
    """`values` without empties, sorted, in lists of at most `chunk`, each padded with None
    to the next of ARITIES: (arity, list) pairs."""
    values = sorted(value for value in values if value)
    for start in range(0, len(values), chunk):
        some = values[start:start + chunk]
        arity = next(n for n in ARITIES if n >= len(some))
        yield arity, [*some, *[None] * (arity - len(some))]


# Keys of one PostgreSQL look-up. Its planner estimates the rows of `column = ANY(array)` as
# the array's length times the rows a key has on average, and scans the whole table past a
# point: with 500 keys it scanned the 100,000 persons for their names (167 persons a name in
# the benchmark; 1.3 s of server time for the queue), with 250 it probes the index (0.17 s
# planning and execution for the 12 look-ups of 10,000 items).
PG_CHUNK = 250


def _key_rows(look_up, keys):
    """(key, contact id) rows of the look-up `look_up` for `keys` (a set of str): on
    PostgreSQL one query per PG_CHUNK keys, as one array; on SQLite one IN list per CHUNK
    keys (padded to one of ARITIES, so that a handful of statements are prepared)."""
    if not keys:
        return []
    rows = []
    if not is_sqlite():
        keys = sorted(keys)
        sql = _look_up_sql(look_up, None)
        for start in range(0, len(keys), PG_CHUNK):
            rows += db.execute_sql(sql, [keys[start:start + PG_CHUNK]]).fetchall()
        return rows
    for arity, chunk in _chunks(keys):
        rows += db.execute_sql(_look_up_sql(look_up, arity), chunk).fetchall()
    return rows


def _look_up(all_keys, linked):
    """{(kind, key): {contact id: field}} for every key of `all_keys` ({kind: set of keys}),
    and {contact id: Candidate} of the contacts found and of `linked` (ids): one indexed
    query per look-up and CHUNK keys (PG_CHUNK on PostgreSQL), and one per CHUNK contacts
    found."""
    hits = {}
    for look_up in _LOOK_UPS:
        kind, name = look_up[0], look_up[-1]
        for key, contact_id in _key_rows(look_up, all_keys[kind]):
            hits.setdefault((kind, key), {})[contact_id] = name
    ids = {contact_id for hit in hits.values() for contact_id in hit} | set(linked)
    found = {}
    for arity, chunk in _chunks(ids):
        for row in _CANDIDATES[arity].rows(*chunk):
            found[row[0]] = Candidate(*row)
    return hits, found


def _ranked(matched, found):
    """(contact, fields) pairs of `matched` ({contact id: set of fields}), best first: most
    strong fields, then most fields, then the lowest customer number."""
    pairs = [(found[contact_id], tuple(f for f in ("web_account", "name", "org_number",
                                                   "email", "address", "contact_person",
                                                   "phone") if f in fields))
             for contact_id, fields in matched.items() if contact_id in found]
    return sorted(pairs, key=lambda pair: (-sum(f in STRONG for f in pair[1]), -len(pair[1]),
                                           pair[0].customer_number))


def _score(pair):
    return sum(f in STRONG for f in pair[1]), len(pair[1])


def classify(items, home=None):
    """The match status of each of `items` (IncomingItem rows, their `web_account` joined or
    None): {item id: Match}. A fixed number of indexed queries for any number of items
    (rules: SPEC section 10, issue 15 item 2). `home`: the company's country (read when
    None), for phone numbers without a country code."""
    rows = []
    for item in items:
        account = item.web_account if item.web_account_id else None
        rows.append((item.id, item.kind, item.values,
                     account.email if account is not None else "",
                     account.contact_id if account is not None else None))
    return classify_rows(rows, home)


_QUEUE_ROWS = Prepared(lambda kind_a, kind_b, after, limit: (
    IncomingItem.select(IncomingItem.id, IncomingItem.kind, IncomingItem.values,
                        WebAccount.email, WebAccount.contact)
    .join(WebAccount, JOIN.LEFT_OUTER, on=(IncomingItem.web_account == WebAccount.id))
    .where(IncomingItem.status == "unprocessed", IncomingItem.kind.in_([kind_a, kind_b]),
           IncomingItem.id > after)
    .order_by(IncomingItem.id).limit(limit)))


def classify_queue(tab, home=None, chunk=2000):
    """The match status of every unprocessed item of `tab`: {item id: Match}, reading the
    items as plain rows, `chunk` at a time (the benchmark's "whole queue")."""
    home = home if home is not None else home_country()
    kinds = (*TABS[tab], *TABS[tab])[:2]
    matches, after = {}, 0
    while True:
        rows = _QUEUE_ROWS.rows(*kinds, after, chunk)
        if not rows:
            return matches
        matches.update(classify_rows(rows, home))
        after = rows[-1][0]


def classify_rows(rows, home=None):
    """`classify` of plain rows: (item id, kind, values as received (JSON text), the web
    account's e-mail or ""/None, its contact id or None)."""
    if not rows:
        return {}
    home = home if home is not None else home_country()
    keyed = {}
    all_keys = {kind: set() for kind in ("name", "org_number", "email", "phone", "address",
                                         "person", "person_norm")}
    linked = set()
    for item_id, kind, text, account_email, contact_id in rows:
        keys = _keys(_values(kind, _parsed(text), account_email), home)
        keyed[item_id] = (keys, contact_id)
        for name, key in keys.items():
            if key:
                all_keys[name].add(key)
        if contact_id:
            linked.add(contact_id)
    hits, found = _look_up(all_keys, linked)
    matches = {}
    for item_id, (keys, linked_id) in keyed.items():
        matched = {}
        if linked_id in found:
            matched.setdefault(linked_id, set()).add("web_account")
        for kind, key in keys.items():
            for contact_id, name in hits.get((kind, key), {}).items() if key else ():
                matched.setdefault(contact_id, set()).add(name)
        ranked = _ranked(matched, found)
        if not ranked:
            matches[item_id] = Match("new")
            continue
        best = ranked[0]
        tied = [pair for pair in ranked if _score(pair) == _score(best)]
        strong = _score(best)[0] > 0
        if len(tied) > 1 and "web_account" not in best[1]:
            matches[item_id] = Match("check", best[0], best[1], ranked)
        else:
            matches[item_id] = Match("existing" if strong else "check", best[0], best[1],
                                     ranked if len(ranked) > 1 else [])
    return matches


# --- reading the queue --------------------------------------------------------------------

def _with_account():
    return (IncomingItem.select(IncomingItem, WebAccount, Website)
            .join(Website, on=(IncomingItem.website == Website.id))
            .switch(IncomingItem)
            .join(WebAccount, JOIN.LEFT_OUTER, on=(IncomingItem.web_account == WebAccount.id)))


def unprocessed(tab):
    """The query of the unprocessed items of `tab` (a key of TABS), oldest first, each with
    its website and web account (None when it has none)."""
    return (_with_account().where(IncomingItem.status == "unprocessed",
                                  IncomingItem.kind.in_(TABS[tab]))
            .order_by(IncomingItem.received_at, IncomingItem.id))


_PAGE_IDS = {}      # (database kind, number of kinds) -> SQL


def _page_ids_sql(kinds):
    """The ids of a page of the unprocessed items of `kinds` in the queue's order, as SQL
    with the parameters (kind, limit) per kind, then limit and offset: each kind's range
    of the index `incoming_item_queue` (migration 0030) read in order, at most offset +
    limit rows each, merged; no sort of the whole queue."""
    kind = (is_sqlite(), kinds)
    sql = _PAGE_IDS.get(kind)
    if sql is None:
        parts = " UNION ALL ".join(
            f"SELECT id, received_at FROM (SELECT id, received_at FROM incoming_item "
            f"WHERE status = 'unprocessed' AND kind = {db.param} "
            f"ORDER BY received_at, id LIMIT {db.param}) AS k{n}" for n in range(kinds))
        sql = _PAGE_IDS[kind] = (f"SELECT id FROM ({parts}) AS q ORDER BY received_at, id "
                                 f"LIMIT {db.param} OFFSET {db.param}")
    return sql


_PAGE_ROWS = Prepared(lambda *ids: _with_account().where(IncomingItem.id.in_(list(ids))),
                      arity=PAGE_SIZE + 1)


def _page_rows(kinds, number, per_page):
    offset = (number - 1) * per_page
    params = [value for kind in kinds for value in (kind, offset + per_page + 1)]
    ids = [row[0] for row in db.execute_sql(_page_ids_sql(len(kinds)),
                                            [*params, per_page + 1, offset]).fetchall()]
    if not ids:
        return []
    by_id = {item.id: item for item in _PAGE_ROWS(*ids, *[None] * (PAGE_SIZE + 1 - len(ids)))}
    return [by_id[item_id] for item_id in ids if item_id in by_id]


def queue_page(tab, number):
    """Page `number` (the query string's text, or None) of the unprocessed items of `tab`,
    PAGE_SIZE items, as `unprocessed(tab)` paged by kontor.paging.paginate gives it (each
    item with its website and web account; text that is no page number gives page 1, a
    number past the end the last page): a kontor.paging.Page. Two queries, whatever the
    queue's length: the page's ids (`_page_ids_sql`) and its rows (issue 15, "Speed")."""
    kinds = TABS[tab]
    number = whole_number(number, maximum=MAX_PAGE) or 1
    rows = _page_rows(kinds, number, PAGE_SIZE)
    if not rows and number > 1:
        number = min(number, last_page(counts()[tab], PAGE_SIZE))
        rows = _page_rows(kinds, number, PAGE_SIZE)
    return Page(rows[:PAGE_SIZE], number, PAGE_SIZE, len(rows) > PAGE_SIZE)


_page_matches = KeptWhileUnchanged(("matching",), max_entries=64)


def page_matches(items):
    """`classify(items)` for the queue page: kept in memory while the generation "matching"
    stays (migration 0030: its triggers raise it whenever a contact, a contact person, a
    web account or the company changes in a way that can change a match, whoever writes), so
    that viewing the queue again does not classify its items again. Only for showing: an
    import, Import all and the item page classify afresh."""
    return _page_matches.get(tuple(item.id for item in items), lambda: classify(items))


def counts():
    """{tab: number of unprocessed items} for every tab (issue 15 item 1)."""
    per_kind = dict(IncomingItem.select(IncomingItem.kind, fn.COUNT(IncomingItem.id))
                    .where(IncomingItem.status == "unprocessed")
                    .group_by(IncomingItem.kind).tuples())
    return {tab: sum(per_kind.get(kind, 0) for kind in kinds) for tab, kinds in TABS.items()}


def unprocessed_count():
    """How many items wait in the queue (the count in the staff navigation)."""
    return _UNPROCESSED.rows()[0][0]


# every staff page shows the count: SQL written once (issue 12 item 26)
_UNPROCESSED = Prepared(lambda: IncomingItem.select(fn.COUNT(IncomingItem.id)).where(
    IncomingItem.status == "unprocessed"))


def processed():
    """The query of the processed items (imported or rejected), newest first, each with its
    website, web account, contact and the user who processed it (issue 15 item 1)."""
    query = (_with_account().switch(IncomingItem)
             .join(Contact, JOIN.LEFT_OUTER, on=(IncomingItem.contact == Contact.id))
             .switch(IncomingItem)
             .join(User, JOIN.LEFT_OUTER, on=(IncomingItem.processed_by == User.id))
             .select_extend(Contact, User))
    return (with_employee(query).where(IncomingItem.processed_at.is_null(False))
            .order_by(IncomingItem.processed_at.desc(), IncomingItem.id.desc()))


def get(item_id):
    """The item with this id, its website and web account joined, or None."""
    return _with_account().where(IncomingItem.id == item_id).first()


def result_of(item):
    """What processing `item` did (a dict; {} while unprocessed)."""
    try:
        result = json.loads(item.result or "{}")
    except ValueError:
        return {}
    return result if isinstance(result, dict) else {}


# --- decisions ----------------------------------------------------------------------------

@dataclass
class Decision:
    """What an import does with an item: `target` the contact id to update, or "new";
    `version` the contact's version the person saw (None: not checked); `take` the fields
    whose incoming value replaces the register's (a new contact takes every field);
    `corrected` {field: value} the person's corrections of incoming values; `approve`
    approve a pending web account (seed 002: ticked by default); `link` link the web account
    to the contact."""
    target: object = "new"
    version: int = None
    take: tuple = ()
    corrected: dict = field(default_factory=dict)
    approve: bool = True
    link: bool = True

    def as_json(self):
        return json.dumps({"target": self.target, "version": self.version,
                           "take": list(self.take), "corrected": self.corrected,
                           "approve": self.approve, "link": self.link}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text):
        """The decision saved on an item, or None for none (or one that is no decision)."""
        try:
            data = json.loads(text or "")
            target = data["target"]
            if target != "new" and not isinstance(target, int):
                return None
            return cls(target=target, version=data.get("version"),
                       take=tuple(f for f in data.get("take", ()) if f in FIELDS),
                       corrected={k: _text(v, MAX_LENGTHS[k])
                                  for k, v in dict(data.get("corrected") or {}).items()
                                  if k in FIELDS},
                       approve=bool(data.get("approve")), link=bool(data.get("link")))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def emails_of(contact):
    """The contact's e-mail and its persons' (a set of normalised addresses)."""
    found = {contact.email} if contact.email else set()
    found.update(email for (email,) in ContactPerson.select(ContactPerson.email).where(
        ContactPerson.contact == contact.id, ContactPerson.email != "").tuples())
    return found


def safe_link(account, contact):
    """Whether linking `account` to `contact` needs no person: the account's confirmed
    e-mail is the contact's or one of its persons' (issue 15 item 4: a stranger registering
    as "Jansen BV" must not get Jansen's prices, orders and cases)."""
    return account.email_confirmed_at is not None and account.email in emails_of(contact)


def default_decision(item, match):
    """The decision "Import all" and a freshly opened item start from: a new contact for
    "new"; else the matched contact, keeping every register value, linking the web account
    only when `safe_link`. Approve is ticked (seed 002)."""
    account = item.web_account if item.web_account_id else None
    if match.contact is None:
        return Decision("new", None, FIELDS, {}, True, True)
    link = account is not None and (account.contact_id == match.contact.id
                                    or safe_link(account, match.contact))
    return Decision(match.contact.id, match.contact.version, (), {}, True, link)


# --- importing ----------------------------------------------------------------------------

def _claim(item_id, user_id, status):
    """Mark the item processed if it is still unprocessed (the first statement of its
    transaction: a racing second one waits for the first and then finds nothing to claim).
    Raises AlreadyProcessed."""
    claimed = (IncomingItem.update(status=status, processed_by=user_id, processed_at=utcnow())
               .where(IncomingItem.id == item_id, IncomingItem.status == "unprocessed")
               .execute())
    if not claimed:
        raise AlreadyProcessed(IncomingItem.get_by_id(item_id))


def _target(item):
    return f"{item.website.slug}: {item.kind} {item.id}"


def _link_order(item, contact, user):
    """Link the order the item stands for to `contact` (the order exists already: the portal
    made it; it is never made twice). The contract of the orders' area: `values["order_id"]`
    and `kontor.orders.link_to_contact(order, contact, user)`. Raises
    ImportFailed("orders_unavailable") while Kontor has no orders, and "order_missing" for
    an order that is gone. Returns the order's number."""
    try:
        from kontor import orders  # noqa: PLC0415 (the orders' area may not be merged yet)
        from models.orders import Order  # noqa: PLC0415
    except ImportError:
        raise ImportFailed("orders_unavailable") from None
    order_id = received(item).get("order_id")
    order = Order.get_or_none(id=order_id) if isinstance(order_id, int) \
        and not isinstance(order_id, bool) else None
    if order is None:
        raise ImportFailed("order_missing")
    orders.link_to_contact(order, contact, user)
    return str(received(item).get("number") or getattr(order, "number", "") or order.id)


def activity_text(item):
    """The text of the note entry an inquiry becomes: the website and e-mail, the subject,
    the message."""
    raw = received(item)
    subject = _text(raw.get("subject"), 200)
    message = str(raw.get("message") or "") if isinstance(raw.get("message"), str) else ""
    sender = values_of(item)["email"]
    head = f"{item.website.name}" + (f" · {sender}" if sender else "")
    return f"[{head}] {subject}\n\n{without_controls(message)}".strip()


def _new_contact(values, user):
    kind = values["kind"]
    name = values["name"] or values["contact_person"]
    if not name:
        raise ImportFailed("no_name")
    fields = {k: values[k] for k in CONTACT_FIELDS if k != "name"}
    return contacts.create(dict(fields, name=name, kind=kind), user=user)


def import_item(item_id, user, decision, ip=""):
    """Import the item `item_id` with `decision` (a Decision), in one transaction; returns
    the result (a dict, also stored on the item: "contact", "created", "changed",
    "person_added", "linked", "approved", "order", "activity"). Raises AlreadyProcessed when
    it was imported or rejected meanwhile (a double submit, a colleague), ImportFailed when
    it cannot be imported (the item then stays unprocessed). Rules: SPEC section 10, issue
    15 items 3 and 4, seed 002."""
    user_id = getattr(user, "id", user)
    with db.atomic():
        _claim(item_id, user_id, "imported")
        item = get(item_id)
        account = item.web_account if item.web_account_id else None
        values = values_of(item, account)
        values.update({k: v for k, v in decision.corrected.items() if k in FIELDS})
        values["email"] = normalise_email(values["email"])
        result = {}
        if decision.target == "new":
            contact = _new_contact(values, user_id)
            result["created"] = True
        else:
            contact = Contact.get_or_none(Contact.id == decision.target)
            if contact is None:
                raise ImportFailed("contact_gone")
            changes = {k: values[k] for k in decision.take if k in CONTACT_FIELDS}
            if changes:
                try:
                    contact = contacts.update(contact.id, changes, decision.version
                                              or contact.version, user=user_id)
                except contacts.EditConflict:
                    raise ImportFailed("edit_conflict") from None
                result["changed"] = sorted(changes)
        result["contact"] = contact.id
        person = values["contact_person"]
        if person and contact.kind == "company" and not ContactPerson.select().where(
                ContactPerson.contact == contact.id,
                ContactPerson.name_key == words_key(person)[:200]).exists():
            contacts.save_person(contact, None, {"name": person, "email": values["email"],
                                                 "phone": values["phone"]})
            result["person_added"] = person
        if account is not None and account.contact_id is None and (
                decision.link or decision.target == "new"):
            WebAccount.update(contact=contact.id, version=WebAccount.version + 1).where(
                WebAccount.id == account.id).execute()
            account = WebAccount.get_by_id(account.id)
            WebAccountEvent.create(web_account=account.id, contact=contact.id, user=user_id,
                                   action="linked", new=contact.name[:254])
            audit.record("web_account.linked", user=user_id,
                         target=f"{item.website.slug}: {account.email}",
                         detail=f"contact {contact.id}", ip=ip)
            result["linked"] = account.email
        if account is not None and decision.approve and account.status == "pending" \
                and account.email_confirmed_at is not None and account.closed_at is None:
            try:
                web_accounts.change(account, user_id, status="approved", ip=ip,
                                    only_from="pending")
            except Refused as refused:
                raise ImportFailed(refused.reason) from None
            result["approved"] = account.email
        if item.kind == "order":
            result["order"] = _link_order(item, contact, user_id)
        elif item.kind == "activity":
            author = User.get_or_none(User.id == user_id)
            entry = notes.add_entry(contact, activity_text(item), author=author)
            result["activity"] = entry.id
        IncomingItem.update(result=json.dumps(result, ensure_ascii=False),
                            contact=contact.id).where(IncomingItem.id == item_id).execute()
        audit.record("incoming.imported", user=user_id, target=_target(item),
                     detail=f"contact {contact.customer_number}"
                     + (" (new)" if result.get("created") else ""), ip=ip)
    return result


def confirm(item_id, user, decision, ip=""):
    """Save a person's `decision` on the unprocessed item for "Import all" (issue 15 item 4:
    "Should be checked" items are imported only once a person confirmed them). Raises
    AlreadyProcessed."""
    user_id = getattr(user, "id", user)
    with db.atomic():
        saved = (IncomingItem.update(decision=decision.as_json(), confirmed_by=user_id,
                                     confirmed_at=utcnow())
                 .where(IncomingItem.id == item_id, IncomingItem.status == "unprocessed")
                 .execute())
        if not saved:
            raise AlreadyProcessed(IncomingItem.get_by_id(item_id))
        item = get(item_id)
        audit.record("incoming.confirmed", user=user_id, target=_target(item), ip=ip)


def reject(item_ids, user, ip=""):
    """Reject the unprocessed items among `item_ids` (at most REJECT_LIMIT): their values
    stay, for the Processed view. Returns how many were rejected (the others were processed
    meanwhile or are no items)."""
    user_id = getattr(user, "id", user)
    done = 0
    for item_id in list(dict.fromkeys(item_ids))[:REJECT_LIMIT]:
        try:
            with db.atomic():
                _claim(item_id, user_id, "rejected")
                item = get(item_id)
                IncomingItem.update(result=json.dumps({"rejected": True})).where(
                    IncomingItem.id == item_id).execute()
                audit.record("incoming.rejected", user=user_id, target=_target(item), ip=ip)
                done += 1
        except (AlreadyProcessed, IncomingItem.DoesNotExist):
            continue
    return done


@dataclass
class ImportAll:
    """What one "Import all" did: how many it imported, how many wait for a person
    ("Should be checked", or a web account whose link a person must confirm), and the
    failures ({reason: count}); `more`: items past IMPORT_ALL_LIMIT wait for the next."""
    imported: int = 0
    waiting: int = 0
    failed: dict = field(default_factory=dict)
    more: bool = False


def import_all(tab, user, ip="", limit=IMPORT_ALL_LIMIT):
    """"Import all" of the tab `tab`: the "New customer" and "Existing customer" items with
    their defaults (`default_decision`), and the items a person confirmed with their saved
    decision; a "Should be checked" item, and an existing customer's item whose web account a
    person must link (`safe_link`), wait. Each item is imported in its own transaction; one
    that fails stays unprocessed. Returns an ImportAll. Rules: issue 15 item 4, seed 001."""
    outcome = ImportAll()
    items = list(unprocessed(tab).limit(limit + 1))
    outcome.more = len(items) > limit
    items = items[:limit]
    home = home_country()
    for start in range(0, len(items), 100):
        chunk = items[start:start + 100]
        matches = classify(chunk, home)
        for item in chunk:
            match = matches[item.id]
            decision = Decision.from_json(item.decision) if item.confirmed_at else None
            if decision is None:
                if match.status == "check":
                    outcome.waiting += 1
                    continue
                decision = default_decision(item, match)
                account = item.web_account if item.web_account_id else None
                if match.status == "existing" and account is not None \
                        and account.contact_id is None and not decision.link:
                    outcome.waiting += 1
                    continue
            try:
                import_item(item.id, user, decision, ip)
            except AlreadyProcessed:
                continue
            except ImportFailed as failed:
                outcome.failed[failed.reason] = outcome.failed.get(failed.reason, 0) + 1
                continue
            outcome.imported += 1
    return outcome
