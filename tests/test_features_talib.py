"""Feature values equal TA-Lib (RSI, MACD, ATR, BBANDS %B, SMA) and plain pandas (CVD, VWAP, returns, z-scores).

Every value is compared from TA-Lib's first valid row on -- the SQL seeds its EMAs exactly as TA-Lib does, so
no warm-up has to be skipped (a stronger check than comparing only after 10x the period) -- and every row before
it must be NULL where TA-Lib has NaN. TA-Lib runs over each series of complete bars as stored: bars in order,
gaps (BTCUSDT's outages, QQQ's missing years) not filled.

Tolerances (|ours - ref| <= 1e-9 * max(|ref|, floor) unless said otherwise), measured on these data sets:
- RSI, ATR, MA20/50, VWAP, volume z: floor 1 (z-scores) or none; worst measured ~1e-11 relative.
- MACD line/signal/hist: they are differences of two EMAs of the close, so a correct double computation has an
  absolute error of a few ulps of the CLOSE (eps * close = 2.2e-16 * close) however small MACD is; near a
  crossing a relative test is meaningless. Floor 1e-5 * close, i.e. 1e-14 * close (45 ulps of the close);
  measured worst 1.9e-15 * close (AAPL daily), so 5x margin; any MACD above 1e-5 * close is still held to 1e-9.
- Bollinger %B lives on the band's own scale (0 = lower band, 1 = upper), so floor 1 (1e-9 of the band width
  from TA-Lib). TA-Lib takes the std from running sums of x and x^2: its own error is ~eps * (close/sd)^2 *
  |%B - 0.5|, measured 4.4e-11 on BTCUSDT 1-minute bars (close ~1e5, sd ~20) vs an exact two-pass std; ours is
  1.2e-12 there. So %B is also checked against an exact two-pass reference at the conditioning bound of %B
  itself: 8 * eps * close / sd (measured worst 1.05 * eps * close / sd).
- CVD, session CVD, EMA20 of CVD: |delta| <= volume and each delta carries a rounding error of a few ulps of the
  bar's volume (close-low is divided by high-low before scaling by the volume), plus at most 0.5e-10 from the
  DECIMAL(38, 10) sum the SQL uses for exactness. So the error is bounded by the volume traded, not by |CVD|,
  which crosses zero: tolerance 1e-9 * |ref| + 1e-12 * volume traded in the scope + 1e-10 * bars in the scope.
- close_vs_vwap is a ratio minus 1: its absolute error is VWAP's relative error, so absolute 1e-12.
- log_return: floor 1e-6 (an unchanged close gives exactly 0 in both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barstore.warehouse import connect

from .data_paths import need_data
from .feature_helpers import (
    BINANCE_1M,
    BINANCE_OPTS,
    BTC_HOURLY,
    BTC_OPTS,
    ES_FILE,
    ES_OPTS,
    FEATURES,
    FIRST_VALID,
    LEAN_DAILY,
    LEAN_OPTS,
    LEAN_SUBSET,
    LEAN_SYMBOLS,
    NY,
    exact_pctb,
    exact_window_stats,
    features,
    real_file,
    reference,
    shared_warehouse,
    warehouse,
    write_slice,
)

EPS = np.finfo(float).eps


@pytest.fixture(scope="module")
def es(tmp_path_factory):
    need_data(ES_FILE)
    return connect(shared_warehouse(tmp_path_factory, ES_FILE, ES_OPTS), read_only=True)


@pytest.fixture(scope="module")
def btc_hourly(tmp_path_factory):
    need_data(BTC_HOURLY)
    return connect(shared_warehouse(tmp_path_factory, BTC_HOURLY, BTC_OPTS), read_only=True)


@pytest.fixture(scope="module")
def lean(tmp_path_factory):
    need_data(LEAN_DAILY)
    return connect(shared_warehouse(tmp_path_factory, LEAN_DAILY, LEAN_OPTS, LEAN_SUBSET), read_only=True)


@pytest.fixture(scope="module")
def binance_1m(tmp_path_factory):
    """BTCUSDT perpetual minutes, 2 weeks: a high-priced 1-minute series (where sums of squares lose most)."""
    need_data(BINANCE_1M)
    tmp = tmp_path_factory.mktemp("binance")
    path = write_slice(
        real_file(BINANCE_1M),
        tmp / "btc.parquet",
        "symbol = 'BTCUSDT' AND ts_utc >= '2025-05-10' AND ts_utc < '2025-05-24'",
    )
    return warehouse(tmp / "w.duckdb", [(path, BINANCE_OPTS)])


CASES = [
    ("es", "1m", "ES"),
    ("es", "1h", "ES"),
    ("es", "1d", "ES"),
    ("btc_hourly", "1h", "BTCUSDT"),
    ("btc_hourly", "1d", "BTCUSDT"),
    *[("lean", "1d", s) for s in LEAN_SYMBOLS],
    ("binance_1m", "1m", "BTCUSDT"),
    ("binance_1m", "1h", "BTCUSDT"),
]


def _tolerance(column: str, ours: pd.DataFrame, ref: pd.DataFrame) -> np.ndarray:
    """Allowed |ours - ref| per row (see the module docstring for why)."""
    r = ref[column].abs().to_numpy()
    close = ours["close"].abs().to_numpy()
    if column in ("macd", "macd_signal", "macd_hist"):
        return 1e-9 * np.maximum(r, 1e-5 * close)
    if column in ("bb_pctb_20", "volume_z_20"):
        return 1e-9 * np.maximum(r, 1.0)
    if column == "log_return":
        return 1e-9 * np.maximum(r, 1e-6)
    if column == "close_vs_vwap":
        return np.full(len(r), 1e-12)
    if column in ("cvd", "cvd_ema_20", "cvd_session"):
        scope = ours["trading_day"] if column == "cvd_session" else pd.Series(0, index=ours.index)
        traded = ours["volume"].groupby(scope).cumsum().to_numpy()
        bars = ours["volume"].groupby(scope).cumcount().to_numpy() + 1
        return 1e-9 * r + 1e-12 * traded + 1e-10 * bars
    return 1e-9 * r


def _assert_close(column: str, ours: pd.DataFrame, got: np.ndarray, want: np.ndarray, tol: np.ndarray):
    both = ~np.isnan(got) & ~np.isnan(want)
    diff = np.abs(got - want)
    bad = np.nonzero(both & ~(diff <= tol))[0]
    assert len(bad) == 0, (
        f"{column}: {len(bad)} of {both.sum()} rows differ beyond tolerance; worst diff/tol "
        f"{np.max(diff[bad] / tol[bad]):.3g}; first rows:\n"
        + pd.DataFrame(
            {
                "bar_number": ours["bar_number"].to_numpy()[bad],
                "ts": ours["ts"].to_numpy()[bad],
                "ours": got[bad],
                "ref": want[bad],
                "diff": diff[bad],
                "tol": tol[bad],
            }
        )
        .head(8)
        .to_string()
    )


@pytest.mark.parametrize("dataset,timeframe,symbol", CASES, ids=[f"{d}-{t}-{s}" for d, t, s in CASES])
def test_features_equal_talib_and_pandas(request, dataset, timeframe, symbol):
    con = request.getfixturevalue(dataset)
    ours = features(con, timeframe, symbol)
    assert len(ours) >= 60, f"too few {timeframe} bars for {symbol}: {len(ours)}"
    assert (ours["bar_number"].to_numpy() == np.arange(len(ours))).all(), "bar_number is not 0..n-1 in ts order"
    ref = reference(ours)
    for column in FEATURES:
        got = ours[column].to_numpy(float)
        want = ref[column].to_numpy(float)
        # NULL exactly where the reference is undefined: TA-Lib's warm-up, 0/0 (flat window, no volume yet)
        null_mismatch = np.nonzero(np.isnan(got) != np.isnan(want))[0]
        assert len(null_mismatch) == 0, (
            f"{column}: NULL/value mismatch at bar_number {null_mismatch[:10].tolist()} "
            f"(ours {got[null_mismatch[:3]].tolist()}, reference {want[null_mismatch[:3]].tolist()})"
        )
        assert np.argmax(~np.isnan(got)) == FIRST_VALID[column], column
        assert np.count_nonzero(~np.isnan(got)) >= 0.9 * len(got) - FIRST_VALID[column], f"{column}: mostly NULL"
        _assert_close(column, ours, got, want, _tolerance(column, ours, ref))


@pytest.mark.parametrize(
    "dataset,timeframe,symbol",
    [c for c in CASES if c[1] != "1d"],
    ids=[f"{d}-{t}-{s}" for d, t, s in CASES if t != "1d"],
)
def test_bollinger_pctb_equals_exact_two_pass_std(request, dataset, timeframe, symbol):
    """%B against a two-pass std, within %B's own conditioning (8 eps * close / sd): tighter than TA-Lib allows."""
    ours = features(request.getfixturevalue(dataset), timeframe, symbol)
    close = ours["close"].to_numpy(float)
    _, sd = exact_window_stats(close, 20)
    with np.errstate(invalid="ignore", divide="ignore"):
        tol = 8 * EPS * close / sd
    _assert_close("bb_pctb_20", ours, ours["bb_pctb_20"].to_numpy(float), exact_pctb(close), tol)


