"""Labels: forward returns over each model's horizon, computed from future bars and never part of a window.

- `bars` horizons (seq300: 60 one-minute bars) look that many bars ahead in the symbol's series.
- `trading_days` horizons look k trading days ahead (days on which the symbol has bars), at the same offset
  from the day's first bar close, taking the last bar at or before that time on day d+k.
A label (and its label_time) is NULL when the future bar does not exist (the end of the data, or day d+k lacks
that part).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from barstore.specs import ModelSpec
from barstore.warehouse import query_arrow

BY_BARS = """
SELECT symbol, ts_close AS event_timestamp,
       lead(close, $k) OVER w / close - 1 AS label,
       lead(ts_close, $k) OVER w AS label_time
FROM {bars}
WINDOW w AS (PARTITION BY symbol ORDER BY ts_close)
"""

BY_TRADING_DAYS = """
WITH bars AS (
    SELECT symbol, ts_close, close, trading_day FROM {bars}
),
days AS (
    SELECT symbol, trading_day, min(ts_close) AS first_close,
           row_number() OVER (PARTITION BY symbol ORDER BY trading_day) AS day_no
    FROM bars
    GROUP BY symbol, trading_day
),
targets AS (
    SELECT b.symbol, b.ts_close, b.close, later.trading_day AS target_day,
           later.first_close + (b.ts_close - today.first_close) AS target_close
    FROM bars AS b
    JOIN days AS today USING (symbol, trading_day)
    LEFT JOIN days AS later ON later.symbol = b.symbol AND later.day_no = today.day_no + $k
)
SELECT t.symbol, t.ts_close AS event_timestamp,
       CASE WHEN f.trading_day = t.target_day THEN f.close / t.close - 1 END AS label,
       CASE WHEN f.trading_day = t.target_day THEN f.ts_close END AS label_time
FROM targets AS t
ASOF LEFT JOIN bars AS f ON f.symbol = t.symbol AND f.ts_close <= t.target_close
"""


def forward_returns(con: duckdb.DuckDBPyConnection, spec: ModelSpec) -> pa.Table:
    """symbol, event_timestamp, label (close at the horizon / close now - 1) and label_time (the close time of the
    bar the label reads: the first instant the label is known) for every step of the model."""
    if spec.horizon.bars:
        query, k = BY_BARS, spec.horizon.bars
    else:
        query, k = BY_TRADING_DAYS, spec.horizon.trading_days
    bars = f"(SELECT * FROM bars_{spec.timeframe} WHERE is_complete)"  # the complete bars the steps close
    return query_arrow(con, query.format(bars=bars), {"k": k})
