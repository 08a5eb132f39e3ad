"""Support requests (SPEC section 9): numbering, who may see a case, the thread, status
changes, ownership, closing, "Was your question answered?", the case history, and the
superuser's lists of categories and types.

Who does something to a case is a staff User or, for the portal's customers (issue 14 item 6,
kontor/portal_cases.py), their WebAccount (`actor`). Plain functions over the models; the
outbox e-mails are sent by the views, which know the recipients' languages and the links.
Stored files are kontor/uploads.py's.
"""
import functools
import platform
import sqlite3
from dataclasses import dataclass
from datetime import UTC
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peewee import JOIN, SQL, Expression, IntegrityError, NodeList, Table, fn

from kontor import __version__, form_keys, paging
from kontor.errors import Refused
from kontor.generations import KeptWhileUnchanged
from kontor.search import contains, like_pattern
from kontor.text import (
    list_key,
    list_name,
    search_terms,
    search_text,
    unix_lines,
    whole_number,
    without_controls,
)
from models import (
    CaseCategory,
    CaseEvent,
    CaseFile,
    CaseMessage,
    CaseType,
    Company,
    Contact,
    Employee,
    Prepared,
    SupportCase,
    User,
    WebAccount,
    as_datetime,
    db,
    id_array,
    is_sqlite,
    with_employee,
)
from models.clock import utcnow

STATUSES = ("open", "answered", "closed")

# The lists a superuser keeps, by the name the settings URLs use.
CASE_LISTS = {"categories": CaseCategory, "types": CaseType}


def staff_see_all() -> bool:
    """The company setting "Staff see all support cases" (SPEC section 9, issue 11 item 19):
    True (the default, and before setup) when every staff member sees every case, False when
    staff see only the cases they asked or own."""
    company = Company.select(Company.staff_see_all_cases).order_by(Company.id).first()
    return True if company is None else bool(company.staff_see_all_cases)


def set_staff_see_all(value: bool) -> bool:
    """Set the company setting "Staff see all support cases" (see staff_see_all). Setting,
    not toggling: a second click or a stale tab leaves it as asked. Returns whether it
    changed. Raises LookupError before setup (no company)."""
    with db.atomic():
        company = Company.current()
        if company is None:
            raise LookupError("no company yet")
        return bool(Company.update(staff_see_all_cases=bool(value)).where(
            Company.id == company.id, Company.staff_see_all_cases != bool(value)).execute())


def sees_all(user) -> bool:
    """Whether `user` sees every support case: a superuser always, a staff member when the
    company setting says so (staff_see_all)."""
    return bool(user.is_superuser) or staff_see_all()


def can_see(user, case, everything=None) -> bool:
    """Whether `user` may see `case`: every case when they see all (`everything`, else
    sees_all(user)), else the cases they asked or own. One rule for the list, the search,
    the case page, its files and the contact's timeline (issue 11 item 19)."""
    if everything is None:
        everything = sees_all(user)
    return bool(everything or case.owner_id == user.id or case.requester_user_id == user.id)


def visible_to(user, everything=None):
    """A query of the SupportCase rows `user` may see (see can_see; `everything` as there)."""
    if everything is None:
        everything = sees_all(user)
    query = SupportCase.select()
    if not everything:
        query = query.where((SupportCase.owner == user.id) |
                            (SupportCase.requester_user == user.id))
    return query


# The case with everything its page shows of it (customer, category, type; then requester
# and owner with their employees), in two queries made once (issue 12 item 26): one at a
# time, these took six queries and most of the page's time in generating their SQL, and as
# one query of eight tables PostgreSQL spent 1.5 ms planning it.
_CASE = Prepared(lambda year, seq: (
    SupportCase.select(SupportCase, Contact, CaseCategory, CaseType)
    .join(Contact, on=(SupportCase.contact == Contact.id), attr="contact")
    .switch(SupportCase)
    .join(CaseCategory, JOIN.LEFT_OUTER, on=(SupportCase.category == CaseCategory.id),
          attr="category")
    .switch(SupportCase)
    .join(CaseType, JOIN.LEFT_OUTER, on=(SupportCase.type == CaseType.id), attr="type")
    .where(SupportCase.year == year, SupportCase.seq == seq)))
_PEOPLE = Prepared(lambda requester_id, owner_id: with_employee(User.select()).where(
    User.id.in_([requester_id, owner_id])))


