"""The row rules, as one vectorised DuckDB query: each row gets its bar start and a `reason`
(NULL when the row is good; all failed rules joined by '; ' otherwise)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..timeframes import SESSION_ANCHORED, TIMEFRAMES
from .columns import PRICES, VALUES
from .readers import ROW, SOURCE_VIEW
from .timestamps import number_sql, sql_literal, text_sql, timestamp_sql

if TYPE_CHECKING:
    from .mapping import Field

STAGE = "_ingest_stage"  # stage_sql's result: one row per file row, with its reason


@dataclass(frozen=True)
class Grid:
    timeframe: str  # a key of TIMEFRAMES (checked by options.validate)
    label: str  # "start" or "end"
    alt_zone: str  # daily bars: zone whose midnight also marks a date (--tz, else UTC)

    @property
    def seconds(self) -> int:
        return TIMEFRAMES[self.timeframe]


def _quoted(expr: str) -> str:
    return f"('''' || {expr} || '''')"


def _start_and_grid(grid: Grid) -> tuple[str, str]:
    """SQL for (bar start, is on grid) from `ts0`, the parsed label time."""
    ts = "ts0" if grid.label == "start" else f"(ts0 - INTERVAL {grid.seconds} SECOND)"
    if grid.timeframe == "1d":
        return ts, "TRUE"  # placed on its trading day's session by sessions.place_in_sessions
    # Session-anchored bars (4h here; 1d is placed above) follow the session open: any whole hour.
    step = 3600 if grid.timeframe in SESSION_ANCHORED else grid.seconds
    return ts, f"(epoch_us({ts}) % {step * 1_000_000} = 0)"


def _grid_words(grid: Grid) -> str:
    if grid.timeframe in SESSION_ANCHORED:
        return f"{grid.timeframe} bars must start on a whole hour"
    return f"{grid.timeframe} bars start at multiples of {grid.timeframe} from midnight UTC"


def stage_sql(
    fields: dict[str, Field],
    symbol_sql: str,
    zone: str | None,
    grid: Grid,
    ts_formats: tuple[str, ...] = (),
    adjust: Field | None = None,
) -> tuple[str, bool]:
    """SELECT __row, symbol, ts, open, high, low, close, volume, reason [, naive] from SOURCE_VIEW.

    With no `zone` for naive values, a `naive` column flags them (the caller refuses the file) and
    whether it is present is returned with the SQL. Daily bars given as bare dates (midnight) need no
    zone: the date names the trading day. `adjust` (the adj_close field) scales open/high/low/close by
    adj_close / close."""
    types = {r: f.type for r, f in fields.items()}
    ts = timestamp_sql(fields["ts"].sql, types["ts"], zone or "UTC", ts_formats)
    with_naive_flag = zone is None and ts.naive != "FALSE"
    values = {r: fields[r].sql for r in VALUES}
    numbers = {r: fields[r].number or number_sql(fields[r].sql, types[r]) for r in VALUES}
    if adjust is not None:
        values["adj_close"] = adjust.sql
        types["adj_close"] = adjust.type
        numbers["adj_close"] = number_sql(adjust.sql, adjust.type)
    # Raw cells ride along untouched; they become text only inside the branches that report a bad
    # row, because casting every cell to text would cost more than all the checks together.
    parsed = ",\n".join(
        [f"{ROW}", f"{symbol_sql} AS symbol", f"{ts.value} AS ts0", f"{fields['ts'].sql} AS raw_ts"]
        + [f"{numbers[r]} AS {r}" for r in values]
        + [f"{col} AS raw_{r}" for r, col in values.items()]
        + ([f"{ts.naive} AS naive"] if with_naive_flag else [])
    )
    shown = {r: _quoted(text_sql(f"raw_{r}", types[r])) for r in ("ts", *values)}
    start, on_grid = _start_and_grid(grid)
    # ts0 was read as UTC wall clock here, so its UTC time of day is the file's.
    bare_date = " AND CAST(timezone('UTC', ts0) AS TIME) <> TIME '00:00'" if grid.timeframe == "1d" else ""

    def price_reason(r: str) -> str:
        return (
            f"CASE WHEN {r} IS NULL THEN (CASE WHEN raw_{r} IS NULL THEN '{r} is missing' "
            f"ELSE format('{r} {{}} is not a number', {shown[r]}) END) "
            f"WHEN NOT isfinite({r}) THEN format('{r} is {{}}', {r}) "
            f"WHEN {r} <= 0 THEN format('{r} {{}} is not positive', {r}) END"
        )

    finite = " AND ".join(f"isfinite({r})" for r in PRICES)
    adjusted, adj_reason, adj_good = _adjustment(shown) if adjust is not None else ("", [], "")
    off_grid = sql_literal(f"timestamp {{}} is not on the {grid.timeframe} grid ({_grid_words(grid)})")
    reasons = ", ".join(
        [
            "CASE WHEN symbol IS NULL THEN 'symbol is missing' END",
            "CASE WHEN ts0 IS NULL THEN (CASE WHEN raw_ts IS NULL THEN 'timestamp is missing' "
            "ELSE format('timestamp {} cannot be parsed', " + shown["ts"] + ") END) "
            f"WHEN NOT on_grid THEN format({off_grid}, {shown['ts']}) END",
        ]
        + [price_reason(r) for r in PRICES]
        + [
            "CASE WHEN volume IS NULL THEN (CASE WHEN raw_volume IS NULL THEN 'volume is missing' "
            "ELSE format('volume {} is not a number', " + shown["volume"] + ") END) "
            "WHEN isnan(volume) OR isinf(volume) THEN format('volume is {}', volume) "
            "WHEN volume < 0 THEN format('volume {} is negative', volume) END",
            f"CASE WHEN {finite} AND high < greatest(open, close) "
            "THEN format('high {} is below max(open, close) = {}', high, greatest(open, close)) END",
            f"CASE WHEN {finite} AND low > least(open, close) "
            "THEN format('low {} is above min(open, close) = {}', low, least(open, close)) END",
        ]
        + adj_reason
    )
    good = (
        f"symbol IS NOT NULL AND on_grid AND {finite} AND open > 0 AND high > 0 AND low > 0 "
        "AND close > 0 AND isfinite(volume) AND volume >= 0 "
        "AND high >= greatest(open, close) AND low <= least(open, close)" + adj_good
    )
    sql = f"""
