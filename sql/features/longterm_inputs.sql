-- longterm_inputs: the 26 inputs of the long-term multi-timeframe model per complete daily bar, in the
-- documented order (README, "The five models"): daily OHLCV (5), close vs volume-profile POC/VAH/VAL (3), the last
-- completed 4h bar's OHLCV (5), the last completed 1h bar's OHLCV (5), that 1h bar's CVD and CVD EMA 20 (2),
-- daily RSI 14, MACD line, ATR 14 (3), daily Bollinger %B (1), daily MA 20 and MA 50 (2).
-- grain: one row per (symbol, ts) of bars_1d; knowable at ts_close (every input closed at or before it);
-- keys symbol, ts, ts_close, trading_day, then the 26 inputs
-- materialized: table
-- Prices are raw here; making them comparable across time (e.g. relative to the step's close) and fitting
-- the normalisation on the training split belong to training. NULLs mark warm-up (e.g. MA 50's first 49 days).
SELECT
    d.symbol,
    d.ts,
    d.ts_close,
    d.trading_day,
    d.open AS d_open,
    d.high AS d_high,
    d.low AS d_low,
    d.close AS d_close,
    d.volume AS d_volume,
    p.close_vs_poc,
    p.close_vs_vah,
    p.close_vs_val,
    h4.open AS h4_open,
    h4.high AS h4_high,
    h4.low AS h4_low,
    h4.close AS h4_close,
    h4.volume AS h4_volume,
    h1.open AS h1_open,
    h1.high AS h1_high,
    h1.low AS h1_low,
    h1.close AS h1_close,
    h1.volume AS h1_volume,
    h1.cvd AS h1_cvd,
    h1.cvd_ema_20 AS h1_cvd_ema_20,
    d.rsi_14,
    d.macd,
    d.atr_14,
    d.bb_pctb_20,
    d.ma_20,
    d.ma_50
FROM features_1d AS d
LEFT JOIN volume_profile_1d AS p ON p.symbol = d.symbol AND p.ts = d.ts
ASOF LEFT JOIN (SELECT * FROM bars_4h WHERE is_complete) AS h4
    ON h4.symbol = d.symbol AND h4.ts_close <= d.ts_close
ASOF LEFT JOIN features_1h AS h1
    ON h1.symbol = d.symbol AND h1.ts_close <= d.ts_close
ORDER BY d.symbol, d.ts