def find(user, year, seq):
    """The case numbered year-seq if `user` may see it, else None (the view answers 404);
    its customer, category, type, requester and owner (with their employees) are read with
    it."""
    found = _CASE(year, seq)
    if not found or not can_see(user, found[0]):
        return None
    case = found[0]
    people = {person.id: person for person in _PEOPLE(case.requester_user_id or 0,
                                                      case.owner_id or 0)}
    if case.requester_user_id in people:
        case.requester_user = people[case.requester_user_id]
    if case.owner_id in people:
        case.owner = people[case.owner_id]
    case.requester_account = (WebAccount.get_or_none(WebAccount.id == case.requester_account_id)
                              if case.requester_account_id else None)
    return case


def find_by_number(user, number: str):
    """The case numbered `number` ("2025-17", as in its URL) if `user` may see it, else None;
    None too for text that is not such a number."""
    parts = [whole_number(part) for part in number.split("-")]
    if len(parts) != 2 or None in parts:
        return None
    return find(user, *parts)


def case_file(case, file_id):
    """The CaseFile `file_id` if it belongs to `case`, else None."""
    return CaseFile.get_or_none(CaseFile.id == file_id, CaseFile.case == case.id)


PER_PAGE = 50


@dataclass
class CaseRow:
    """One line of the case list: what the list shows of a case, read in one query with its
    customer's and owner's names (not a model: 50 of them cost a fraction of 50 models)."""
    id: int
    year: int
    seq: int
    subject: str
    status: str
    updated_at: object      # a naive UTC datetime
    owner_id: int | None
    customer: str
    owner_name: str

    @property
    def number(self):
        return f"{self.year}-{self.seq:04d}"


def _visible(query, user_id, everything, mine, status):
    """`query` (of SupportCase) narrowed to the cases the list shows (see listing)."""
    if not everything:
        query = query.where((SupportCase.owner == user_id) |
                            (SupportCase.requester_user == user_id))
    if mine:
        query = query.where(SupportCase.owner == user_id)
    if status is not None:
        query = query.where(SupportCase.status == status)
    return query


LIST_ORDER = (SupportCase.updated_at.desc(), SupportCase.id.desc())


def _page_ids(everything, mine, with_status):
    """The prepared query of one page's case ids in the list's order, from an index alone
    (migration 0016): a deep page skips index entries, not joined rows."""
    return Prepared(lambda user_id, status, limit, offset: _visible(
        SupportCase.select(SupportCase.id), user_id, everything, mine,
        status if with_status else None).order_by(*LIST_ORDER).limit(limit).offset(offset))


# one prepared query for each shape of the list without a search (everything, mine, status)
_PAGE_IDS = {(everything, mine, with_status): _page_ids(everything, mine, with_status)
             for everything in (True, False) for mine in (True, False)
             for with_status in (True, False)}

_OWNER = User.alias()
_OWNER_EMPLOYEE = Employee.alias()
_LIST_ROWS = Prepared(lambda *ids: (
    SupportCase.select(SupportCase.id, SupportCase.year, SupportCase.seq, SupportCase.subject,
                       SupportCase.status, SupportCase.updated_at, SupportCase.owner,
                       Contact.name, fn.COALESCE(_OWNER_EMPLOYEE.name, _OWNER.email))
    .join(Contact, on=(SupportCase.contact == Contact.id))
    .switch(SupportCase)
    .join(_OWNER, JOIN.LEFT_OUTER, on=(SupportCase.owner == _OWNER.id))
    .join(_OWNER_EMPLOYEE, JOIN.LEFT_OUTER, on=(_OWNER.employee == _OWNER_EMPLOYEE.id))
    .where(SupportCase.id.in_(ids))), arity=PER_PAGE + 1)


def _rows_by_id(ids):
    """The CaseRows of `ids` (at most PER_PAGE + 1), in that order."""
    if not ids:
        return []
    found = {row[0]: CaseRow(*row[:5], as_datetime(row[5]), *row[6:]) for row in
             _LIST_ROWS.rows(*(ids + [0] * (PER_PAGE + 1 - len(ids))))}
    return [found[i] for i in ids if i in found]


def _term_values(terms):
    """The arguments a search's prepared query takes for `terms` (kontor.text.search_terms),
    and the shape they give it: (values, long, short). Each term of three characters or more
    (`long` of them, first) gives its FTS5 phrase, itself and its LIKE pattern; each shorter
    one (`short`) itself and its pattern. SQLite's query uses some, PostgreSQL's others."""
    longs = [term for term in terms if len(term) >= 3]
    shorts = [term for term in terms if len(term) < 3]
    values = [value for term in longs
              for value in ('"' + term.replace('"', '""') + '"', term, like_pattern(term))]
    values += [value for term in shorts for value in (term, like_pattern(term))]
    return values, len(longs), len(shorts)


