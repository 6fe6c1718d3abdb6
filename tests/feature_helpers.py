"""Shared bits of the feature tests: build a warehouse from real bars, read feature rows, pandas/TA-Lib references."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from barstore import lake
from barstore.ingest import IngestOptions, ingest_files
from barstore.transform.runner import build_models
from barstore.warehouse import connect

from .data_paths import DATA, PROJECT_DIR

SQL = PROJECT_DIR / "sql"
NY = "America/New_York"
ES_FILE = "es_1min_rth_2020-01_2020-04.csv"
LEAN_DAILY = "lean_us_equity_daily_1998-2021.parquet"
BTC_HOURLY = "binance_spot_BTCUSDT_1hour_2017-08_2024-04.csv"
BINANCE_1M = "binance_usdm_perp_1min_2025-05_2025-06.parquet"

ES_OPTS = IngestOptions(symbol="ES", timeframe="1m", tz=NY, label="end", calendar="cme_rth")
LEAN_OPTS = IngestOptions(timeframe="1d", tz=NY, calendar="us_rth")
LEAN_SYMBOLS = ("SPY", "AAPL", "QQQ")
LEAN_SUBSET = f"symbol IN {LEAN_SYMBOLS}"  # three daily series of the Lean file (QQQ with missing years)
BTC_OPTS = IngestOptions(symbol="BTCUSDT", timeframe="1h", calendar="crypto_24x7")
BINANCE_OPTS = IngestOptions(timeframe="1m", calendar="crypto_24x7")

FEATURES = [
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "atr_14",
    "bb_pctb_20",
    "ma_20",
    "ma_50",
    "cvd",
    "cvd_session",
    "cvd_ema_20",
    "vwap_session",
    "close_vs_vwap",
    "log_return",
    "volume_z_20",
]


def warehouse(path: Path, ingests: list[tuple[Path, IngestOptions]]) -> duckdb.DuckDBPyConnection:
    """A fresh warehouse at `path` with the files ingested and every model built."""
    con = connect(path)
    for file, opts in ingests:
        ingest_files(con, [file], opts, progress=False)
    build(con)
    return con


def build(con) -> dict:
    return {r.model: r for r in build_models(con, SQL, show=False)}


_SHARED: dict[tuple, Path] = {}


def shared_warehouse(tmp_path_factory, name: str, opts: IngestOptions, where: str = "true") -> Path:
    """The catalog of a warehouse built from the rows of the real file `name` matching `where` (write_slice):
    built once per test session, for the modules that only read it (connect to it read-only, or with
    other_warehouse). The TA-Lib, look-ahead and incremental feature tests build the same files in full."""
    key = (name, where, repr(opts))
    if key not in _SHARED:
        tmp = tmp_path_factory.mktemp("shared_build")
        path = write_slice(real_file(name), tmp / "bars.parquet", where)
        warehouse(tmp / "w.duckdb", [(path, opts)]).close()
        _SHARED[key] = tmp / "w.duckdb"
    return _SHARED[key]


def write_slice(src: Path, dst: Path, where: str, ts_column: str = "ts_utc") -> Path:
    """Rows of a real-bars file matching `where` (SQL on its columns), in file order, as Parquet or CSV by suffix."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    fmt = "(FORMAT parquet)" if dst.suffix == ".parquet" else "(FORMAT csv, HEADER)"
    con.execute(f"COPY (SELECT * FROM '{src}' WHERE {where} ORDER BY ALL) TO '{dst}' {fmt}")
    con.close()
    return dst


def features(con, timeframe: str, symbol: str) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM features_{timeframe} WHERE symbol = ? ORDER BY ts", [symbol]).df()


@contextmanager
def other_warehouse(other_db: Path):
    """The name under which connections of this process reach the warehouse `other_db` (read-only)."""
    other = connect(other_db, read_only=True)
    try:
        yield lake.alias(other)
    finally:
        other.close()


def rows_differing(con, other_db: Path, table: str, where: str = "true") -> tuple[int, int]:
    """(rows of `table` in con and other_db that the other lacks, counted with multiplicity; rows in con).

    EXCEPT ALL compares NULL with NULL and NaN with NaN as equal, every other value exactly."""
    with other_warehouse(other_db) as other:
        cols = ", ".join(f'"{r[0]}"' for r in con.execute(f"DESCRIBE {table}").fetchall())
        mine = f"SELECT {cols} FROM {table} WHERE {where}"
        theirs = f"SELECT {cols} FROM {other}.{table} WHERE {where}"
        diff = con.execute(
            f"SELECT count(*) FROM (({mine} EXCEPT ALL {theirs}) UNION ALL ({theirs} EXCEPT ALL {mine}))"
        ).fetchone()[0]
        n = con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]
    return diff, n


