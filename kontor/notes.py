"""Notes: append-only entries on a contact or a contact person (SPEC section 6)."""
import uuid
from datetime import datetime
from typing import NamedTuple

from peewee import fn

from kontor import config, form_keys
from kontor.errors import Refused
from kontor.text import unix_lines
from models import NoteEntry, Prepared, as_datetime, db, insert_rows
from models.clock import utcnow


class EmptyEntry(Refused, ValueError):
    """A note entry with nothing but space in it."""

    def __init__(self, reason="empty"):
        super().__init__(reason)


def add_entry(contact, text, author=None, person=None, form_key=None):
    """Append one entry stamped with now and the author; line breaks kept, nothing else.
    Returns the NoteEntry; raises EmptyEntry for blank text, and form_keys.AlreadySaved when
    `form_key` was used before (a double-click: entries can never be deleted). Text past
    config.NOTE_ENTRY_MAX_LENGTH is cut (the form refuses it first)."""
    text = unix_lines(text or "").strip("\n")
    if not text.strip():
        raise EmptyEntry()
    with db.atomic():
        form_keys.claim(form_key, author.id if author is not None else None)
        return NoteEntry.create(contact=contact, person=person,
                                text=text[:config.NOTE_ENTRY_MAX_LENGTH], author=author,
                                author_name=author.display_name if author is not None else "",
                                created_at=utcnow(), uid=uuid.uuid4().hex)


def add_synced_entry(contact, text, author_name, created_at, uid, person=None):
    """Append an entry that came from the business database (the sync, issue 16): its text,
    author's name, time (naive UTC) and `uid` as the business database has them, so that the
    entry is the same on both sides. Returns the NoteEntry; text past
    config.NOTE_ENTRY_MAX_LENGTH is cut as a typed entry's would be."""
    return NoteEntry.create(contact=contact, person=person,
                            text=unix_lines(text or "")[:config.NOTE_ENTRY_MAX_LENGTH],
                            author=None, author_name=(author_name or "")[:200],
                            created_at=created_at, uid=uid)


def add_synced_entries(rows):
    """Append many entries from the business database at once (the sync's first run): `rows`
    are dicts with `contact`, `person`, `text`, `author_name`, `created_at` and `uid`, as
    `add_synced_entry` takes them. Call it inside a transaction. Returns the new ids in the
    order of `rows`."""
    clean = [dict(contact=row["contact"], person=row.get("person"),
                  text=unix_lines(row.get("text") or "")[:config.NOTE_ENTRY_MAX_LENGTH],
                  author=None, author_name=(row.get("author_name") or "")[:200],
                  created_at=row.get("created_at") or utcnow(), uid=row["uid"])
             for row in rows]
    return insert_rows(NoteEntry, clean, returning=True)


OLDEST_FIRST = (NoteEntry.created_at, NoteEntry.id)
NEWEST_FIRST = (NoteEntry.created_at.desc(), NoteEntry.id.desc())


def _note(select, order=(), limited=False):
    """Prepared queries of one note, keyed by whether it is a person's note. Their arguments:
    the contact's id, then the person's id for a person's note, then the limit if `limited`."""
    def build(contact_id, person_id, *limit):
        query = select().where(NoteEntry.contact == contact_id,
                               NoteEntry.person.is_null() if person_id is None
                               else NoteEntry.person == person_id).order_by(*order)
        return query.limit(*limit) if limited else query
    return {False: Prepared(lambda contact_id, *limit: build(contact_id, None, *limit),
                            arity=1 + limited),
            True: Prepared(build, arity=2 + limited)}


class Entry(NamedTuple):
    """One entry as pages and the RTF show it."""
    created_at: datetime
    author_name: str
    text: str


def _shown():
    return NoteEntry.select(NoteEntry.created_at, NoteEntry.author_name, NoteEntry.text)


_NEWEST = _note(_shown, NEWEST_FIRST, limited=True)
_WHOLE = _note(_shown, OLDEST_FIRST)
_COUNT = _note(lambda: NoteEntry.select(fn.COUNT(NoteEntry.id)).tuples())


def _which(contact, person):
    return (contact.id, person.id) if person is not None else (contact.id,)


def _entries(rows):
    return [Entry(as_datetime(at), who, text) for at, who, text in rows]


def entries(contact, person=None):
    """The whole note, oldest entry first (the order it was written)."""
    return _entries(_WHOLE[person is not None].rows(*_which(contact, person)))


SHOWN_ON_PAGE = 50


def recent(contact, person=None, limit=SHOWN_ON_PAGE):
    """The newest `limit` entries (oldest first, as the note reads) and how many there are."""
    newest = _entries(_NEWEST[person is not None].rows(*_which(contact, person), limit))
    total = len(newest) if len(newest) < limit else \
        _COUNT[person is not None](*_which(contact, person))[0][0]
    return newest[::-1], total