# SQLite's trigram index of the cases' subjects (migration 0016), its rowids the cases' ids;
# by its own name in the SQL (and in the query plans), not an alias such as "t3"
_SUBJECTS = Table("support_case_fts", ("rowid", "support_case_fts")).alias("support_case_fts")


def _matching(query, longs, shorts):
    """`query` (of SupportCase ids) narrowed to the cases matching every term: each in the
    subject or in the customer's name. `longs` are the terms of three characters or more as
    (FTS5 phrase, term, LIKE pattern), `shorts` the shorter ones as (term, pattern): see
    _term_values; they may be a prepared query's arguments.

    A long term is looked up in the trigram indexes (the cases' of migration 0016, the
    contacts' of 0004): the cases whose subject has it, with (UNION) the cases of the
    customers whose name has it, and of several terms the cases found for each (INTERSECT),
    so no case row is read to test it; a short one is tested on each case and its customer."""
    found = None
    for phrase, term, pattern in longs:
        if is_sqlite():
            # CROSS JOIN: the index first, then each contact it found (SQLite would rather
            # walk a whole index of the contacts' names, testing each against the matches)
            customers = NodeList((
                SQL("(SELECT c.id FROM contact_fts CROSS JOIN contact AS c "
                    "ON c.id = contact_fts.rowid WHERE contact_fts MATCH"), phrase,
                SQL("AND instr(c.sort_name,"), term, SQL(") > 0)")))
            # the index's rowids are the cases' ids (its triggers keep it so): no case is read
            subjects = _SUBJECTS.select(_SUBJECTS.rowid).where(
                Expression(_SUBJECTS.support_case_fts, "MATCH", phrase))
        else:
            # the contacts' index holds more than the name (city, e-mail...): the name decides
            customers = Contact.select(Contact.id).where(
                contains(Contact.search_text, term, pattern),
                contains(Contact.sort_name, term, pattern))
            subjects = SupportCase.select(SupportCase.id).where(
                contains(SupportCase.search_text, term, pattern))
        cases = SupportCase.select(SupportCase.id).where(
            SupportCase.contact.in_(customers)) | subjects
        found = cases if found is None else found & cases
    if found is not None and is_sqlite():
        query = query.where(SupportCase.id.in_(found))
    elif found is not None:
        # gathered first, as an array (as the contacts' search does): with IN, PostgreSQL
        # read every case to join it with the matches (10 ms instead of 8 on the bench)
        query = query.where(SupportCase.id == fn.ANY(NodeList((SQL("ARRAY"), found), glue="")))
    if shorts:
        query = query.join(Contact, on=(SupportCase.contact == Contact.id))
        for term, pattern in shorts:
            query = query.where(contains(SupportCase.search_text, term, pattern) |
                                contains(Contact.sort_name, term, pattern))
    return query


def _matching_in_order(visible, longs):
    """PostgreSQL: the ids of the cases matching every long term (see _matching; `longs` as
    there) that `visible` (a function narrowing a query of SupportCase, see _visible) keeps,
    in the list's order. Each term's matches are found with their updated_at (the subjects'
    from the rows the trigram index leads to, read anyway; the customers' from an index of
    (contact, updated_at, id)), and of several terms the pairs found for each (INTERSECT);
    the order is then sorted from those pairs. Looking each match up again in an index of
    (id, updated_at), as `= ANY(ARRAY(...))` did, read three index pages a match: 3,000 for
    the 1,352 cases of "uberweisung" on the bench (issue 12 item 26)."""
    found = None
    for _phrase, term, pattern in longs:
        customers = Contact.select(Contact.id).where(
            contains(Contact.search_text, term, pattern),
            contains(Contact.sort_name, term, pattern))
        of_customers = visible(SupportCase.select(SupportCase.id, SupportCase.updated_at)
                               .where(SupportCase.contact.in_(customers)))
        by_subject = visible(SupportCase.select(SupportCase.id, SupportCase.updated_at)
                             .where(contains(SupportCase.search_text, term, pattern)))
        cases = of_customers | by_subject
        found = cases if found is None else found & cases
    matches = found.alias("matches")
    return matches.select_from(matches.c.id).order_by(matches.c.updated_at.desc(),
                                                      matches.c.id.desc())


