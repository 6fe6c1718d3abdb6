"""Times given by users (options, request bodies, settings): ISO text or datetimes, always read as UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from .errors import BarstoreError


def parse_utc(value: str | datetime | None, what: str) -> datetime | None:
    """An aware UTC datetime from ISO text ('Z' allowed; naive times are UTC) or a datetime; None stays None.
    A BarstoreError naming `what` (the option or field) for text that is not an ISO time."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BarstoreError(f"{what} {value!r} is not an ISO time such as 2025-06-01T12:00") from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def parse_utc_or_now(value: str | datetime | None, what: str) -> datetime:
    """`parse_utc`, with the current time for None (an as-of time that defaults to now)."""
    return datetime.now(UTC) if value is None else parse_utc(value, what)
