-- ema_blocks: exact exponential smoothing (EMA, Wilder) of up to six series per row, as a table macro.
-- input: a relation with columns symbol, timeframe, n (0-based absolute row number in the series), x1..x6 (the
--   values to smooth, already seeded with ema_input) and a1..a6 (their alphas: 2/(p+1) for an EMA, 1/p for Wilder).
--   Unused slots: x = 0, a = 0.5.
-- output: symbol, timeframe, n, e1..e6 (meaningful from each series' seed row on).
-- Why blocks: E[n] = beta*E[n-1] + alpha*x[n] unrolls to alpha*beta^n*sum(beta^-k*x[k]), whose beta^-k
-- overflows over long series. Restarting the weighted running sum every 256 rows keeps it finite, and the
-- carry from earlier blocks is beta^(j+1) times the previous block's final value, itself the sum of the last
-- four blocks' local finals (older ones weigh beta^1024 < 1e-17 of them for periods up to ~45).
-- Every block is computed from its own rows only, in a fixed order, so any build that reads whole blocks
-- (full, truncated or incremental from 5 blocks back) gives bit-identical values.
CREATE OR REPLACE MACRO ema_input(x, n, seed_n, seed, alpha) AS
    -- TA-Lib seeds an EMA with a plain average at seed_n: feeding seed/alpha there makes alpha*x' = seed
    CASE WHEN n < seed_n THEN 0.0 WHEN n = seed_n THEN seed / alpha ELSE x END;

CREATE OR REPLACE MACRO ema_local(alpha, j, block_sum) AS alpha * pow(1 - alpha, j) * block_sum;

CREATE OR REPLACE MACRO ema_weighted(x, alpha, j) AS x * pow(1 - alpha, -j);

CREATE OR REPLACE MACRO ema_carry(alpha, f1, f2, f3, f4) AS
    coalesce(f1, 0) + pow(1 - alpha, 256) * coalesce(f2, 0)
    + pow(1 - alpha, 512) * coalesce(f3, 0) + pow(1 - alpha, 768) * coalesce(f4, 0);

CREATE OR REPLACE MACRO ema_blocks(src) AS TABLE
WITH weighted AS (
    SELECT
        symbol, timeframe, n, n // 256 AS block, n // 16 AS sub, n % 256 AS j, a1, a2, a3, a4, a5, a6,
        ema_weighted(x1, a1, n % 256) AS t1, ema_weighted(x2, a2, n % 256) AS t2,
        ema_weighted(x3, a3, n % 256) AS t3, ema_weighted(x4, a4, n % 256) AS t4,
        ema_weighted(x5, a5, n % 256) AS t5, ema_weighted(x6, a6, n % 256) AS t6
    FROM query_table(src)
),
-- Running sums in a fixed order: DuckDB's windowed sum() rounds differently depending on which other
-- partitions share its segment tree, so sums are taken over ordered lists instead, in two levels (within
-- 16 rows, then over the 16-row totals of the block) to keep the lists short.
within_sub AS (
    SELECT
        *,
        list_sum(list(t1) OVER r) AS r1, list_sum(list(t2) OVER r) AS r2, list_sum(list(t3) OVER r) AS r3,
        list_sum(list(t4) OVER r) AS r4, list_sum(list(t5) OVER r) AS r5, list_sum(list(t6) OVER r) AS r6
    FROM weighted
    WINDOW r AS (PARTITION BY symbol, timeframe, sub ORDER BY n ROWS UNBOUNDED PRECEDING)
),
sub_totals AS (
    SELECT symbol, timeframe, sub, any_value(block) AS block,
           list_sum(list(t1 ORDER BY n)) AS s1, list_sum(list(t2 ORDER BY n)) AS s2,
           list_sum(list(t3 ORDER BY n)) AS s3, list_sum(list(t4 ORDER BY n)) AS s4,
           list_sum(list(t5 ORDER BY n)) AS s5, list_sum(list(t6 ORDER BY n)) AS s6
    FROM weighted
    GROUP BY symbol, timeframe, sub
),
before_sub AS (
    SELECT symbol, timeframe, sub,
           coalesce(list_sum(list(s1) OVER e), 0) AS p1, coalesce(list_sum(list(s2) OVER e), 0) AS p2,
           coalesce(list_sum(list(s3) OVER e), 0) AS p3, coalesce(list_sum(list(s4) OVER e), 0) AS p4,
           coalesce(list_sum(list(s5) OVER e), 0) AS p5, coalesce(list_sum(list(s6) OVER e), 0) AS p6
    FROM sub_totals
    WINDOW e AS (PARTITION BY symbol, timeframe, block ORDER BY sub ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
local AS (
    SELECT
        w.symbol, w.timeframe, w.n, w.block, w.j, w.a1, w.a2, w.a3, w.a4, w.a5, w.a6,
        ema_local(w.a1, w.j, b.p1 + w.r1) AS l1, ema_local(w.a2, w.j, b.p2 + w.r2) AS l2,
        ema_local(w.a3, w.j, b.p3 + w.r3) AS l3, ema_local(w.a4, w.j, b.p4 + w.r4) AS l4,
        ema_local(w.a5, w.j, b.p5 + w.r5) AS l5, ema_local(w.a6, w.j, b.p6 + w.r6) AS l6
    FROM within_sub AS w
    JOIN before_sub AS b USING (symbol, timeframe, sub)
),
block_final AS (
    SELECT symbol, timeframe, block,
           arg_max(l1, n) AS f1, arg_max(l2, n) AS f2, arg_max(l3, n) AS f3,
           arg_max(l4, n) AS f4, arg_max(l5, n) AS f5, arg_max(l6, n) AS f6
    FROM local
    GROUP BY symbol, timeframe, block
),
carried AS (
    SELECT symbol, timeframe, block,
           lag(f1, 1) OVER p AS f1_1, lag(f1, 2) OVER p AS f1_2, lag(f1, 3) OVER p AS f1_3, lag(f1, 4) OVER p AS f1_4,
           lag(f2, 1) OVER p AS f2_1, lag(f2, 2) OVER p AS f2_2, lag(f2, 3) OVER p AS f2_3, lag(f2, 4) OVER p AS f2_4,
           lag(f3, 1) OVER p AS f3_1, lag(f3, 2) OVER p AS f3_2, lag(f3, 3) OVER p AS f3_3, lag(f3, 4) OVER p AS f3_4,
           lag(f4, 1) OVER p AS f4_1, lag(f4, 2) OVER p AS f4_2, lag(f4, 3) OVER p AS f4_3, lag(f4, 4) OVER p AS f4_4,
           lag(f5, 1) OVER p AS f5_1, lag(f5, 2) OVER p AS f5_2, lag(f5, 3) OVER p AS f5_3, lag(f5, 4) OVER p AS f5_4,
           lag(f6, 1) OVER p AS f6_1, lag(f6, 2) OVER p AS f6_2, lag(f6, 3) OVER p AS f6_3, lag(f6, 4) OVER p AS f6_4
    FROM block_final
    WINDOW p AS (PARTITION BY symbol, timeframe ORDER BY block)
)
SELECT
    l.symbol, l.timeframe, l.n,
    l.l1 + pow(1 - l.a1, l.j + 1) * ema_carry(l.a1, c.f1_1, c.f1_2, c.f1_3, c.f1_4) AS e1,
    l.l2 + pow(1 - l.a2, l.j + 1) * ema_carry(l.a2, c.f2_1, c.f2_2, c.f2_3, c.f2_4) AS e2,
    l.l3 + pow(1 - l.a3, l.j + 1) * ema_carry(l.a3, c.f3_1, c.f3_2, c.f3_3, c.f3_4) AS e3,
    l.l4 + pow(1 - l.a4, l.j + 1) * ema_carry(l.a4, c.f4_1, c.f4_2, c.f4_3, c.f4_4) AS e4,
    l.l5 + pow(1 - l.a5, l.j + 1) * ema_carry(l.a5, c.f5_1, c.f5_2, c.f5_3, c.f5_4) AS e5,
    l.l6 + pow(1 - l.a6, l.j + 1) * ema_carry(l.a6, c.f6_1, c.f6_2, c.f6_3, c.f6_4) AS e6
FROM local AS l
JOIN carried AS c USING (symbol, timeframe, block);
