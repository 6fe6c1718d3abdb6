"""SQL expressions that turn a file's timestamp column into UTC TIMESTAMPTZ bar starts.

Everything here builds DuckDB SQL text so the work runs vectorised over the whole Arrow table.
Rules:
- values with an offset or `Z` (strings) or a zone (Arrow/Parquet types) are aware and kept as is;
  they are cast to TIMESTAMPTZ, because a TIMESTAMP cast silently drops the offset;
- naive values (no offset) are wall-clock times in `zone` (DST via `timezone(zone, ts)`);
- numbers (or digit strings) are epoch seconds, milliseconds, microseconds or nanoseconds,
  told apart by magnitude; 8-digit strings like 20200102 are dates;
- nanosecond types are truncated to microseconds by the TIMESTAMPTZ cast.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import IngestError

# |epoch| below these is in seconds / milliseconds / microseconds, else nanoseconds.
# 1e11 s is the year 5138 and 1e11 ms is 1973, so real-world values never straddle a bound.
_EPOCH_BOUNDS = (10**11, 10**14, 10**17)

_AWARE_RE = r"\d:\d\d(:\d\d(\.\d+)?)?\s*([zZ]|[+-]\d\d(:?\d\d)?)$"
_NUMBER_RE = r"[+-]?\d+(\.\d+)?"
_YYYYMMDD_RE = r"(19|20)\d\d[01]\d[0-3]\d"

_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}


@dataclass(frozen=True)
class TsSql:
    value: str  # SQL giving TIMESTAMPTZ, NULL when the value cannot be parsed
    naive: str  # SQL boolean: the value had no zone ("TRUE"/"FALSE" when known from the type)


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_aware_type(duck_type: str) -> bool:
    t = duck_type.upper()
    return t.startswith("TIMESTAMP") and ("TIME ZONE" in t or t.startswith("TIMESTAMPTZ"))


def is_naive_type(duck_type: str) -> bool:
    t = duck_type.upper()
    return (t.startswith("TIMESTAMP") and not is_aware_type(t)) or t == "DATE"


def is_numeric_type(duck_type: str) -> bool:
    t = duck_type.upper()
    return t in _INTEGER_TYPES or t in ("FLOAT", "DOUBLE") or t.startswith("DECIMAL")


def text_sql(col: str, duck_type: str) -> str:
    """The column as text (JSON strings unquoted), for parsing and for error messages."""
    t = duck_type.upper()
    if t == "VARCHAR":
        return col
    if t == "JSON":
        return f"({col} ->> '$')"
    return f"CAST({col} AS VARCHAR)"


def _epoch_micros_int(x: str) -> str:
    s, ms, us = _EPOCH_BOUNDS
    return (
        f"CASE WHEN abs({x}) < {s} THEN {x} * 1000000 WHEN abs({x}) < {ms} THEN {x} * 1000 "
        f"WHEN abs({x}) < {us} THEN {x} ELSE {x} // 1000 END"
    )


def _epoch_micros_float(x: str) -> str:
    s, ms, us = _EPOCH_BOUNDS
    scaled = (
        f"CASE WHEN abs({x}) < {s} THEN {x} * 1e6 WHEN abs({x}) < {ms} THEN {x} * 1e3 "
        f"WHEN abs({x}) < {us} THEN {x} ELSE {x} / 1e3 END"
    )
    return f"TRY_CAST(round({scaled}) AS BIGINT)"


def _from_micros(micros: str) -> str:
    return f"timezone('UTC', make_timestamp({micros}))"


def _naive_to_utc(ts: str, zone: str) -> str:
    return f"timezone({sql_literal(zone)}, {ts})"


def timestamp_sql(col: str, duck_type: str, zone: str, formats: tuple[str, ...] = ()) -> TsSql:
    """SQL for column `col` (a quoted identifier or expression) of DuckDB type `duck_type`; naive values
    in `zone`. `formats` (strptime, e.g. '%m/%d/%Y %H:%M' for TradeStation) replace the guessing for text."""
    t = duck_type.upper()
    if is_aware_type(t):
        return TsSql(f"CAST({col} AS TIMESTAMPTZ)", "FALSE")
    if is_naive_type(t):
        return TsSql(_naive_to_utc(f"CAST({col} AS TIMESTAMP)", zone), "TRUE")
    if t in _INTEGER_TYPES:
        x = f"TRY_CAST({col} AS BIGINT)"
        return TsSql(_from_micros(_epoch_micros_int(x)), "FALSE")
    if is_numeric_type(t):
        x = f"CAST({col} AS DOUBLE)"
        return TsSql(f"CASE WHEN isfinite({x}) THEN {_from_micros(_epoch_micros_float(x))} END", "FALSE")
    s = f"trim({text_sql(col, t)})"
    if formats:  # a vendor's fixed layout: values in any other form are bad rows, not guesses
        listed = "[" + ", ".join(map(sql_literal, formats)) + "]"
        return TsSql(_naive_to_utc(f"TRY_STRPTIME({s}, {listed})", zone), "TRUE")
    is_date_digits = f"regexp_full_match({s}, '{_YYYYMMDD_RE}')"
    is_epoch = f"regexp_full_match({s}, '{_NUMBER_RE}')"
    is_aware = f"regexp_matches({s}, '{_AWARE_RE}')"
    epoch = _from_micros(_epoch_micros_float(f"TRY_CAST({s} AS DOUBLE)"))
    as_date = _naive_to_utc(f"TRY_STRPTIME({s}, '%Y%m%d')", zone)
    value = (
        f"CASE WHEN {is_date_digits} THEN {as_date} "
        f"WHEN {is_epoch} THEN {epoch} "
        f"WHEN {is_aware} THEN TRY_CAST({s} AS TIMESTAMPTZ) "
        f"ELSE {_naive_to_utc(f'TRY_CAST({s} AS TIMESTAMP)', zone)} END"
    )
    naive = f"({is_date_digits} OR NOT ({is_epoch} OR {is_aware}))"
    return TsSql(value, naive)


def check_zone(con, zone: str) -> None:
    """Refuse an unknown time zone name up front (DuckDB would fail mid-query otherwise)."""
    known = con.execute("SELECT count(*) FROM pg_timezone_names() WHERE name = ?", [zone]).fetchall()[0][0]
    if not known:
        raise IngestError(
            f"unknown time zone {zone!r}; use an IANA name such as America/New_York, Europe/London or UTC"
        )


def number_sql(col: str, duck_type: str) -> str:
    if is_numeric_type(duck_type):
        return f"CAST({col} AS DOUBLE)"
    return f"TRY_CAST(trim({text_sql(col, duck_type)}) AS DOUBLE)"
