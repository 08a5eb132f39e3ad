"""Notes: append-only entries on a contact or a contact person (SPEC section 6)."""
import uuid

from kontor.clock import utcnow
from models import NoteEntry

MAX_ENTRY_LENGTH = 20000


class EmptyEntry(ValueError):
    pass


def add_entry(contact, text, author=None, person=None):
    """Append one entry stamped with now and the author; line breaks kept, nothing else."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text.strip():
        raise EmptyEntry()
    return NoteEntry.create(contact=contact, person=person, text=text[:MAX_ENTRY_LENGTH],
                            author=author,
                            author_name=author.display_name if author is not None else "",
                            created_at=utcnow(), uid=uuid.uuid4().hex)


def entries(contact, person=None):
    """The whole note, oldest entry first (the order it was written)."""
    query = NoteEntry.select().where(NoteEntry.contact == contact)
    query = query.where(NoteEntry.person == person) if person is not None \
        else query.where(NoteEntry.person.is_null())
    return query.order_by(NoteEntry.created_at, NoteEntry.id)


SHOWN_ON_PAGE = 50


def recent(contact, person=None, limit=SHOWN_ON_PAGE):
    """The newest `limit` entries (oldest first, as the note reads) and how many there are."""
    query = NoteEntry.select().where(NoteEntry.contact == contact)
    query = query.where(NoteEntry.person == person) if person is not None \
        else query.where(NoteEntry.person.is_null())
    newest = list(query.order_by(NoteEntry.created_at.desc(), NoteEntry.id.desc())
                  .limit(limit))
    total = len(newest) if len(newest) < limit else query.count()
    return newest[::-1], total
