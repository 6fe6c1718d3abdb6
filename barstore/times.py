"""Times given by users (options, request bodies, settings): ISO text or datetimes, always read as UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

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


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
DURATION = "a duration such as 10m, 2h or 4d"  # what a duration refusal says is expected


def parse_duration(text, what: str) -> timedelta:
    """A duration such as "10m", "2h", "4d", "1h30m" or "45s"; otherwise a BarstoreError in the settings' scheme
    (barstore/settings_tables.py): "--reload-interval: expected a duration such as 10m, 2h or 4d, got '5 minutes'"."""
    compact = text.strip().lower().replace(" ", "") if isinstance(text, str) else ""
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise BarstoreError(f"{what}: expected {DURATION}, got {text!r}")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def format_duration(delta: timedelta) -> str:
    """A short reading of a duration, its two largest units: 45s, 10m, 12m 30s, 3h 05m, 2d 04h, -1m 30s."""
    total = delta.total_seconds()
    sign, rest = ("-" if total < 0 else ""), int(round(abs(total)))
    parts = []
    for unit, seconds in _UNIT_SECONDS.items():
        count, rest = divmod(rest, seconds)
        if count or parts:
            parts.append(f"{count:02d}{unit}" if parts else f"{count}{unit}")
        if len(parts) == 2:
            break
    if len(parts) == 2 and parts[1].startswith("00"):
        parts.pop()
    return sign + (" ".join(parts) or "0s")
