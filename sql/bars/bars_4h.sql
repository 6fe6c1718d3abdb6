-- bars_4h: 4h bars per symbol, with is_complete from how far the stored data reaches.
-- grain: one row per (symbol, ts)
-- materialized: view
SELECT r.symbol, r.ts, r.ts_close, r.open, r.high, r.low, r.close, r.volume, r.n_bars, r.trading_day,
       coalesce(e.data_end >= r.ts_close, false) AS is_complete
FROM resampled_bars AS r
LEFT JOIN source_extent AS e ON e.symbol = r.symbol AND e.timeframe = r.source_timeframe
WHERE r.timeframe = '4h'