WITH parsed AS (
    SELECT {parsed}
    FROM {SOURCE_VIEW}
){adjusted}, placed AS (
    SELECT src.*, {start} AS ts, {on_grid} AS on_grid
    FROM {"scaled" if adjust is not None else "parsed"} AS src
)
SELECT {ROW}, symbol, ts, open, high, low, close, volume,
       CASE WHEN {good} THEN NULL ELSE concat_ws('; ', {reasons}) END AS reason
       {f", naive AND ts0 IS NOT NULL{bare_date} AS naive" if with_naive_flag else ""}
FROM placed
"""
    return sql, with_naive_flag


def _adjustment(shown: dict[str, str]) -> tuple[str, list[str], str]:
    """(CTE scaling the prices by adj_close / close, its reason, its good-row condition).

    The checks below read the scaled prices; the factor's own problems
    (adj_close missing, not a number, not positive) get their own reason."""
    factor = "(adj_close / close)"
    # Rows without a usable factor keep their prices (coalesce) so that their other reasons still read right.
    scale = ", ".join(f"{p} * coalesce(f, 1) AS {p}" for p in PRICES)
    cte = (
        f", scaled AS (SELECT * REPLACE ({scale}) "
        f"FROM (SELECT *, CASE WHEN isfinite({factor}) AND adj_close > 0 THEN {factor} END AS f FROM parsed))"
    )
    reason = (
        "CASE WHEN adj_close IS NULL THEN (CASE WHEN raw_adj_close IS NULL THEN 'adj_close is missing' "
        f"ELSE format('adj_close {{}} is not a number', {shown['adj_close']}) END) "
        "WHEN NOT isfinite(adj_close) OR adj_close <= 0 THEN format('adj_close {} is not positive', adj_close) END"
    )
    return cte, [reason], " AND f IS NOT NULL"


QUOTE_MACRO = "CREATE OR REPLACE TEMP MACRO quote_text(x) AS '''' || x || ''''"
