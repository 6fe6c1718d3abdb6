"""Writing a file's good rows into raw.bars: (symbol, timeframe, ts) stays unique through an anti-join,
since raw.bars deliberately has no primary-key index (it made bulk inserts 10x slower).

Runs inside the caller's transaction; every error leaves rollback to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from ..errors import IngestError
from .checks import STAGE
from .columns import VALUES

MATCH = "_ingest_match"
_SHOWN_CONFLICTS = 10


@dataclass
class Changes:
    inserted: int = 0
    unchanged: int = 0
    replaced: int = 0
    min_ts: datetime | None = None  # over inserted and replaced bars: what downstream must rebuild
    max_ts: datetime | None = None


def write_bars(
    con: duckdb.DuckDBPyConnection,
    source: str,
    timeframe: str,
    replace: bool,
    now,
    valid: dict[str, tuple[int, datetime, datetime]],
) -> dict[str, Changes]:
    """Insert new bars, keep equal ones, replace (or refuse) differing ones; `valid` = good rows per
    symbol as (count, min ts, max ts). Returns the changes per symbol."""
    changes = {symbol: Changes() for symbol in valid}
    if not valid:
        return changes
    lo = min(v[1] for v in valid.values())
    hi = max(v[2] for v in valid.values())
    differs = " OR ".join(f"b.{c} IS DISTINCT FROM n.{c}" for c in VALUES)
    # The ts range lets DuckDB skip stored row groups outside the file's span.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {MATCH} AS
        SELECT n.__row, n.symbol, n.ts, {", ".join(f"b.{c} AS old_{c}" for c in VALUES)},
               ({differs}) AS differs
        FROM {STAGE} n JOIN raw.bars b
          ON b.symbol = n.symbol AND b.ts = n.ts AND b.timeframe = ?
        WHERE n.reason IS NULL AND b.ts BETWEEN ? AND ?
        """,
        [timeframe, lo, hi],
    )
    matched = con.execute(
        f"SELECT symbol, count(*) FILTER (NOT differs), count(*) FILTER (differs) FROM {MATCH} GROUP BY symbol"
    ).fetchall()
    n_differ = sum(r[2] for r in matched)
    if n_differ and not replace:
        _refuse_conflicts(con, source, n_differ)

    for symbol, same, differ in matched:
        changes[symbol].unchanged = same
        changes[symbol].replaced = differ
    if n_differ:
        con.execute(
            f"""
            UPDATE raw.bars AS b
            SET open = n.open, high = n.high, low = n.low, close = n.close, volume = n.volume,
                source = ?, ingested_at = ?
            FROM {MATCH} m JOIN {STAGE} n USING (__row)
            WHERE m.differs AND b.symbol = m.symbol AND b.timeframe = ? AND b.ts = m.ts
            """,
            [source, now, timeframe],
        )

    new_rows = f"{STAGE} WHERE reason IS NULL"
    if matched:
        new_rows += f" AND __row NOT IN (SELECT __row FROM {MATCH})"
    con.execute(
        f"INSERT INTO raw.bars SELECT symbol, ?, ts, open, high, low, close, volume, ?, ? FROM {new_rows}",
        [timeframe, source, now],
    )

    for symbol, (count, first, last) in valid.items():
        c = changes[symbol]
        c.inserted = count - c.unchanged - c.replaced
        c.min_ts, c.max_ts = (first, last) if c.inserted + c.replaced else (None, None)
    if matched:
        # Some rows were unchanged, so the changed span can be narrower than the file's.
        spans = con.execute(
            f"SELECT symbol, min(ts), max(ts) FROM {STAGE} WHERE reason IS NULL AND __row NOT IN "
            f"(SELECT __row FROM {MATCH} WHERE NOT differs) GROUP BY symbol"
        ).fetchall()
        for symbol, first, last in spans:
            changes[symbol].min_ts, changes[symbol].max_ts = first, last
    con.execute(f"DROP TABLE {MATCH}")
    return changes


def _refuse_conflicts(con: duckdb.DuckDBPyConnection, source: str, n: int) -> None:
    old = ", ".join(f"m.old_{c}" for c in VALUES)
    new = ", ".join(f"n.{c}" for c in VALUES)
    rows = con.execute(
        f"SELECT m.symbol, m.ts, n.__row, {old}, {new} FROM {MATCH} m JOIN {STAGE} n USING (__row) "
        f"WHERE m.differs ORDER BY m.symbol, m.ts LIMIT {_SHOWN_CONFLICTS}"
    ).fetchall()

    def ohlcv(values) -> str:
        return " ".join(f"{k}={v:g}" for k, v in zip("ohlcv", values))

    lines = "\n".join(
        f"  {r[0]} {r[1]:%Y-%m-%d %H:%M:%S%z} (row {r[2]}): stored {ohlcv(r[3:8])}, new {ohlcv(r[8:13])}" for r in rows
    )
    more = f"\n  ... and {n - len(rows):,} more" if n > len(rows) else ""
    raise IngestError(
        f"{source}: {n:,} bar(s) already stored with different values:\n{lines}{more}\n"
        "Pass --replace to overwrite them."
    )


def log_changes(
    con: duckdb.DuckDBPyConnection,
    batch_id: int,
    source: str,
    timeframe: str,
    now,
    read: dict[str, int],
    changes: dict[str, Changes],
) -> None:
    """One raw.ingest_log row per symbol: incremental model builds read what changed from here."""
    rows = []
    for symbol, n in read.items():
        if symbol is None:  # rows without a symbol were rejected; nothing to log under
            continue
        c = changes.get(symbol) or Changes()
        rows.append([batch_id, source, symbol, timeframe, n, c.inserted, c.replaced, c.min_ts, c.max_ts, now])
    if rows:
        con.executemany("INSERT INTO raw.ingest_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