@functools.lru_cache(maxsize=128)
def _search(everything, mine, with_status, longs, shorts):
    """The prepared query of the ids of a search's matches in the list's order, for one shape
    of search: who sees what (see listing), with a status or not, and how many long and short
    terms it has (_term_values). Its arguments: user id, status, limit, offset, then the
    terms' values. Peewee took longer to write a search's SQL than the database to answer it
    (issue 12 item 26): it is written once per shape, and there are at most a few hundred."""
    def build(user_id, status, limit, offset, *values):
        cut = 3 * longs
        if longs and not shorts and not is_sqlite():
            return _matching_in_order(
                lambda query: _visible(query, user_id, everything, mine,
                                       status if with_status else None),
                [values[i:i + 3] for i in range(0, cut, 3)]).limit(limit).offset(offset)
        query = _visible(SupportCase.select(SupportCase.id), user_id, everything, mine,
                         status if with_status else None)
        query = _matching(query, [values[i:i + 3] for i in range(0, cut, 3)],
                          [values[i:i + 2] for i in range(cut, len(values), 2)])
        return query.order_by(*LIST_ORDER).limit(limit).offset(offset)
    return Prepared(build, arity=4 + 3 * longs + 2 * shorts)


def _by_number(everything, mine, with_status):
    """The prepared query of the id of the case numbered year-seq if the list shows it (see
    listing); arguments as _search's, then the year and the number in the year."""
    return Prepared(lambda user_id, status, limit, offset, year, seq: _visible(
        SupportCase.select(SupportCase.id), user_id, everything, mine,
        status if with_status else None).where(SupportCase.year == year,
                                               SupportCase.seq == seq)
        .order_by(*LIST_ORDER).limit(limit).offset(offset))


_BY_NUMBER = {(everything, mine, with_status): _by_number(everything, mine, with_status)
              for everything in (True, False) for mine in (True, False)
              for with_status in (True, False)}


MAX_KEPT_IDS = 50_000     # a search matching more is not kept (4-byte ids: 200 kB)

# The ordered ids of recent searches' matches, while no case and no contact changed in a
# way that could alter them (migrations 0006 and 0016): paging through a search, or asking
# again, reads only the rows shown (as the contact list does, kontor/contacts/searching.py).
search_ids = KeptWhileUnchanged(("support_case", "contact"), max_entries=32)


def listing(user, mine=False, status="", text="", page=None, per_page=PER_PAGE):
    """One page of the case list (a paging.Page of CaseRow): the cases `user` sees (only
    those they own when `mine`), with `status` if it is one of STATUSES, matching `text`: a
    case number, or words each found in the subject or the customer's name, folded as every
    search folds them ("uberweisung" finds "Überweisung fehlgeschlagen", issue 11 item 8);
    most recently changed first. `page` is the query string's page number (text or None; a
    number past the end gives the last page, as paging.paginate does).

    Fast at 20,000 cases (issue 12 item 26, SPEC section 11: under 10 ms at the median): the
    page's ids come from an index in the list's order (migration 0016), searched words from
    trigram indexes (a search's ids are kept until a case or contact changes: search_ids),
    and the rows shown from one prepared query by id; every query's SQL is written once per
    shape of list or search (_PAGE_IDS, _search, _BY_NUMBER); a fixed number of queries
    whatever the page shows."""
    assert per_page == PER_PAGE, "the prepared row query reads PER_PAGE + 1 ids"
    number = whole_number(page, maximum=paging.MAX_PAGE) or 1
    everything = sees_all(user)
    status = status if status in STATUSES else None
    text = without_controls(text or "").strip()
    case_number = [whole_number(part) for part in text.split("-")] if text else []
    shape = (everything, bool(mine), status is not None)
    kept = None
    if not text:
        prepared, values = _PAGE_IDS[shape], ()
    elif len(case_number) == 2 and None not in case_number:
        prepared, values = _BY_NUMBER[shape], case_number
    else:
        terms = search_terms(text)
        values, longs, shorts = _term_values(terms)
        prepared = _search(*shape, longs, shorts)

        def all_ids():
            """Every match's id in the list's order (an array), None past MAX_KEPT_IDS."""
            ids = id_array(prepared.cursor(user.id, status or "", MAX_KEPT_IDS + 1, 0, *values))
            return ids if len(ids) <= MAX_KEPT_IDS else None
        kept = search_ids.get((tuple(terms), status, bool(mine),
                               None if everything and not mine else user.id), all_ids)

    def ids_at(offset):
        if kept is not None:
            return kept[offset:offset + per_page + 1].tolist()
        return [i for (i,) in prepared.rows(user.id, status or "", per_page + 1, offset,
                                            *values)]
    ids = ids_at((number - 1) * per_page)
    if not ids and number > 1:     # past the end (a bookmark of a list that shrank)
        if kept is not None:
            count = len(kept)
        else:     # rare: counted by a query written for it
            count = prepared.query(user.id, status or "", None, None, *values).order_by() \
                .count()
        number = min(number, paging.last_page(count, per_page))
        ids = ids_at((number - 1) * per_page)
    return paging.Page(_rows_by_id(ids[:per_page]), number, per_page, len(ids) > per_page)


