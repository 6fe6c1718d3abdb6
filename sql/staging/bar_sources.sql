-- bar_sources: which stored timeframe each symbol's bars at each target timeframe come from.
-- grain: one row per (symbol, timeframe)
-- materialized: table
-- The rule: bars ingested at the target timeframe when there are any, else the finest finer timeframe stored.
WITH stored AS (
    SELECT DISTINCT b.symbol, b.timeframe, t.seconds
    FROM stg_bars AS b
    JOIN timeframes AS t ON t.timeframe = b.timeframe
)
SELECT
    s.symbol,
    t.timeframe,
    t.seconds,
    coalesce(
        max(s.timeframe) FILTER (WHERE s.seconds = t.seconds),
        arg_min(s.timeframe, s.seconds) FILTER (WHERE s.seconds < t.seconds)
    ) AS source_timeframe
FROM stored AS s
CROSS JOIN timeframes AS t
GROUP BY s.symbol, t.timeframe, t.seconds
HAVING source_timeframe IS NOT NULL
