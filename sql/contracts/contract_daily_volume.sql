-- contract_daily_volume: each futures contract's volume and last close per trading day.
-- grain: one row per (contract, trading_day)
-- materialized: table
-- partition_column: root
-- Both come from the contract's finest timeframe stored that day (1m bars when there are any, else 5m...),
-- so a day is never counted twice when several timeframes of it are stored.
WITH per_timeframe AS (
    SELECT
        root,
        contract,
        expiry,
        trading_day,
        timeframe,
        any_value(timeframe_seconds) AS timeframe_seconds,
        sum(volume) AS volume,
        arg_max(close, ts) AS close,
        max(ts) AS last_ts,
        count(*) AS bars
    FROM contract_bars
    GROUP BY root, contract, expiry, trading_day, timeframe
)
SELECT root, contract, expiry, trading_day, timeframe, volume, close, last_ts, bars
FROM per_timeframe
QUALIFY row_number() OVER (PARTITION BY contract, trading_day ORDER BY timeframe_seconds) = 1
ORDER BY root, trading_day, expiry
