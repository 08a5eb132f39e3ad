"""The one place Kontor asks for the time. Stored times are naive UTC datetimes.

It lives with the models because their column defaults need it and the models import nothing
from `kontor`; the domain code imports it from here too.
"""
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time in UTC as a naive datetime, as every stored time is kept."""
    return datetime.now(UTC).replace(tzinfo=None)