_ANSWERS = ("answered_yes", "answered_no")
_SATISFACTION = {
    True: Prepared(lambda user_id: (
        CaseEvent.select(CaseEvent.action, fn.COUNT(CaseEvent.id))
        .where(CaseEvent.action.in_(_ANSWERS)).group_by(CaseEvent.action))),
    False: Prepared(lambda user_id: (
        CaseEvent.select(CaseEvent.action, fn.COUNT(CaseEvent.id))
        .join(SupportCase, on=(CaseEvent.case == SupportCase.id))
        .where(CaseEvent.action.in_(_ANSWERS),
               (SupportCase.owner == user_id) | (SupportCase.requester_user == user_id))
        .group_by(CaseEvent.action))),
}


# the satisfaction line's counts, while no answer and no case's hands changed (migration 0016)
satisfaction_counts = KeptWhileUnchanged(("case_answers",), max_entries=256)


def satisfaction(user):
    """(yes, all answers) to "Was your question answered?" on the cases the user sees.

    Counted from the history, so a "No" still counts after the case was reopened and closed
    again, and every closing that was rated counts once. Reads only the answers, through the
    index on (action, case_id), and only when one changed (kontor/generations.py; migration
    0016; issue 12 item 26)."""
    everything = sees_all(user)

    def count():
        counts = dict(_SATISFACTION[everything].rows(user.id))
        yes = counts.get("answered_yes", 0)
        return yes, yes + counts.get("answered_no", 0)

    return satisfaction_counts.get(None if everything else user.id, count)


def actor(who):
    """(user id, web account id, name) of who did something to a case: a staff User, or a
    portal customer's WebAccount (issue 14 item 6); (None, None, "") for nobody."""
    if who is None:
        return None, None, ""
    if isinstance(who, WebAccount):
        return None, who.id, who.display_name
    return who.id, None, who.display_name


def event(case, user, action, old="", new=""):
    """Write one line of the case history (old and new values cut to 200 characters); `user`
    is a staff User or a customer's WebAccount (see actor)."""
    user_id, account_id, _name = actor(user)
    CaseEvent.create(case=case, user=user_id, web_account_id=account_id, action=action,
                     old=str(old)[:200], new=str(new)[:200], at=utcnow())


@dataclass
class Draft:
    """What the "Create new" wizard collected (ids of the contact, category, type and owner
    user; the subject and description as typed; whether to add the technical information)."""
    contact_id: int
    category_id: int
    type_id: int
    subject: str
    description: str
    owner_id: int
    include_tech: bool
    tech_info: str


def case_year(moment, timezone_name):
    """The year a case opened at `moment` (a naive UTC datetime) is numbered in: the year on
    the company's calendar, `timezone_name` (IANA, e.g. "Europe/Amsterdam"; an unknown or empty
    one counts as UTC). A case at 00:30 on 1 January in Amsterdam is 23:30 UTC the day before,
    and belongs to the new year (issue 10 item 16)."""
    try:
        zone = ZoneInfo(timezone_name) if timezone_name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return moment.replace(tzinfo=UTC).astimezone(zone).year


