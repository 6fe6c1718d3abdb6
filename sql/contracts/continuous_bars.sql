-- continuous_bars: each futures root's continuous series: the held contract's bars on each trading day.
-- grain: one row per (symbol, timeframe, ts); symbol = the root
-- materialized: table
-- Same columns as raw.bars (for stg_bars) plus the contract the bar comes from and the adjustment added
-- to its prices. Back-adjustment (raw.futures_roots.back_adjust, off by default) is additive: every roll's
-- gap (contract_roll.roll_gap) is added to all bars before it, so the latest contract is unadjusted and
-- the series has no jump at a roll. Bars before the last roll change whenever a new roll happens. When the
-- gaps are mostly negative (backwardation: the new contract is cheaper), old prices are shifted down and over
-- long histories can reach zero or go negative: use price differences, not ratios or log returns, on
-- adjusted series. Volume is never adjusted.
WITH adjustments AS (
    SELECT
        r.root,
        r.trading_day,
        r.contract,
        CASE WHEN f.back_adjust
            THEN coalesce(sum(coalesce(r.roll_gap, 0)) OVER (
                PARTITION BY r.root ORDER BY r.trading_day ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0)
            ELSE 0
        END AS adjustment
    FROM contract_roll AS r
    LEFT JOIN raw.futures_roots AS f ON f.root = r.root
)
SELECT
    b.root AS symbol,
    b.timeframe,
    b.ts,
    b.open + a.adjustment AS open,
    b.high + a.adjustment AS high,
    b.low + a.adjustment AS low,
    b.close + a.adjustment AS close,
    b.volume,
    b.contract,
    CAST(a.adjustment AS DOUBLE) AS adjustment
FROM contract_bars AS b
JOIN adjustments AS a ON a.root = b.root AND a.trading_day = b.trading_day AND a.contract = b.contract
ORDER BY symbol, timeframe, ts
