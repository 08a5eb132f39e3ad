"""The one place Kontor asks for the time. Stored times are naive UTC datetimes."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
