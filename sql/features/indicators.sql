-- indicators: technical indicators and CVD on complete 1m, 1h and 1d bars, as TA-Lib defines them.
-- grain: one row per (symbol, timeframe, ts); knowable at ts_close
-- materialized: incremental
-- time_column: ts
-- partition_column: symbol
-- lookback: 0 seconds
-- Only complete bars enter (a forming bar is never a feature input). n is the bar's absolute row number in its
-- series; incremental builds read from the 128-row block boundary at or before the earliest of: 10 blocks
-- before the block holding `since` (the EMA carry of ema_blocks is 5 blocks, and the MACD signal smooths
-- values that carry 5 more), the first bar of the trading session of the last bar before `since` (session
-- sums), and 49 bars before `since` (50-bar windows). The EMAs sum scaled integers (exact, see
-- sql/macros/ema.sql), measured against the close (CVD: an absolute quantum), so their values do not depend
-- on which other series share the build.
-- Rolling means are exact fixed-point sums (sql/macros/exact_sums.sql) and rolling standard deviations
-- reduce ordered lists: DuckDB's windowed avg()/stddev() round differently depending on which other
-- partitions share their segment tree; integer sums and lists do not.
-- CVD and the session sums are DECIMAL (exact), so the CVD before the read start can be added back exactly.
-- TA-Lib seeding: EMA = mean of the first p values; RSI and ATR = mean of the first p gains/losses/true
-- ranges (Wilder); MACD: both EMAs start at row 25 (the fast one seeded on rows 14..25), signal at row 33.
WITH bars AS (
    SELECT '1m' AS timeframe, symbol, ts, ts_close, open, high, low, close, volume, trading_day
    FROM bars_1m WHERE is_complete
    UNION ALL
    SELECT '1h', symbol, ts, ts_close, open, high, low, close, volume, trading_day
    FROM bars_1h WHERE is_complete
    UNION ALL
    SELECT '1d', symbol, ts, ts_close, open, high, low, close, volume, trading_day
    FROM bars_1d WHERE is_complete
),
bar_delta AS (
    SELECT
        *,
        CAST(CASE WHEN high = low THEN 0
                  ELSE volume * (2 * ((close - low) / (high - low)) - 1) END AS DECIMAL(38, 10)) AS delta
    FROM bars
),
read_from AS (
    -- per series: rows before `since`, and the newest 2304 of them (>= 1567 needed: see read_start)
    SELECT w.symbol, f.timeframe, w.since, count(b.ts) AS n_before,
           max({'ts': b.ts, 'day': b.trading_day}, 2304) AS newest_first
    FROM build_window AS w
    CROSS JOIN (VALUES ('1m'), ('1h'), ('1d')) AS f(timeframe)
    LEFT JOIN bars AS b ON b.symbol = w.symbol AND b.timeframe = f.timeframe AND b.ts < w.since
    GROUP BY ALL
),
read_start AS (
    -- the block boundary at or before the earliest row needed (header); the last session before `since` has
    -- at most 1440 bars (one-minute bars of a 24-hour session), so start_n >= n_before - 1567
    SELECT
        symbol, timeframe, start_n,
        CASE WHEN start_n = 0 THEN '-infinity'::TIMESTAMPTZ ELSE newest_first[n_before - start_n].ts END AS start_ts
    FROM (
        SELECT *, greatest(0, least(
            (n_before // 128 - 10) * 128,
            n_before - length(list_filter(newest_first, lambda x: x.day = newest_first[1].day)),
            n_before - 49
        ) // 128 * 128) AS start_n
        FROM read_from
    )
),
cvd_before AS (
    SELECT r.symbol, r.timeframe, coalesce(sum(b.delta), 0) AS cvd0
    FROM read_start AS r
    LEFT JOIN bar_delta AS b ON b.symbol = r.symbol AND b.timeframe = r.timeframe AND b.ts < r.start_ts
    GROUP BY ALL
),
numbered AS (
    SELECT
        b.*,
        r.start_n + row_number() OVER s - 1 AS n,
        b.close - lag(b.close) OVER s AS change,
        greatest(b.high, lag(b.close) OVER s) - least(b.low, lag(b.close) OVER s) AS true_range,
        sum(b.delta) OVER s AS delta_sum,
        sum(CAST((b.high + b.low + b.close) / 3 * b.volume AS DECIMAL(38, 10))) OVER s AS pv_sum,
        sum(CAST(b.volume AS DECIMAL(38, 10))) OVER s AS volume_sum,
        ln(b.close / lag(b.close) OVER s) AS log_return,
        from_fixed(sum(to_fixed(b.close)) OVER (s ROWS 19 PRECEDING)) / 20 AS close_mean_20,
        from_fixed(sum(to_fixed(b.close)) OVER (s ROWS 49 PRECEDING)) / 50 AS close_mean_50,
        list(b.close) OVER (s ROWS 19 PRECEDING) AS closes_20,
        list(b.volume) OVER (s ROWS 19 PRECEDING) AS volumes_20
    FROM bar_delta AS b
    JOIN read_start AS r ON r.symbol = b.symbol AND r.timeframe = b.timeframe AND b.ts >= r.start_ts
    WINDOW s AS (PARTITION BY b.symbol, b.timeframe ORDER BY b.ts)
),
session_base AS (
    -- running sums just before each trading day's first bar: exact decimals, so differences are exact
    SELECT symbol, timeframe, trading_day,
           arg_min(delta_sum - delta, ts) AS delta_before,
           arg_min(pv_sum - CAST((high + low + close) / 3 * volume AS DECIMAL(38, 10)), ts) AS pv_before,
           arg_min(volume_sum - CAST(volume AS DECIMAL(38, 10)), ts) AS volume_before
    FROM numbered
    GROUP BY symbol, timeframe, trading_day
),
series AS MATERIALIZED (
    SELECT
        b.* EXCLUDE (closes_20, volumes_20),
        list_stddev_pop(b.closes_20) AS close_sd_20,
        list_avg(b.volumes_20) AS volume_mean_20,
        list_stddev_pop(b.volumes_20) AS volume_sd_20,
        CAST(c.cvd0 + b.delta_sum AS DOUBLE) AS cvd,
        CAST(b.delta_sum - d.delta_before AS DOUBLE) AS cvd_session,
        CAST(b.pv_sum - d.pv_before AS DOUBLE) / nullif(CAST(b.volume_sum - d.volume_before AS DOUBLE), 0)
            AS vwap_session,
        greatest(b.change, 0) AS gain,
        greatest(-b.change, 0) AS loss
    FROM numbered AS b
    JOIN cvd_before AS c USING (symbol, timeframe)
    JOIN session_base AS d USING (symbol, timeframe, trading_day)
),
seeds AS (
    -- TA-Lib's seeds: ordered lists so that the mean is taken in one fixed order
    SELECT
        symbol, timeframe,
        list_avg(list(close ORDER BY n) FILTER (WHERE n BETWEEN 14 AND 25)) AS fast_seed,
        list_avg(list(close ORDER BY n) FILTER (WHERE n <= 25)) AS slow_seed,
        list_avg(list(gain ORDER BY n) FILTER (WHERE n BETWEEN 1 AND 14)) AS gain_seed,
        list_avg(list(loss ORDER BY n) FILTER (WHERE n BETWEEN 1 AND 14)) AS loss_seed,
        list_avg(list(true_range ORDER BY n) FILTER (WHERE n BETWEEN 1 AND 14)) AS tr_seed,
        list_avg(list(cvd ORDER BY n) FILTER (WHERE n <= 19)) AS cvd_seed
    FROM series
    WHERE n <= 25
    GROUP BY symbol, timeframe
),
ema_in AS (
    -- magnitudes (see ema_blocks): the close for prices and their changes; for CVD at least 2^20, i.e. an
    -- absolute quantum of at most 2^-40, far below the DECIMAL(38, 10) resolution of the CVD itself
    SELECT s.symbol, s.timeframe, s.n,
           ema_input(s.close, s.n, 25, d.fast_seed, 2 / 13) AS x1, 2 / 13 AS a1, abs(s.close) AS m1,
           ema_input(s.close, s.n, 25, d.slow_seed, 2 / 27) AS x2, 2 / 27 AS a2, abs(s.close) AS m2,
           ema_input(s.gain, s.n, 14, d.gain_seed, 1 / 14) AS x3, 1 / 14 AS a3, abs(s.close) AS m3,
           ema_input(s.loss, s.n, 14, d.loss_seed, 1 / 14) AS x4, 1 / 14 AS a4, abs(s.close) AS m4,
           ema_input(s.true_range, s.n, 14, d.tr_seed, 1 / 14) AS x5, 1 / 14 AS a5, abs(s.close) AS m5,
           ema_input(s.cvd, s.n, 19, d.cvd_seed, 2 / 21) AS x6, 2 / 21 AS a6, greatest(abs(s.cvd), 1048576) AS m6
    FROM series AS s
    LEFT JOIN seeds AS d USING (symbol, timeframe)
),
smoothed AS MATERIALIZED (
    SELECT symbol, timeframe, n, e1 - e2 AS macd, e2 AS ema_26, e3 AS avg_gain, e4 AS avg_loss, e5 AS atr_14,
           e6 AS cvd_ema_20
    FROM ema_blocks(ema_in)
),
signal_seed AS (
    SELECT symbol, timeframe, list_avg(list(macd ORDER BY n)) AS seed
    FROM smoothed
    WHERE n BETWEEN 25 AND 33
    GROUP BY symbol, timeframe
),
signal_in AS (
    -- the MACD signal line: one series (the other five slots unused), measured against the slow EMA (~ the
    -- close; MACD itself crosses zero)
    SELECT m.symbol, m.timeframe, m.n,
           ema_input(m.macd, m.n, 33, d.seed, 2 / 10) AS x1, 2 / 10 AS a1, abs(m.ema_26) AS m1,
           0.0 AS x2, 0.5 AS a2, 1.0 AS m2, 0.0 AS x3, 0.5 AS a3, 1.0 AS m3, 0.0 AS x4, 0.5 AS a4, 1.0 AS m4,
           0.0 AS x5, 0.5 AS a5, 1.0 AS m5, 0.0 AS x6, 0.5 AS a6, 1.0 AS m6
    FROM smoothed AS m
    LEFT JOIN signal_seed AS d USING (symbol, timeframe)
    WHERE m.n >= 25
),
signal AS (
    SELECT symbol, timeframe, n, e1 AS macd_signal FROM ema_blocks(signal_in)
)
SELECT
    s.symbol,
    s.timeframe,
    s.ts,
    s.ts_close,
    s.open, s.high, s.low, s.close, s.volume,
    s.trading_day,
    s.n AS bar_number,
    CASE WHEN s.n >= 14 THEN
        CASE WHEN m.avg_gain + m.avg_loss = 0 THEN 0 ELSE 100 * (m.avg_gain / (m.avg_gain + m.avg_loss)) END
    END AS rsi_14,
    CASE WHEN s.n >= 33 THEN m.macd END AS macd,
    CASE WHEN s.n >= 33 THEN g.macd_signal END AS macd_signal,
    CASE WHEN s.n >= 33 THEN m.macd - g.macd_signal END AS macd_hist,
    CASE WHEN s.n >= 14 THEN m.atr_14 END AS atr_14,
    CASE WHEN s.n >= 19 THEN
        (s.close - (s.close_mean_20 - 2 * s.close_sd_20)) / nullif(4 * s.close_sd_20, 0)
    END AS bb_pctb_20,
    CASE WHEN s.n >= 19 THEN s.close_mean_20 END AS ma_20,
    CASE WHEN s.n >= 49 THEN s.close_mean_50 END AS ma_50,
    s.cvd,
    s.cvd_session,
    CASE WHEN s.n >= 19 THEN m.cvd_ema_20 END AS cvd_ema_20,
    s.vwap_session,
    s.close / s.vwap_session - 1 AS close_vs_vwap,
    s.log_return,
    CASE WHEN s.n >= 19 THEN (s.volume - s.volume_mean_20) / nullif(s.volume_sd_20, 0) END AS volume_z_20
FROM series AS s
JOIN smoothed AS m USING (symbol, timeframe, n)
LEFT JOIN signal AS g USING (symbol, timeframe, n)
