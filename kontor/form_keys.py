"""One-time form keys: a form that appends something (a note entry, a message on a case, a new
case, an item of a list) carries a random key; the first request that stores with it claims
the key in the same transaction, and a second request with the same key (a double-click, a
stale tab, two racing posts) stores nothing and is told so.

The unique index on FormKey.key decides the race on both databases: on PostgreSQL the second
insert waits for the first transaction and then fails; on SQLite the write lock serialises
them. Keys are purged lazily, config.FORM_KEY_KEPT after their use.
"""
import re
import secrets

from peewee import IntegrityError

from kontor import config
from kontor.errors import Refused
from models import FormKey, db
from models.clock import utcnow

_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,64}")


class AlreadySaved(Refused):
    """This form was stored already (its one-time key is used)."""

    def __init__(self, reason="already_saved"):
        super().__init__(reason)


def new_key() -> str:
    """A fresh key for a form about to be shown."""
    return secrets.token_urlsafe(24)


def usable(key) -> str | None:
    """`key` if it has the shape of a key, else None. A form that carries a key refuses a post
    without one before it stores (blueprints/forms.key_present, issue 10 item 2); a caller
    that is no form (an import, a test) passes None and is not guarded."""
    return key if isinstance(key, str) and _SHAPE.fullmatch(key) else None


def claim(key, user_id=None):
    """Mark `key` used; call it inside the transaction that stores, before storing. Raises
    AlreadySaved when it was used before (the caller's transaction must then end). A key
    without a key's shape is ignored."""
    key = usable(key)
    if key is None:
        return
    now = utcnow()
    try:
        with db.atomic():
            FormKey.create(key=key, user_id=user_id, used_at=now)
    except IntegrityError:
        raise AlreadySaved() from None
    FormKey.delete().where(FormKey.used_at < now - config.FORM_KEY_KEPT).execute()


def used(key) -> bool:
    """Whether `key` was claimed already (a repeat of a form whose first post went through)."""
    key = usable(key)
    return key is not None and FormKey.select().where(FormKey.key == key).exists()