def create(draft: Draft, requester, files=(), form_key=None):
    """Open a case from a finished wizard; `files` are (original_name, stored_name, size,
    content_type). Returns the case. Raises form_keys.AlreadySaved when `form_key` was used
    before (Send clicked twice: one case, not two)."""
    now = utcnow()
    company = Company.current()
    year = case_year(now, company.timezone if company else "")
    for attempt in range(5):
        try:
            with db.atomic():
                form_keys.claim(form_key, requester.id)
                seq = (SupportCase.select(fn.MAX(SupportCase.seq))
                       .where(SupportCase.year == year).scalar() or 0) + 1
                subject = draft.subject.strip()[:200]
                case = SupportCase.create(
                    year=year, seq=seq, contact=draft.contact_id,
                    category=draft.category_id or None, type=draft.type_id or None,
                    subject=subject, search_text=search_text(subject),
                    owner=draft.owner_id or requester.id,
                    requester_user=requester.id, status="open",
                    tech_info=draft.tech_info if draft.include_tech else "",
                    created_at=now, updated_at=now)
                message = CaseMessage.create(case=case, author=requester,
                                             author_name=requester.display_name,
                                             body=unix_lines(draft.description).strip(),
                                             created_at=now)
                for original, stored, size, content_type in files:
                    CaseFile.create(case=case, message=message, original_name=original,
                                    stored_name=stored, size=size, content_type=content_type,
                                    uploaded_by=requester, created_at=now)
                event(case, requester, "created", new=case.number)
                if case.owner_id != requester.id:
                    event(case, requester, "owner", new=case.owner.display_name)
                return case
        except IntegrityError:
            if attempt == 4:
                raise
    raise RuntimeError("unreachable")


def is_requester(user, case):
    """Whether `user` asked for `case`. A portal customer who writes in a case they may see
    (kontor/portal_cases.py) is on the requester's side: their message opens it."""
    if isinstance(user, WebAccount):
        return True
    return case.requester_user_id == user.id


def add_information(case, author, body, files=(), form_key=None):
    """Add a message (and files). Who wrote it decides the new status:
    the requester (or a portal customer, a WebAccount) → open (the owner is told); anyone
    else → answered (the requester is told). A closed case reopens. Returns (message, new
    status). Raises form_keys.AlreadySaved when `form_key` was used before (a double-click, a
    stale tab)."""
    now = utcnow()
    new_status = "open" if is_requester(author, case) else "answered"
    user_id, account_id, name = actor(author)
    with db.atomic():
        form_keys.claim(form_key, user_id)
        message = CaseMessage.create(case=case, author=user_id, author_account_id=account_id,
                                     author_name=name, body=unix_lines(body).strip(),
                                     created_at=now)
        for original, stored, size, content_type in files:
            CaseFile.create(case=case, message=message, original_name=original,
                            stored_name=stored, size=size, content_type=content_type,
                            uploaded_by=user_id, created_at=now)
        event(case, author, "message", new=f"{len(body.strip())} characters, {len(files)} files")
        _set_status(case, author, new_status, now)
    return message, new_status


def _current_status(case):
    """The case's status as stored now (not as the request found it)."""
    return SupportCase.select(SupportCase.status).where(
        SupportCase.id == case.id).scalar()


def _set_status(case, user, status, now, only_from=None, **changes):
    """Move `case` to `status` and write the history line; True if this request moved it.

    A compare-and-set: the UPDATE holds only while the status is still the one just read
    (or one of `only_from`), so of two requests racing to make the same change, one does
    it and the other finds nothing to do (SQLite: the write lock; PostgreSQL: the row lock
    and the re-checked WHERE)."""
    old = _current_status(case)
    if only_from is not None and old not in only_from:
        case.status = old
        return False
    changes.update(status=status, updated_at=now, version=SupportCase.version + 1)
    if status == "closed" and old != "closed":
        changes.update(closed_at=now, satisfied=None)
    moved = SupportCase.update(**changes).where(SupportCase.id == case.id,
                                                SupportCase.status == old).execute()
    if moved and old != status:
        event(case, user, "status", old=old, new=status)
    case.status = status if moved else _current_status(case)
    return bool(moved) and old != status


def close(case, user):
    """Close `case` on behalf of `user` (who may: the view checks), clearing its rating.
    Returns False when it was closed already (a second click, a stale tab): then nothing
    changes, and nobody should be told again."""
    with db.atomic():
        return _set_status(case, user, "closed", utcnow(), only_from=("open", "answered"))


def change_owner(case, user, new_owner):
    """Give `case` to `new_owner`; `user` is who did it, for the history. Returns False when
    the owner is no longer the one the request found (someone else changed it meanwhile, or
    it was this very change, posted twice): then nothing changes."""
    with db.atomic():
        found = case.owner_id
        if found == new_owner.id:
            return False
        moved = SupportCase.update(owner=new_owner.id, updated_at=utcnow(),
                                   version=SupportCase.version + 1).where(
            SupportCase.id == case.id,
            SupportCase.owner.is_null() if found is None else SupportCase.owner == found
        ).execute()
        if moved:
            event(case, user, "owner", old=case.owner.display_name if found else "",
                  new=new_owner.display_name)
        return bool(moved)


