-- volume_profile_day: each complete trading day's volume per log-price bin, from the finest stored bars (1h or finer).
-- grain: one row per (symbol, ts, bin); ts, ts_close, close = the day's bar in bars_1d
-- materialized: incremental
-- time_column: ts
-- partition_column: symbol
-- lookback: 1 day
-- The source is the symbol's finest stored timeframe at or below 1h (its native rows in resampled_bars, which carry
-- the trading day of the calendar's ASOF rule). A day enters only when its daily bar is complete AND that
-- source's data reaches the day's close, so a forming day never feeds a profile.
-- Bin k = floor(ln(price) / ln(1 + bin_width)); a bar covers bins k(low)..k(high) and gives each the same
-- share of its volume. Shares are counted in exact integer nano-units, round(volume / n_bins * 1e9) (half away
-- from zero), and summed as HUGEINT: sums do not depend on thread order or on where a build starts. The sum is
-- stored as DECIMAL(38, 0), which Parquet holds exactly.
-- Bars with low <= 0 (back-adjusted futures) have no log price and are left out.
-- A day's bucket starts at most 1 day before any of its bars (lookback 1 day, source read from since - 1 day).
WITH settings AS (
    SELECT ln(1 + bin_width) AS log_step FROM profile_settings
),
source_timeframe AS (
    -- bar_sources' target rows <= 1h: the finest one is a native (stored) timeframe
    SELECT symbol, arg_min(source_timeframe, seconds) AS timeframe
    FROM bar_sources
    WHERE seconds <= 3600
    GROUP BY symbol
),
days AS (
    SELECT d.symbol, d.ts, d.ts_close, d.close, d.trading_day, s.timeframe
    FROM bars_1d AS d
    JOIN build_window AS w ON w.symbol = d.symbol
    JOIN source_timeframe AS s ON s.symbol = d.symbol
    JOIN source_extent AS e ON e.symbol = d.symbol AND e.timeframe = s.timeframe
    WHERE d.is_complete AND e.data_end >= d.ts_close AND d.ts >= w.since
),
binned AS (
    SELECT
        d.symbol, d.ts, d.ts_close, d.close, d.trading_day, b.volume,
        CAST(floor(ln(b.low) / st.log_step) AS BIGINT) AS bin_low,
        CAST(floor(ln(b.high) / st.log_step) AS BIGINT) AS bin_high
    FROM resampled_bars AS b
    JOIN build_window AS w ON w.symbol = b.symbol
    JOIN days AS d ON d.symbol = b.symbol AND d.timeframe = b.timeframe AND d.trading_day = b.trading_day
    CROSS JOIN settings AS st
    WHERE b.ts >= w.since - INTERVAL 1 DAY AND b.low > 0
),
shares AS (
    SELECT
        symbol, ts, ts_close, close, trading_day,
        unnest(range(bin_low, bin_high + 1)) AS bin,
        CAST(round(volume / (bin_high - bin_low + 1) * 1e9) AS HUGEINT) AS share_nano
    FROM binned
)
SELECT
    symbol, ts,
    any_value(ts_close) AS ts_close,
    any_value(close) AS close,
    any_value(trading_day) AS trading_day,
    bin,
    CAST(sum(share_nano) AS DECIMAL(38, 0)) AS volume_nano  -- Parquet stores a HUGEINT as a DOUBLE (lossy)
FROM shares
GROUP BY symbol, ts, bin
ORDER BY symbol, ts, bin
