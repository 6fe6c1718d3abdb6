-- profile_settings: the parameters of the rolling volume profile (volume_profile_day, volume_profile_1d); change them here.
-- grain: one row
-- materialized: table
-- distribution: broadcast
-- bin_width is the relative width of a price bin on the log-price grid (0.001 = 0.1 %): bin k holds prices in
--   [(1 + w)^k, (1 + w)^(k + 1)), so bins mean the same at 5 $ and at 50,000 $.
-- window_days counts the trading days per profile (the day itself and the ones before it).
-- value_area_share is the share of the window's volume the value area must reach (exact decimal).
-- Changing a value changes this query, which rebuilds both profile models in full.
SELECT
    CAST(0.001 AS DOUBLE) AS bin_width,
    30 AS window_days,
    CAST(0.70 AS DECIMAL(4, 2)) AS value_area_share
