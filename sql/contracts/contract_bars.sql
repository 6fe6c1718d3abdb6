-- contract_bars: every stored bar of a futures contract, with its root, expiry and trading day.
-- grain: one row per (contract, timeframe, ts)
-- materialized: view
-- Trading days come from calendar_sessions (the ASOF rule the resampler uses: a cme_globex bar from
-- the 18:00 New York open belongs to the next day), so a continuous 4h/1d bar resampled later never mixes contracts.
SELECT
    b.symbol AS contract,
    s.root,
    s.expiry,
    cs.trading_day,
    b.timeframe,
    t.seconds AS timeframe_seconds,
    b.ts,
    b.open,
    b.high,
    b.low,
    b.close,
    b.volume
FROM raw.bars AS b
JOIN raw.symbols AS s ON s.symbol = b.symbol AND s.root IS NOT NULL
JOIN timeframes AS t ON t.timeframe = b.timeframe
ASOF JOIN calendar_sessions AS cs ON cs.calendar = s.calendar AND b.ts >= cs.assign_from
