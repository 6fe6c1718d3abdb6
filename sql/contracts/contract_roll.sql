-- contract_roll: the contract each futures root's continuous series holds on each trading day, and why.
-- grain: one row per (root, trading_day)
-- materialized: table
-- partition_column: root
-- Roll rule; point-in-time: a day's choice only uses days completed before it.
--   * A root's contracts (those with bars) are ordered by expiry. The series starts on the nearest one whose
--     fixed roll date has not passed (reason 'initial'; 'only_contract' when the root has just one).
--   * It holds the current contract until, on a completed day D, the next contract's volume exceeds the
--     current one's; it rolls on the root's next trading day after D (reason 'volume').
--   * Fixed-date fallback: if not rolled yet, it rolls on the first trading day on or after
--     expiry - roll_offset_days (raw.futures_roots, default 8 calendar days; reason 'fixed_date'), skipping
--     contracts whose own fixed date has passed too.
--   * It never rolls back to an earlier contract; past the last contract's fixed date it keeps the last one.
--   * A day the held contract has no bars counts as volume 0 (no bars = no trades): continuous_bars has a gap
--     that day (has_bars = false) and the series rolls the next day if the next contract traded.
-- Trading days are the days any contract of the root has bars. On roll days, roll_gap = new contract's last
-- close - old contract's last close on gap_day, the last day before the roll on which both traded (NULL when
-- they never both traded: continuous_bars then adjusts by 0).
WITH RECURSIVE
ladder AS (  -- a root's contracts with bars, by expiry
    SELECT
        k.root,
        k.contract,
        k.expiry,
        k.expiry - coalesce(f.roll_offset_days, 8) AS fixed_roll_date,
        row_number() OVER (PARTITION BY k.root ORDER BY k.expiry, k.contract) AS rank,
        count(*) OVER (PARTITION BY k.root) AS n_contracts
    FROM (SELECT DISTINCT root, contract, expiry FROM contract_daily_volume) AS k
    LEFT JOIN raw.futures_roots AS f ON f.root = k.root
),
days AS (
    SELECT root, trading_day, lead(trading_day) OVER (PARTITION BY root ORDER BY trading_day) AS next_day
    FROM (SELECT DISTINCT root, trading_day FROM contract_daily_volume) AS t
),
day_floor AS (  -- the first contract the fixed-date rule still allows on each day
    SELECT
        d.root,
        d.trading_day,
        coalesce(min(l.rank) FILTER (WHERE l.fixed_roll_date > d.trading_day), max(l.rank)) AS floor_rank
    FROM days AS d
    JOIN ladder AS l ON l.root = d.root
    GROUP BY d.root, d.trading_day
),
crossings AS (  -- per contract: the days following a completed day on which the next contract out-traded it
    SELECT cur.root, cur.rank, list(d.next_day) AS roll_days
    FROM ladder AS cur
    JOIN ladder AS nxt ON nxt.root = cur.root AND nxt.rank = cur.rank + 1
    JOIN contract_daily_volume AS vn ON vn.contract = nxt.contract
    JOIN days AS d ON d.root = cur.root AND d.trading_day = vn.trading_day
    LEFT JOIN contract_daily_volume AS vc ON vc.contract = cur.contract AND vc.trading_day = vn.trading_day
    WHERE vn.volume > coalesce(vc.volume, 0) AND d.next_day IS NOT NULL
    GROUP BY cur.root, cur.rank
),
exits AS (  -- per contract but the last: its volume roll days and its fixed roll day
    SELECT
        l.root,
        l.rank,
        coalesce(c.roll_days, []) AS roll_days,
        (SELECT min(d.trading_day) FROM days AS d
         WHERE d.root = l.root AND d.trading_day >= l.fixed_roll_date) AS fixed_day
    FROM ladder AS l
    LEFT JOIN crossings AS c ON c.root = l.root AND c.rank = l.rank
    WHERE l.rank < l.n_contracts
),
segments AS (  -- one row per contract held: the day the series entered it and why
    SELECT f.root, f.floor_rank AS rank, f.trading_day AS start_day, 'initial' AS reason
    FROM day_floor AS f
    QUALIFY row_number() OVER (PARTITION BY f.root ORDER BY f.trading_day) = 1
    UNION ALL
    SELECT
        x.root,
        greatest(x.rank + 1, f.floor_rank),
        f.trading_day,
        CASE WHEN x.volume_day <= coalesce(x.fixed_day, x.volume_day) THEN 'volume' ELSE 'fixed_date' END
    FROM (
        SELECT s.root, s.rank, list_min(list_filter(e.roll_days, lambda r: r > s.start_day)) AS volume_day, e.fixed_day
        FROM segments AS s
        JOIN exits AS e ON e.root = s.root AND e.rank = s.rank
    ) AS x
    JOIN day_floor AS f ON f.root = x.root AND f.trading_day = least(x.volume_day, x.fixed_day)
),
held AS (
    SELECT d.root, d.trading_day, s.rank, s.start_day, s.reason
    FROM days AS d
    ASOF JOIN segments AS s ON s.root = d.root AND d.trading_day >= s.start_day
),
chosen AS (
    SELECT
        h.root,
        h.trading_day,
        l.contract,
        l.expiry,
        CASE WHEN h.reason = 'initial' AND l.n_contracts = 1 THEN 'only_contract' ELSE h.reason END AS reason,
        h.trading_day = h.start_day AND h.reason <> 'initial' AS roll_date,
        lag(l.contract) OVER (PARTITION BY h.root ORDER BY h.trading_day) AS previous_contract,
        nl.contract AS next_contract
    FROM held AS h
    JOIN ladder AS l ON l.root = h.root AND l.rank = h.rank
    LEFT JOIN ladder AS nl ON nl.root = h.root AND nl.rank = h.rank + 1
),
gaps AS (
    SELECT
        c.root,
        c.trading_day,
        max(o.trading_day) AS gap_day,
        arg_max(n.close - o.close, o.trading_day) AS roll_gap
    FROM chosen AS c
    JOIN contract_daily_volume AS o ON o.contract = c.previous_contract AND o.trading_day < c.trading_day
    JOIN contract_daily_volume AS n ON n.contract = c.contract AND n.trading_day = o.trading_day
    WHERE c.roll_date
    GROUP BY c.root, c.trading_day
)
SELECT
    c.root,
    c.trading_day,
    c.contract,
    c.expiry,
    c.reason,
    c.roll_date,
    c.previous_contract,
    v.volume AS contract_volume,
    v.volume IS NOT NULL AS has_bars,
    c.next_contract,
    nv.volume AS next_volume,
    g.gap_day,
    g.roll_gap
FROM chosen AS c
LEFT JOIN contract_daily_volume AS v ON v.contract = c.contract AND v.trading_day = c.trading_day
LEFT JOIN contract_daily_volume AS nv ON nv.contract = c.next_contract AND nv.trading_day = c.trading_day
LEFT JOIN gaps AS g ON g.root = c.root AND g.trading_day = c.trading_day
ORDER BY c.root, c.trading_day
