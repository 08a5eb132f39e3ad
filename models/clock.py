"""The one place Kontor asks for the time. Stored times are naive UTC datetimes.

It lives with the models because their column defaults need it and the models import nothing
from `kontor`; `kontor.clock` re-exports `utcnow` for the code that still imports it there.
"""
from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    """The current time in UTC as a naive datetime, as every stored time is kept."""
    return datetime.now(UTC).replace(tzinfo=None)


def ago(**kwargs) -> datetime:
    """utcnow() minus a timedelta: `ago(minutes=20)`. Takes `timedelta`'s keyword arguments."""
    return utcnow() - timedelta(**kwargs)
