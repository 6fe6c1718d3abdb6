"""Which file column plays which role (timestamp, open, ..., symbol): names matched case-insensitively."""

from __future__ import annotations

from ..errors import IngestError

# Accepted names per role, in the order they are tried.
ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("ts", "t", "time", "timestamp", "date", "datetime", "ts_utc", "ts_et"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "v", "vol"),
    "symbol": ("symbol",),
    "adj_close": ("adj_close", "adj close", "adjclose", "adjusted_close"),
}
PRICES = ("open", "high", "low", "close")
VALUES = (*PRICES, "volume")  # the stored bar values, in raw.bars column order
REQUIRED = ("ts", *VALUES)


def match_columns(names: list[str], source: str, assigned: tuple[str, ...] = ()) -> dict[str, str]:
    """Map each role not in `assigned` (given by --column or a preset) to the file's column name;
    extra columns are ignored.

    Raises IngestError for a missing required column or when two columns claim one role
    (e.g. both `o` and `open`), since guessing would silently load the wrong values."""
    by_lower: dict[str, list[str]] = {}
    for name in names:
        by_lower.setdefault(name.strip().lower(), []).append(name)

    found: dict[str, str] = {}
    for role, aliases in ALIASES.items():
        if role in assigned:
            continue
        candidates = [name for alias in aliases for name in by_lower.get(alias, [])]
        if len(candidates) > 1:
            raise IngestError(
                f"{source}: columns {', '.join(map(repr, candidates))} all look like the {role} column; "
                "keep one or rename the others"
            )
        if candidates:
            found[role] = candidates[0]
        elif role in REQUIRED:
            raise IngestError(
                f"{source}: missing required column {role!r} (accepted names, any case: "
                f"{', '.join(aliases)}); the file has {', '.join(map(repr, names)) or 'no columns'}"
                f"{_vendor_hint(names)}"
            )
    return found


def _vendor_hint(names: list[str]) -> str:
    """A header made of numbers is a first bar row: the file is headerless."""
    if any(any(ch.isdigit() for ch in n) and not any(ch.isalpha() for ch in n) for n in names):
        return (
            "; the first row looks like data, not a header: pass --no-header with --names or --column, "
            "or a --preset (e.g. firstrate)"
        )
    return "; for a vendor's layout pass --preset (yahoo, tradestation, firstrate) or map columns with --column"
