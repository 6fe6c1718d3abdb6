-- stg_bars: every bar the resampler uses, with its symbol's calendar: stored bars (single instruments
-- and individual futures contracts) plus each futures root's continuous series.
-- grain: one row per (symbol, timeframe, ts)
-- materialized: view
SELECT b.symbol, b.timeframe, b.ts, b.open, b.high, b.low, b.close, b.volume, s.calendar
FROM raw.bars AS b
JOIN raw.symbols AS s ON s.symbol = b.symbol
UNION ALL
SELECT c.symbol, c.timeframe, c.ts, c.open, c.high, c.low, c.close, c.volume, s.calendar
FROM continuous_bars AS c
JOIN raw.symbols AS s ON s.symbol = c.symbol
