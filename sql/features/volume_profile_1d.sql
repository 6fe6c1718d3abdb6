-- volume_profile_1d: the rolling volume profile of the last window_days trading days (the day included): POC, value area.
-- grain: one row per (symbol, ts) of a complete trading day with a profile; knowable at ts_close
-- materialized: incremental
-- time_column: ts
-- partition_column: symbol
-- lookback: 0 seconds
-- Trading days = the days of volume_profile_day (complete, with intraday bars). poc, vah, val and close_vs_*
-- are NULL until a symbol has window_days such days; profile_days says how many the window holds.
-- Extra columns (named so that joins with other feature tables stay unambiguous): profile_days,
-- profile_volume (the window's volume), poc_bin, val_bin, vah_bin (bin numbers k).
-- Prices are: poc = the POC bin's geometric middle (1 + w)^(k + 0.5); val = the lower edge (1 + w)^k of the value
-- area's lowest bin, vah = the upper edge (1 + w)^(k + 1) of its highest; close_vs_x = close / x - 1.
-- The POC is the bin with most volume; ties go to the bin nearest the day's close bin, then the lower one.
-- Value area (single-bin CBOT expansion): from the POC, repeatedly add the next bin above or below, whichever
-- holds more volume (ties: above), until the area holds >= value_area_share of the window's volume. Empty
-- bins between populated ones count as bins. Set-based form of that sequential loop: a bin's "reach" is the
-- minimum volume from the POC out to it on its side; the loop adds bins in the order (reach desc, above
-- first, distance asc), so the area is the shortest prefix of that order reaching the share.
-- Rolling without window x bars cost: each day's bin volumes enter as +v on their day and -v window_days days
-- later; a running HUGEINT sum per (symbol, bin) over the window's dense bin grid gives exact window volumes.
-- Incremental builds read volume_profile_day from the (window_days - 1)th trading day before `since`, however
-- many calendar days that spans (weekends, holidays, data gaps); days are numbered from there.
WITH settings AS (
    SELECT ln(1 + bin_width) AS log_step, window_days, value_area_share FROM profile_settings
),
day_list AS (
    SELECT DISTINCT v.symbol, v.ts
    FROM volume_profile_day AS v
    JOIN build_window AS w ON w.symbol = v.symbol
),
read_from AS (
    -- per symbol: the first day to read, and a small integer id (integer partition keys sort faster)
    SELECT
        w.symbol,
        coalesce(min(b.ts), w.since) AS first_ts,
        row_number() OVER (ORDER BY w.symbol) * 4294967296 AS symbol_key
    FROM build_window AS w
    CROSS JOIN settings AS st
    LEFT JOIN (
        SELECT d.symbol, d.ts, row_number() OVER (PARTITION BY d.symbol ORDER BY d.ts DESC) AS back
        FROM day_list AS d
        JOIN build_window AS w ON w.symbol = d.symbol
        WHERE d.ts < w.since
    ) AS b ON b.symbol = w.symbol AND b.back < st.window_days
    GROUP BY w.symbol, w.since
),
day_bins AS (
    SELECT v.symbol, r.symbol_key, v.ts, v.ts_close, v.close, v.bin, v.volume_nano
    FROM volume_profile_day AS v
    JOIN read_from AS r ON r.symbol = v.symbol AND v.ts >= r.first_ts
),
days AS (
    SELECT
        symbol, ts,
        any_value(symbol_key) AS symbol_key,
        any_value(ts_close) AS ts_close,
        any_value(close) AS close,
        min(bin) AS bin_low,
        max(bin) AS bin_high,
        row_number() OVER (PARTITION BY symbol ORDER BY ts) AS day_no
    FROM day_bins
    GROUP BY symbol, ts
),
windows AS (
    -- window_key: one integer per (symbol, day)
    SELECT
        d.symbol, d.ts, d.ts_close, d.close, d.symbol_key, d.day_no,
        d.symbol_key + d.day_no AS window_key,
        count(*) OVER w AS n_days,
        min(d.bin_low) OVER w AS bin_low,
        max(d.bin_high) OVER w AS bin_high,
        CASE WHEN d.close > 0 THEN CAST(floor(ln(d.close) / st.log_step) AS BIGINT) END AS close_bin
    FROM days AS d
    CROSS JOIN settings AS st
    WINDOW w AS (PARTITION BY d.symbol ORDER BY d.day_no ROWS BETWEEN st.window_days - 1 PRECEDING AND CURRENT ROW)
),
full_windows AS (
    SELECT w.* FROM windows AS w CROSS JOIN settings AS st WHERE w.n_days = st.window_days
),
day_changes AS (
    SELECT d.symbol_key, d.day_no, b.bin, b.volume_nano
    FROM day_bins AS b
    JOIN days AS d USING (symbol, ts)
),
changes AS (
    -- +v on its day, -v when it leaves the window, 0 on every grid bin of every full window
    SELECT symbol_key, bin, day_no, volume_nano AS delta, false AS is_grid FROM day_changes
    UNION ALL
    SELECT symbol_key, bin, day_no + st.window_days, -volume_nano, false FROM day_changes CROSS JOIN settings AS st
    UNION ALL
    SELECT symbol_key, unnest(range(bin_low, bin_high + 1)), day_no, 0, true FROM full_windows
),
profile AS (
    SELECT symbol_key + day_no AS window_key, bin, volume_nano
    FROM (
        SELECT
            symbol_key, bin, day_no, is_grid,
            -- symbol_key + bin: one integer per (symbol, bin), as |bin| < 2^31
            sum(delta) OVER (PARTITION BY symbol_key + bin ORDER BY day_no, is_grid ROWS UNBOUNDED PRECEDING)
                AS volume_nano
        FROM changes
    )
    WHERE is_grid
),
poc AS (
    SELECT
        p.window_key,
        arg_max(p.bin, (p.volume_nano, -coalesce(abs(p.bin - w.close_bin), 0), -p.bin)) AS poc_bin,
        max(p.volume_nano) AS poc_volume_nano,
        sum(p.volume_nano) AS total_volume_nano
    FROM profile AS p
    JOIN full_windows AS w USING (window_key)
    GROUP BY p.window_key
),
reach AS (
    SELECT
        p.window_key, p.bin, p.volume_nano, c.poc_volume_nano, c.total_volume_nano,
        p.bin < c.poc_bin AS below,
        abs(p.bin - c.poc_bin) AS distance,
        min(p.volume_nano) OVER (
            PARTITION BY p.window_key, p.bin < c.poc_bin ORDER BY abs(p.bin - c.poc_bin) ROWS UNBOUNDED PRECEDING
        ) AS reach
    FROM profile AS p
    JOIN poc AS c ON c.window_key = p.window_key AND p.bin <> c.poc_bin
),
expansion AS (
    SELECT
        r.window_key, r.bin,
        r.poc_volume_nano - r.volume_nano + sum(r.volume_nano) OVER (
            PARTITION BY r.window_key ORDER BY r.reach DESC, r.below, r.distance ROWS UNBOUNDED PRECEDING
        ) < r.total_volume_nano * st.value_area_share AS added
    FROM reach AS r
    CROSS JOIN settings AS st
),
value_area AS (
    SELECT
        c.window_key, c.poc_bin, c.total_volume_nano,
        least(c.poc_bin, min(e.bin) FILTER (WHERE e.added)) AS val_bin,
        greatest(c.poc_bin, max(e.bin) FILTER (WHERE e.added)) AS vah_bin
    FROM poc AS c
    LEFT JOIN expansion AS e USING (window_key)
    GROUP BY c.window_key, c.poc_bin, c.total_volume_nano
),
priced AS (
    SELECT
        w.symbol, w.ts, w.ts_close, w.close, w.n_days,
        a.poc_bin, a.val_bin, a.vah_bin,
        CAST(CAST(a.total_volume_nano AS DECIMAL(38, 0)) * CAST(0.000000001 AS DECIMAL(9, 9)) AS DOUBLE)
            AS profile_volume,
        exp((a.poc_bin + 0.5) * st.log_step) AS poc,
        exp((a.vah_bin + 1) * st.log_step) AS vah,
        exp(a.val_bin * st.log_step) AS val
    FROM windows AS w
    CROSS JOIN settings AS st
    LEFT JOIN value_area AS a USING (window_key)
)
SELECT
    symbol, ts, ts_close, poc, vah, val,
    close / poc - 1 AS close_vs_poc,
    close / vah - 1 AS close_vs_vah,
    close / val - 1 AS close_vs_val,
    n_days AS profile_days, profile_volume, poc_bin, val_bin, vah_bin
FROM priced
ORDER BY symbol, ts