def needs_answer_question(user, case):
    """Ask "Was your question answered?" when the requester views a closed, unrated case."""
    return case.status == "closed" and case.satisfied is None and is_requester(user, case)


def _unrated_closed(case):
    return (SupportCase.id == case.id) & (SupportCase.status == "closed") & \
        SupportCase.satisfied.is_null()


def answered_yes(case, user):
    """Record the requester's "Yes, my question was answered" (`user`: a staff User or a
    portal customer's WebAccount, see actor). Returns False when the case
    was answered already (or is no longer closed): nothing is recorded twice."""
    with db.atomic():
        if not SupportCase.update(satisfied=True).where(_unrated_closed(case)).execute():
            return False
        event(case, user, "answered_yes")
        return True


def answered_no(case, user, feedback):
    """Record the feedback and reopen the case (`user` as for answered_yes). Returns False
    when the case was answered already (two "No, reopen" posts: the second stores no feedback
    and tells nobody)."""
    now = utcnow()
    with db.atomic():
        if not SupportCase.update(satisfied=False, status="open", updated_at=now,
                                  version=SupportCase.version + 1).where(
                _unrated_closed(case)).execute():
            return False
        user_id, account_id, name = actor(user)
        CaseMessage.create(case=case, author=user_id, author_account_id=account_id,
                           author_name=name, body=unix_lines(feedback).strip(),
                           kind="feedback", created_at=now)
        event(case, user, "answered_no")
        event(case, user, "status", old="closed", new="open")
        case.status = "open"
        return True


# what a user's display_name needs, and no more: a User and its Employee have some forty
# columns, and making them into models was most of the time of the queries below
_NAMED = (User.id, User.email, User.employee, Employee.id, Employee.name)

_STAFF_OWNERS = Prepared(lambda: User.select(*_NAMED).join(
    Employee, JOIN.LEFT_OUTER, on=(User.employee == Employee.id)).where(
    User.is_active == True).order_by(User.email))  # noqa: E712


def staff_owners():
    """Active accounts that can own a case, by e-mail: a list of User with only what the owner
    drop-down shows read (id, e-mail, display_name)."""
    return _STAFF_OWNERS()


def staff_owner(user_id):
    """The active account `user_id` (one that may own a case), or None."""
    return User.get_or_none(User.id == user_id, User.is_active == True)  # noqa: E712


def others_may_own(user) -> bool:
    """Whether an active account other than `user` exists, so that a case could go to it."""
    return User.select().where(User.is_active == True,  # noqa: E712
                               User.id != user.id).exists()


# the thread: its messages, each with its files (LEFT JOIN: a message has none as a rule), in
# one query (two before: issue 12 item 26, each query one more round trip on PostgreSQL)
_THREAD = Prepared(lambda case_id: CaseMessage.select(CaseMessage, CaseFile).join(
    CaseFile, JOIN.LEFT_OUTER, on=((CaseFile.message == CaseMessage.id) &
                                   (CaseFile.case == CaseMessage.case)), attr="file")
    .where(CaseMessage.case == case_id)
    .order_by(CaseMessage.created_at, CaseMessage.id, CaseFile.id))
_HISTORY = Prepared(lambda case_id: CaseEvent.select(CaseEvent, *_NAMED)
                    .join(User, JOIN.LEFT_OUTER, on=(CaseEvent.user == User.id))
                    .join(Employee, JOIN.LEFT_OUTER, on=(User.employee == Employee.id))
                    .where(CaseEvent.case == case_id).order_by(CaseEvent.at, CaseEvent.id))


def thread(case):
    """The case's messages in order, each with its files: [(CaseMessage, [CaseFile])]; one
    query."""
    messages = {}
    for row in _THREAD(case.id):
        found = messages.setdefault(row.id, (row, []))
        attached = getattr(row, "file", None)
        if attached is not None and attached.id is not None:
            found[1].append(attached)
    return list(messages.values())


def history(case):
    """The case's CaseEvent rows in order, each with its user's id, e-mail and display_name
    (its employee's name) joined, and
    `who`: the name of the staff user or portal customer (WebAccount) who did it, "" for
    nobody. One query more, only when customers are in the history."""
    events = list(_HISTORY(case.id))
    account_ids = {e.web_account_id for e in events if e.web_account_id}
    names = {}
    if account_ids:
        names = {a.id: a.display_name for a in WebAccount.select(
            WebAccount.id, WebAccount.name, WebAccount.email).where(
            WebAccount.id.in_(list(account_ids)))}
    for e in events:
        e.who = e.user.display_name if e.user_id else names.get(e.web_account_id, "")
    return events


