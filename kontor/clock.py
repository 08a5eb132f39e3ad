"""The one place Kontor asks for the time. Stored times are naive UTC datetimes."""
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