def column_differences(con, other_db: Path, where: str = "true") -> dict[str, str]:
    """Per feature column of `indicators`, how rows matched on (symbol, timeframe, ts) differ: for failure messages."""
    with other_warehouse(other_db) as other:
        out = {}
        for col in ["bar_number", "open", "high", "low", "close", "volume", *FEATURES]:
            n, first, worst = con.execute(
                f"SELECT count(*), min(a.bar_number), max(abs(a.{col} - b.{col}) / nullif(abs(b.{col}), 0)) "
                f"FROM (SELECT * FROM indicators WHERE {where}) AS a "
                f"JOIN (SELECT * FROM {other}.indicators WHERE {where}) AS b USING (symbol, timeframe, ts) "
                f"WHERE a.{col} IS DISTINCT FROM b.{col}"
            ).fetchone()
            if n:
                out[col] = f"{n} rows from bar_number {first}, max relative difference {worst:.2g}"
        return out


# ---------------------------------------------------------------- references


def bar_delta(df: pd.DataFrame) -> np.ndarray:
    h, lo, c, v = (df[k].to_numpy(float) for k in ("high", "low", "close", "volume"))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(h == lo, 0.0, v * (2 * ((c - lo) / (h - lo)) - 1))


def exact_window_stats(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and population std, two-pass per window (no running sums): the exact-as-doubles reference."""
    mean = np.full(len(x), np.nan)
    std = np.full(len(x), np.nan)
    if len(x) >= window:
        w = np.lib.stride_tricks.sliding_window_view(x, window)
        m = w.mean(axis=1)
        mean[window - 1 :] = m
        std[window - 1 :] = np.sqrt(((w - m[:, None]) ** 2).mean(axis=1))
    return mean, std


def reference(df: pd.DataFrame) -> pd.DataFrame:
    """Every feature of one series of complete bars (ordered, gaps not filled) with TA-Lib and plain pandas.

    df: open, high, low, close, volume, trading_day. Undefined values are NaN (TA-Lib's warm-up, 0/0)."""
    import talib

    o = {k: df[k].to_numpy(float) for k in ("high", "low", "close", "volume")}
    close, volume = o["close"], o["volume"]
    out = pd.DataFrame(index=df.index)
    out["rsi_14"] = talib.RSI(close, 14)
    out["macd"], out["macd_signal"], out["macd_hist"] = talib.MACD(close, 12, 26, 9)
    out["atr_14"] = talib.ATR(o["high"], o["low"], close, 14)
    upper, _, lower = talib.BBANDS(close, 20, 2, 2, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["bb_pctb_20"] = (close - lower) / (upper - lower)
    out["ma_20"] = talib.SMA(close, 20)
    out["ma_50"] = talib.SMA(close, 50)
    delta = pd.Series(bar_delta(df), index=df.index)
    out["cvd"] = delta.cumsum()
    out["cvd_session"] = delta.groupby(df["trading_day"]).cumsum()
    out["cvd_ema_20"] = talib.EMA(out["cvd"].to_numpy(), 20)
    pv = (df["high"] + df["low"] + df["close"]) / 3 * df["volume"]
    day = df["trading_day"]
    out["vwap_session"] = pv.groupby(day).cumsum() / df["volume"].groupby(day).cumsum()
    out["close_vs_vwap"] = df["close"] / out["vwap_session"] - 1
    out["log_return"] = np.log(df["close"] / df["close"].shift())
    mean, std = exact_window_stats(volume, 20)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["volume_z_20"] = (volume - mean) / std
    return out.replace([np.inf, -np.inf], np.nan)


def exact_pctb(close: np.ndarray) -> np.ndarray:
    """Bollinger %B from exact two-pass windows (what %B is, without TA-Lib's sum-of-squares cancellation)."""
    mean, std = exact_window_stats(close, 20)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (close - (mean - 2 * std)) / (4 * std)


def real_file(name: str) -> Path:
    return DATA / name


# First row (bar_number) with a value, as TA-Lib's lookback defines it.
FIRST_VALID = {
    "rsi_14": 14,
    "macd": 33,
    "macd_signal": 33,
    "macd_hist": 33,
    "atr_14": 14,
    "bb_pctb_20": 19,
    "ma_20": 19,
    "ma_50": 49,
    "cvd": 0,
    "cvd_session": 0,
    "cvd_ema_20": 19,
    "vwap_session": 0,
    "close_vs_vwap": 0,
    "log_return": 1,
    "volume_z_20": 19,
}
