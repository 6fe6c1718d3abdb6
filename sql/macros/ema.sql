-- ema_blocks: exact exponential smoothing (EMA, Wilder) of up to six series per row, as a table macro.
-- input: a relation with columns symbol, timeframe, n (0-based absolute row number in the series), x1..x6 (the
--   values to smooth, already seeded with ema_input), a1..a6 (their alphas: 2/(p+1) for an EMA, 1/p for Wilder)
--   and m1..m6 (> 0: a magnitude the series' values are measured against; only the value on the first row of
--   each 128-row block is used). Unused slots: x = 0, a = 0.5, m = 1.
-- output: symbol, timeframe, n, e1..e6 (meaningful from each series' seed row on).
-- Why blocks: E[n] = beta*E[n-1] + alpha*x[n] unrolls to alpha*beta^n*sum(beta^-k*x[k]), whose beta^-k
-- overflows over long series. Restarting the weighted running sum every 128 rows keeps it finite, and the
-- carry from earlier blocks is beta^(j+1) times the previous block's final value, itself the sum of the last
-- five blocks' local finals (older ones weigh beta^640 < 1e-20 of them for periods up to ~14 Wilder / 27 EMA).
-- Why integers: DuckDB's windowed sum() of DOUBLEs rounds differently depending on which other partitions
-- share its segment tree. The weighted terms are therefore rounded to a per-block quantum q = 2^(e - 60)
-- (2^e <= m on the block's first row < 2^(e+1)) and summed as HUGEINT: exact, so any order, any build
-- gives the same bits. The rounding error of the smoothed value is at most q/5 (2^-62 of m); the largest
-- term, |x| * beta^-127 * 128 / q, stays below 2^127 while |x| / m < 2^18 (alpha 0.2) .. 2^45 (Wilder 14);
-- beyond that the cast fails loudly instead of rounding. The first row of a block never changes once it
-- exists, so the quantum of a growing last block is fixed and earlier rows keep their values.
-- Every block is computed from its own rows only, so any build that reads whole blocks (full, truncated or
-- incremental from 6 blocks back) gives bit-identical values.
CREATE OR REPLACE MACRO ema_input(x, n, seed_n, seed, alpha) AS
    -- TA-Lib seeds an EMA with a plain average at seed_n: feeding seed/alpha there makes alpha*x' = seed
    CASE WHEN n < seed_n THEN 0.0 WHEN n = seed_n THEN seed / alpha ELSE x END;

-- m = 0 gives a tiny quantum (2^-960): any non-zero value then overflows loudly
CREATE OR REPLACE MACRO ema_quantum(m) AS pow(2.0, greatest(floor(log2(m)), -900) - 60);

CREATE OR REPLACE MACRO ema_units(x, alpha, j, q) AS CAST(x * pow(1 - alpha, -j) / q AS HUGEINT);

CREATE OR REPLACE MACRO ema_local(alpha, j, q, units) AS alpha * pow(1 - alpha, j) * (CAST(units AS DOUBLE) * q);

CREATE OR REPLACE MACRO ema_carry(alpha, f1, f2, f3, f4, f5) AS
    coalesce(f1, 0) + pow(1 - alpha, 128) * coalesce(f2, 0) + pow(1 - alpha, 256) * coalesce(f3, 0)
    + pow(1 - alpha, 384) * coalesce(f4, 0) + pow(1 - alpha, 512) * coalesce(f5, 0);

CREATE OR REPLACE MACRO ema_blocks(src) AS TABLE
WITH input AS (
    SELECT *, n // 128 AS block, n % 128 AS j FROM query_table(src)
),
quanta AS (
    SELECT symbol, timeframe, block,
           ema_quantum(arg_min(m1, n)) AS q1, ema_quantum(arg_min(m2, n)) AS q2, ema_quantum(arg_min(m3, n)) AS q3,
           ema_quantum(arg_min(m4, n)) AS q4, ema_quantum(arg_min(m5, n)) AS q5, ema_quantum(arg_min(m6, n)) AS q6
    FROM input
    GROUP BY symbol, timeframe, block
),
local AS (
    SELECT
        i.symbol, i.timeframe, i.n, i.block, i.j, i.a1, i.a2, i.a3, i.a4, i.a5, i.a6,
        ema_local(i.a1, i.j, q.q1, sum(ema_units(i.x1, i.a1, i.j, q.q1)) OVER r) AS l1,
        ema_local(i.a2, i.j, q.q2, sum(ema_units(i.x2, i.a2, i.j, q.q2)) OVER r) AS l2,
        ema_local(i.a3, i.j, q.q3, sum(ema_units(i.x3, i.a3, i.j, q.q3)) OVER r) AS l3,
        ema_local(i.a4, i.j, q.q4, sum(ema_units(i.x4, i.a4, i.j, q.q4)) OVER r) AS l4,
        ema_local(i.a5, i.j, q.q5, sum(ema_units(i.x5, i.a5, i.j, q.q5)) OVER r) AS l5,
        ema_local(i.a6, i.j, q.q6, sum(ema_units(i.x6, i.a6, i.j, q.q6)) OVER r) AS l6
    FROM input AS i
    JOIN quanta AS q USING (symbol, timeframe, block)
    WINDOW r AS (PARTITION BY i.symbol, i.timeframe, i.block ORDER BY i.n ROWS UNBOUNDED PRECEDING)
),
block_final AS (
    SELECT symbol, timeframe, block,
           any_value(a1) AS a1, any_value(a2) AS a2, any_value(a3) AS a3,
           any_value(a4) AS a4, any_value(a5) AS a5, any_value(a6) AS a6,
           arg_max(l1, n) AS f1, arg_max(l2, n) AS f2, arg_max(l3, n) AS f3,
           arg_max(l4, n) AS f4, arg_max(l5, n) AS f5, arg_max(l6, n) AS f6
    FROM local
    GROUP BY symbol, timeframe, block
),
carried AS (
    SELECT symbol, timeframe, block,
           ema_carry(a1, lag(f1, 1) OVER p, lag(f1, 2) OVER p, lag(f1, 3) OVER p, lag(f1, 4) OVER p,
                     lag(f1, 5) OVER p) AS c1,
           ema_carry(a2, lag(f2, 1) OVER p, lag(f2, 2) OVER p, lag(f2, 3) OVER p, lag(f2, 4) OVER p,
                     lag(f2, 5) OVER p) AS c2,
           ema_carry(a3, lag(f3, 1) OVER p, lag(f3, 2) OVER p, lag(f3, 3) OVER p, lag(f3, 4) OVER p,
                     lag(f3, 5) OVER p) AS c3,
           ema_carry(a4, lag(f4, 1) OVER p, lag(f4, 2) OVER p, lag(f4, 3) OVER p, lag(f4, 4) OVER p,
                     lag(f4, 5) OVER p) AS c4,
           ema_carry(a5, lag(f5, 1) OVER p, lag(f5, 2) OVER p, lag(f5, 3) OVER p, lag(f5, 4) OVER p,
                     lag(f5, 5) OVER p) AS c5,
           ema_carry(a6, lag(f6, 1) OVER p, lag(f6, 2) OVER p, lag(f6, 3) OVER p, lag(f6, 4) OVER p,
                     lag(f6, 5) OVER p) AS c6
    FROM block_final
    WINDOW p AS (PARTITION BY symbol, timeframe ORDER BY block)
)
SELECT
    l.symbol, l.timeframe, l.n,
    l.l1 + pow(1 - l.a1, l.j + 1) * c.c1 AS e1,
    l.l2 + pow(1 - l.a2, l.j + 1) * c.c2 AS e2,
    l.l3 + pow(1 - l.a3, l.j + 1) * c.c3 AS e3,
    l.l4 + pow(1 - l.a4, l.j + 1) * c.c4 AS e4,
    l.l5 + pow(1 - l.a5, l.j + 1) * c.c5 AS e5,
    l.l6 + pow(1 - l.a6, l.j + 1) * c.c6 AS e6
FROM local AS l
JOIN carried AS c USING (symbol, timeframe, block);
