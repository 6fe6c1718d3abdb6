-- timeframes: the bar timeframes barstore builds, with their length; finest first.
-- grain: one row per timeframe
-- materialized: table
-- distribution: broadcast
SELECT * FROM (
    VALUES ('1m', 60, 1), ('5m', 300, 2), ('15m', 900, 3), ('1h', 3600, 4), ('4h', 14400, 5), ('1d', 86400, 6)
) AS t(timeframe, seconds, rank)
