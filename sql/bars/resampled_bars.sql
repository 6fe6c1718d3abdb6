-- resampled_bars: OHLCV bars of every symbol at 1m, 5m, 15m, 1h, 4h and 1d, honouring its session calendar.
-- grain: one row per (symbol, timeframe, ts); ts = bar start, ts_close = when the bar is complete and knowable
-- materialized: incremental
-- time_column: ts
-- partition_column: symbol
-- lookback: 1 day
-- Buckets are: up to 1h on the clock (UTC epoch grid, = the local clock for whole-hour zones); 4h anchored at the
-- session start; 1d = the trading day. Bars that open before the session (e.g. Lean's 09:00 bar) fall in the
-- first 4h bar. ts_close never passes the session end, nor precedes the end of a source bar in the bucket.
-- Native bars (source = target) pass through 1:1. Volume is summed as DECIMAL so that the result does not
-- depend on the order threads add it in (incremental builds must equal full ones bit for bit).
-- The source is read from one day before `since`: a 1d/4h bar starting at or after `since` may hold bars
-- stamped up to 9.5 h before its start (us_rth assigns from midnight, opens 09:30).
WITH src AS (
    SELECT b.symbol, b.timeframe, b.ts, b.open, b.high, b.low, b.close, b.volume, b.calendar,
           tf.seconds AS source_seconds
    FROM stg_bars AS b
    JOIN build_window AS w ON w.symbol = b.symbol
    JOIN timeframes AS tf ON tf.timeframe = b.timeframe
    WHERE b.ts >= w.since - INTERVAL 1 DAY
),
sessioned AS (
    SELECT src.*, cs.trading_day, cs.session_start, cs.session_end
    FROM src
    ASOF JOIN calendar_sessions AS cs
        ON cs.calendar = src.calendar AND src.ts >= cs.assign_from
),
bucketed AS (
    SELECT
        s.*,
        bs.timeframe AS target,
        bs.seconds AS target_seconds,
        CASE
            WHEN bs.timeframe = '1d' THEN s.session_start
            WHEN bs.timeframe = '4h' THEN s.session_start + to_seconds(
                14400 * greatest(0, (epoch_us(s.ts) - epoch_us(s.session_start)) // 14400000000))
            ELSE make_timestamptz(epoch_us(s.ts) // (bs.seconds * 1000000::BIGINT) * (bs.seconds * 1000000::BIGINT))
        END AS bucket
    FROM sessioned AS s
    JOIN bar_sources AS bs
        ON bs.symbol = s.symbol AND bs.source_timeframe = s.timeframe AND bs.timeframe <> s.timeframe
),
resampled AS (
    SELECT
        symbol,
        target AS timeframe,
        bucket AS ts,
        greatest(
            bar_close(target, bucket, any_value(target_seconds), any_value(session_end)),
            max(ts) + to_seconds(any_value(source_seconds))
        ) AS ts_close,
        arg_min(open, ts) AS open,
        max(high) AS high,
        min(low) AS low,
        arg_max(close, ts) AS close,
        CAST(sum(CAST(volume AS DECIMAL(38, 9))) AS DOUBLE) AS volume,
        count(*) AS n_bars,
        any_value(timeframe) AS source_timeframe,
        any_value(trading_day) AS trading_day
    FROM bucketed
    GROUP BY symbol, target, bucket
),
native AS (
    SELECT
        s.symbol,
        s.timeframe,
        s.ts,
        bar_close(s.timeframe, s.ts, s.source_seconds, s.session_end) AS ts_close,
        s.open, s.high, s.low, s.close, s.volume,
        1 AS n_bars,
        s.timeframe AS source_timeframe,
        s.trading_day
    FROM sessioned AS s
    JOIN bar_sources AS bs
        ON bs.symbol = s.symbol AND bs.source_timeframe = s.timeframe AND bs.timeframe = s.timeframe
)
SELECT * FROM native
UNION ALL
SELECT * FROM resampled
ORDER BY timeframe, symbol, ts