def _native_file_bars(dataset: str) -> tuple[str, dict[str, pd.DataFrame]]:
    """The ingested file's bars per symbol, at the file's own timeframe, with the expected trading day."""
    if dataset == "es":
        df = pd.read_csv(real_file(ES_FILE))
        # END-labelled Eastern wall clock: the trading day is the ET date of the bar's end
        df["trading_day"] = pd.to_datetime(df["ts_et"]).dt.date
        return "1m", {"ES": df}
    if dataset == "btc_hourly":
        df = pd.read_csv(real_file(BTC_HOURLY))
        df["trading_day"] = pd.to_datetime(df["ts_utc"], utc=True).dt.date
        return "1h", {"BTCUSDT": df}
    df = pd.read_parquet(real_file(LEAN_DAILY))
    df["trading_day"] = df["ts_et"].dt.date
    return "1d", {s: df[df.symbol == s].reset_index(drop=True) for s in LEAN_SYMBOLS}


@pytest.mark.parametrize("dataset", ["es", "btc_hourly", "lean"])
def test_every_stored_bar_has_one_feature_row(request, dataset):
    """Every bar of the file (all complete) has exactly one row, in order, with its OHLCV and trading day."""
    con = request.getfixturevalue(dataset)
    timeframe, by_symbol = _native_file_bars(dataset)
    for symbol, df in by_symbol.items():
        ours = features(con, timeframe, symbol)
        assert len(ours) == len(df), symbol
        for column in ("open", "high", "low", "close", "volume"):
            assert (ours[column].to_numpy(float) == df[column].to_numpy(float)).all(), (symbol, column)
        assert (ours["trading_day"].dt.date.to_numpy() == df["trading_day"].to_numpy()).all(), symbol


def test_es_sessions_reset_cvd_and_vwap(es):
    """At each session's first bar cvd_session is that bar's delta and VWAP its typical price (us_rth, ET days)."""
    ours = features(es, "1m", "ES")
    first = ours.groupby("trading_day").head(1)
    assert len(first) == 79  # trading days Jan 2 .. Apr 22, 2020
    assert (first["ts"].dt.tz_convert(NY).dt.strftime("%H:%M") == "09:30").all()
    typical = (first["high"] + first["low"] + first["close"]) / 3
    assert np.allclose(first["vwap_session"], typical, rtol=1e-12, atol=0)
    delta = np.where(
        first["high"] == first["low"],
        0.0,
        first["volume"] * (2 * (first["close"] - first["low"]) / (first["high"] - first["low"]) - 1),
    )
    assert np.allclose(first["cvd_session"], delta, rtol=1e-12, atol=1e-9)
    assert (first["cvd_session"] != first["cvd"]).sum() == 78  # only the first session's starts equal the anchor
