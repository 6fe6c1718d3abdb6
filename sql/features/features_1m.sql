-- features_1m: indicators and CVD of complete 1m bars, one row per bar, knowable at ts_close.
-- grain: one row per (symbol, ts)
-- materialized: view
SELECT * EXCLUDE (timeframe) FROM indicators WHERE timeframe = '1m'
