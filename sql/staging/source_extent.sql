-- source_extent: how far each symbol's stored bars reach, per stored timeframe (end of its last bar).
-- grain: one row per (symbol, timeframe)
-- materialized: table
-- A resampled bar is complete only when the data reaches its ts_close; kept out of the incremental
-- resample so that appending bars after a gap still completes the bar that was forming.
SELECT
    b.symbol,
    b.timeframe,
    max(b.ts) + to_seconds(max(t.seconds)) AS data_end
FROM stg_bars AS b
JOIN timeframes AS t ON t.timeframe = b.timeframe
GROUP BY b.symbol, b.timeframe