def server_facts():
    """What a case's technical information says about the server: a dict with "kontor" (the
    version), "server" (system and Python) and "database" (engine and version). Raises
    peewee's DatabaseError when the database cannot answer."""
    if is_sqlite():
        database = f"SQLite {sqlite3.sqlite_version}"
    else:
        version = db.execute_sql("SHOW server_version").fetchone()[0]
        database = f"PostgreSQL {version}"
    return {"kontor": __version__,
            "server": f"{platform.platform()}, Python {platform.python_version()}",
            "database": database}


# --- the lists the superuser keeps --------------------------------------------------------

def active_categories():
    """The categories offered in the wizard's drop-down, in their order."""
    return list(CaseCategory.select().where(CaseCategory.active == True)  # noqa: E712
                .order_by(CaseCategory.position, CaseCategory.name))


def active_types():
    """The types of request offered in the wizard's drop-down, in their order."""
    return list(CaseType.select().where(CaseType.active == True)  # noqa: E712
                .order_by(CaseType.position, CaseType.name))


def case_lists():
    """Every category and type, offered or not, in their order:
    {"categories": [CaseCategory], "types": [CaseType]}."""
    return {kind: list(model.select().order_by(model.position, model.name))
            for kind, model in CASE_LISTS.items()}


class NameTaken(Refused):
    """A category or type of that name exists already, ignoring case, accents and spaces;
    `existing` is its name as stored."""

    def __init__(self, existing):
        super().__init__("name_taken", existing)
        self.existing = existing


def numbered_name(name: str, number: int) -> str:
    """`name` with " (number)" after it, cut to fit the 100 characters of a list name: how
    migration 0014 renames a name that clashes with an earlier one."""
    suffix = f" ({number})"
    return list_name(name)[:100 - len(suffix)] + suffix


def _taken(model, key, but=None):
    """The item of `model` whose key is `key` (other than item `but`), or None."""
    query = model.select().where(model.name_key == key)
    if but is not None:
        query = query.where(model.id != but)
    return query.first()


def add_to_list(kind, name, form_key=None):
    """Add `name` (see list_name) at the end of the list `kind` ("categories" or "types");
    return the new item. Raises KeyError for another `kind`, form_keys.AlreadySaved when
    `form_key` was used before, NameTaken when the list has that name already, ignoring case,
    accents and spaces (issue 11 item 19; the unique index on `name_key` decides a race)."""
    model = CASE_LISTS[kind]
    name, key = list_name(name), list_key(name)
    try:
        with db.atomic():
            form_keys.claim(form_key)
            existing = _taken(model, key)
            if existing is not None:
                raise NameTaken(existing.name)
            position = (model.select(fn.MAX(model.position)).scalar() or 0) + 1
            return model.create(name=name, name_key=key, position=position)
    except IntegrityError:      # added by someone else between the check and the insert
        existing = _taken(model, key)
        if existing is None:
            raise
        raise NameTaken(existing.name) from None


def rename_list_item(kind, item_id, name):
    """Give item `item_id` of the list `kind` the name `name` (see list_name); cases keep it
    under its new name. Returns the old name, or None when the list has no such item. Raises
    KeyError for another `kind`, NameTaken when another item has that name already, ignoring
    case, accents and spaces (issue 11 item 19)."""
    model = CASE_LISTS[kind]
    name, key = list_name(name), list_key(name)
    try:
        with db.atomic():
            item = model.get_or_none(model.id == item_id)
            if item is None:
                return None
            existing = _taken(model, key, but=item_id)
            if existing is not None:
                raise NameTaken(existing.name)
            model.update(name=name, name_key=key).where(model.id == item_id).execute()
            return item.name
    except IntegrityError:
        existing = _taken(model, key, but=item_id)
        if existing is None:
            raise
        raise NameTaken(existing.name) from None


def offer_list_item(kind, item_id, offered):
    """Put item `item_id` of the list `kind` in the drop-down (`offered` True) or take it out.
    Setting, not toggling, so a second click or a stale tab leaves it as asked. Returns
    whether it changed, None when the list has no such item. Raises KeyError for a `kind`
    other than "categories" or "types"."""
    model = CASE_LISTS[kind]
    with db.atomic():
        if not model.select().where(model.id == item_id).exists():
            return None
        return bool(model.update(active=offered).where(
            model.id == item_id, model.active != offered).execute())
