-- ema_blocks: exact exponential smoothing (EMA, Wilder) of up to six series per row, as a table macro.
-- input: a relation with columns symbol, timeframe, n (0-based absolute row number in the series), x1..x6 (the
--   values to smooth, already seeded with ema_input) and a1..a6 (their alphas: 2/(p+1) for an EMA, 1/p for Wilder).
--   Unused slots: x = 0, a = 0.5.
-- output: symbol, timeframe, n, e1..e6 (meaningful from each series' seed row on).
-- Why blocks: E[n] = beta*E[n-1] + alpha*x[n] unrolls to alpha*beta^n*sum(beta^-k*x[k]), whose beta^-k
-- overflows over long series. Restarting the weighted running sum every 256 rows keeps it finite, and the
-- carry from earlier blocks is beta^(j+1) times the previous block's final value, itself the sum of the last
-- four blocks' local finals (older ones weigh beta^1024 < 1e-17 of them for periods up to ~45).
-- Every block is computed from its own rows only, so any build that reads whole blocks (full, truncated or
-- incremental from 5 blocks back) gives bit-identical values. One window sort serves all six series.
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
        symbol, timeframe, n, n // 256 AS block, n % 256 AS j, a1, a2, a3, a4, a5, a6,
        sum(ema_weighted(x1, a1, n % 256)) OVER b AS w1,
        sum(ema_weighted(x2, a2, n % 256)) OVER b AS w2,
        sum(ema_weighted(x3, a3, n % 256)) OVER b AS w3,
        sum(ema_weighted(x4, a4, n % 256)) OVER b AS w4,
        sum(ema_weighted(x5, a5, n % 256)) OVER b AS w5,
        sum(ema_weighted(x6, a6, n % 256)) OVER b AS w6
    FROM query_table(src)
    WINDOW b AS (PARTITION BY symbol, timeframe, n // 256 ORDER BY n)
),
local AS (
    SELECT
        symbol, timeframe, n, block, j, a1, a2, a3, a4, a5, a6,
        ema_local(a1, j, w1) AS l1, ema_local(a2, j, w2) AS l2, ema_local(a3, j, w3) AS l3,
        ema_local(a4, j, w4) AS l4, ema_local(a5, j, w5) AS l5, ema_local(a6, j, w6) AS l6
    FROM weighted
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
