"""Small SQL model projects and raw bars for the model-runner tests (independent of the real sql/ folder)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from barstore.calendars import cover_stored_bars

T0 = datetime(2024, 1, 2, 10, 0, tzinfo=UTC)

# A staging view, an incremental 5-minute resample, an incremental rolling feature over it, and a table.
# bars_5m: a changed minute can belong to a bucket that starts up to 4 minutes earlier, hence the
# 5-minute lookback; each bucket only needs its own minutes, so the source filter needs no margin.
# feat_5m: the rolling mean at ts covers buckets back to ts - 10 minutes: the source margin.
RESAMPLE_PROJECT = {
    "staging/stg_bars.sql": """\
-- stg_bars: 1-minute bars
-- grain: one row per (symbol, ts)
-- materialized: view
SELECT symbol, ts, close, volume FROM raw.bars WHERE timeframe = '1m'
""",
    "bars/bars_5m.sql": """\
-- bars_5m: 5-minute bars
-- grain: one row per (symbol, ts)
-- materialized: incremental
-- time_column: ts
-- lookback: 5 minutes
SELECT b.symbol,
       time_bucket(INTERVAL 5 minutes, b.ts) AS ts,
       last(b.close ORDER BY b.ts) AS close,
       sum(b.volume) AS volume,
       count(*) AS n_bars
FROM stg_bars AS b
JOIN build_window AS w USING (symbol)
WHERE b.ts >= w.since
GROUP BY ALL
""",
    "features/feat_5m.sql": """\
-- feat_5m: mean close of the 5-minute buckets in the last 15 minutes
-- materialized: incremental
-- time_column: ts
WITH recent AS (
    SELECT f.* FROM bars_5m AS f JOIN build_window AS w USING (symbol)
    WHERE f.ts >= w.since - INTERVAL 10 minutes
)
SELECT symbol, ts, close,
       avg(close) OVER (PARTITION BY symbol ORDER BY ts
                        RANGE BETWEEN INTERVAL 10 minutes PRECEDING AND CURRENT ROW) AS close_mean_15m
FROM recent
""",
    "features/volume_by_symbol.sql": """\
-- volume_by_symbol: total volume per symbol
-- materialized: table
SELECT symbol, sum(volume) AS volume, count(*) AS n_buckets FROM bars_5m GROUP BY symbol
""",
}


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Write {relative path: text} under root/sql and return that sql folder."""
    sql_dir = root / "sql"
    for rel, text in files.items():
        path = sql_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sql_dir


def add_symbol(con: duckdb.DuckDBPyConnection, symbol: str, calendar: str = "crypto_24x7") -> None:
    con.execute("INSERT INTO raw.symbols (symbol, calendar) VALUES (?, ?)", [symbol, calendar])


def add_bars(con: duckdb.DuckDBPyConnection, symbol: str, first_minute: int, n: int) -> int:
    """Append n 1-minute bars from T0 + first_minute as one ingest batch; returns the batch id.

    Prices depend on the minute only, so two warehouses fed the same minutes hold the same bars."""
    rows = []
    for m in range(first_minute, first_minute + n):
        close = 100 + (m * 7 % 13) + (0.5 if symbol.endswith("B") else 0)
        rows.append(
            (symbol, "1m", T0 + timedelta(minutes=m), close, close + 1, close - 1, close, 10 + m % 3, "test", T0)
        )
    con.executemany("INSERT INTO raw.bars VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    cover_stored_bars(con)  # the sessions an ingest would write
    batch = con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM raw.ingest_log").fetchone()[0]
    con.execute(
        "INSERT INTO raw.ingest_log VALUES (?, 'test', ?, '1m', ?, ?, 0, ?, ?, current_timestamp)",
        [batch, symbol, n, n, rows[0][2], rows[-1][2]],
    )
    return batch


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
