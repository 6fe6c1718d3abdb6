-- features_4h: complete 4h bars (anchored at the session start), served as context to the hourly model.
-- grain: one row per (symbol, ts); knowable at ts_close
-- materialized: view
SELECT symbol, ts, ts_close, open, high, low, close, volume, n_bars, trading_day
FROM bars_4h
WHERE is_complete
