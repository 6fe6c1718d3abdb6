-- stg_bars: every stored bar with its symbol's calendar and timeframe length.
-- grain: one row per (symbol, timeframe, ts)
-- materialized: view
SELECT
    b.symbol,
    b.timeframe,
    b.ts,
    b.open,
    b.high,
    b.low,
    b.close,
    b.volume,
    s.calendar
FROM raw.bars AS b
JOIN raw.symbols AS s ON s.symbol = b.symbol
