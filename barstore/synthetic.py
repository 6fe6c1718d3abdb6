"""Deterministic synthetic 1-minute bars, so the demo and the tests need no downloaded data.

The price is a geometric random walk whose volatility is the product of a few Markov-switching
multipliers with lifetimes from weeks to minutes (a Markov-switching multifractal): that gives volatility
clustering at several time scales and is fully vectorised (no per-bar recursion). Volume follows the
calendar's intraday pattern (a U over US regular hours, the Globex day/night cycle, a daily cycle and quieter
weekends for crypto), rises with volatility, and has rare spikes. Intrabar highs and lows are drawn from
the maximum and minimum of a Brownian bridge between open and close, so OHLC is valid by construction.

Every random stream is drawn per bar from its own seed (seed, symbol, stream), in time order, so a longer
run reproduces a shorter one's bars exactly: re-running the demo with more days appends, never conflicts.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from .calendars import BUILTIN, builtin_sessions
from .errors import BarstoreError

MINUTE_US = 60_000_000
PRICE_DECIMALS = 2

# Mean lifetime (in trading days) and log-sd of each volatility multiplier, slowest first.
_VOL_COMPONENTS = ((20.0, 0.30), (4.0, 0.30), (1.0, 0.25), (0.15, 0.25), (0.02, 0.20))
_SPIKE_PROBABILITY = 0.001  # news-like bars: volume x3..x20, volatility x2.5
_GAP_VOL_FACTOR = 0.3  # closed-market minutes move the price less than trading minutes


class _Profile(NamedTuple):
    annual_vol: float
    base_volume: float  # volume of an average bar
    volume_decimals: int
    bars_per_session: int  # of a full session: scales the volatility clusters' lifetimes
    sessions_per_year: float


_WEEKDAYS_PER_YEAR = 365.25 * 5 / 7
_PROFILES = {
    "crypto_24x7": _Profile(0.60, 25.0, 4, 1440, 365.25),
    "cme_globex": _Profile(0.17, 900.0, 0, 1380, _WEEKDAYS_PER_YEAR),
    "us_rth": _Profile(0.17, 60_000.0, 0, 390, _WEEKDAYS_PER_YEAR),
}


class _Grid(NamedTuple):
    ts_us: np.ndarray  # bar start, UTC epoch microseconds
    local_minute: np.ndarray  # minute of the local day at bar start
    weekday: np.ndarray  # ISO weekday of the bar's trading day
    gap_minutes: np.ndarray  # closed minutes before this bar (0 inside a session)


def _session_grid(calendar: str, start: date, days: int) -> _Grid:
    """Bar start times of every session (the warehouse's, barstore.calendars) whose trading day falls in
    [start, start + days)."""
    sessions = builtin_sessions(calendar, start, start + timedelta(days=days - 1)) if days > 0 else None
    if sessions is None or not len(sessions):
        empty = np.zeros(0, dtype=np.int64)
        return _Grid(empty, empty, empty, empty)
    opens_a = sessions["session_start"].cast(pa.int64()).to_numpy()
    counts_a = (sessions["session_end"].cast(pa.int64()).to_numpy() - opens_a) // MINUTE_US
    zone = ZoneInfo(BUILTIN[calendar].tz)
    open_minute, weekdays = [], []
    for day, opened in zip(sessions["trading_day"].to_pylist(), opens_a.tolist()):
        local = datetime.fromtimestamp(opened / 1e6, zone)
        open_minute.append(local.hour * 60 + local.minute)
        weekdays.append(day.isoweekday())
    n = int(counts_a.sum())
    first = np.cumsum(counts_a) - counts_a
    offset = np.arange(n, dtype=np.int64) - np.repeat(first, counts_a)
    ts_us = np.repeat(opens_a, counts_a) + offset * MINUTE_US
    # No session spans a DST change (they happen on Sunday 02:00, when these markets are closed), so the
    # local minute is the open's local minute plus the offset.
    local_minute = (np.repeat(np.asarray(open_minute, dtype=np.int64), counts_a) + offset) % 1440
    gap = np.zeros(n, dtype=np.int64)
    if n:
        gap[1:] = (np.diff(ts_us) - MINUTE_US) // MINUTE_US
    return _Grid(ts_us, local_minute, np.repeat(np.asarray(weekdays, dtype=np.int64), counts_a), gap)


def _rth_u_shape(u: np.ndarray) -> np.ndarray:
    """Relative volume over the 390 minutes of US regular hours: busy open, quiet lunch, busy close."""
    u = u.astype(float)
    return 0.8 + 0.4 * ((u - 195) / 195) ** 2 + 2.2 * np.exp(-u / 20) + 1.6 * np.exp(-(389 - u) / 15)


def _raw_volume_shape(calendar: str, local_minute: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    m = local_minute.astype(float)
    if calendar == "crypto_24x7":
        # Busiest when US and Europe overlap (~15:00 UTC), quietest in the Asian night; quieter weekends.
        daily = 1 + 0.45 * np.cos(2 * np.pi * (m - 15 * 60) / 1440)
        return daily * np.where(weekday >= 6, 0.65, 1.0)
    if calendar == "us_rth":
        return _rth_u_shape(m - 570)
    if calendar == "cme_globex":
        # Asia thin, Europe busier, the 08:30 data release, the regular-hours U, a quiet last hour.
        shape = np.where((m >= 3 * 60) & (m < 8 * 60 + 30), 0.3, 0.12)
        pre = (m >= 510) & (m < 570)
        shape = np.where(pre, 0.6 + 2.0 * np.exp(-(m - 510) / 5), shape)
        rth = (m >= 570) & (m < 960)
        shape = np.where(rth, _rth_u_shape(np.clip(m - 570, 0, 389)), shape)
        post = (m >= 960) & (m < 1020)
        return np.where(post, 0.25 + 0.5 * np.exp(-(m - 960) / 10), shape)
    raise AssertionError(calendar)


@cache
def _shape_mean(calendar: str) -> float:
    """Mean of the raw shape over one full week, so the shape averages 1 whatever the run length."""
    grid = _session_grid(calendar, date(2024, 1, 1), 7)
    return float(_raw_volume_shape(calendar, grid.local_minute, grid.weekday).mean())


def _stream(seed: int, symbol: str, name: str) -> np.random.Generator:
    """An independent random stream per (seed, symbol, purpose); crc32 because hash() is salted per process."""
    return np.random.default_rng([seed, zlib.crc32(symbol.encode()), zlib.crc32(name.encode())])


def _volatility_multiplier(seed: int, symbol: str, n: int, bars_per_day: int) -> np.ndarray:
    """Product of Markov-switching multipliers, each with E[M^2] = 1, so the mean variance is unchanged."""
    index = np.arange(n)
    log_m = np.zeros(n)
    for k, (lifetime_days, sd) in enumerate(_VOL_COMPONENTS):
        switches = _stream(seed, symbol, f"switch{k}").random(n) < 1.0 / max(lifetime_days * bars_per_day, 1.0)
        if n:
            switches[0] = True
        draws = _stream(seed, symbol, f"level{k}").standard_normal(n)
        last_switch = np.maximum.accumulate(np.where(switches, index, 0))
        log_m += sd * draws[last_switch] - sd * sd
    return np.exp(log_m)


def generate_minute_bars(
    symbol: str,
    calendar: str,
    start: date,
    days: int,
    seed: int,
    start_price: float,
) -> pa.Table:
    """1-minute bars of `symbol` for every session of `calendar` whose trading day is in [start, start + days).

    Columns: symbol, ts (timestamp[us, UTC], bar start), open, high, low, close, volume. Prices have
    2 decimals; inside a session each open equals the previous close, across a closed period the open gaps.
    """
    if calendar not in _PROFILES:
        raise BarstoreError(f"unknown calendar {calendar!r}; use one of {', '.join(_PROFILES)}")
    if days < 0 or start_price <= 0:
        raise BarstoreError(f"need days >= 0 and start_price > 0, got days={days}, start_price={start_price}")
    profile = _PROFILES[calendar]
    grid = _session_grid(calendar, start, days)
    n = len(grid.ts_us)
    bars_per_year = profile.bars_per_session * profile.sessions_per_year
    sigma_minute = profile.annual_vol / np.sqrt(bars_per_year)

    shape = _raw_volume_shape(calendar, grid.local_minute, grid.weekday) / _shape_mean(calendar)
    cluster = _volatility_multiplier(seed, symbol, n, profile.bars_per_session)
    spikes = _stream(seed, symbol, "spike").random(n) < _SPIKE_PROBABILITY
    # Volatility follows activity (sqrt of the volume shape keeps the mean variance at sigma_minute^2).
    sigma = sigma_minute * np.sqrt(shape) * cluster * np.where(spikes, 2.5, 1.0)

    # Student-t(4) shocks scaled to unit variance: fat-tailed minute returns.
    shocks = _stream(seed, symbol, "return").standard_t(4, n) / np.sqrt(2.0)
    returns = sigma * shocks
    gaps = sigma_minute * _GAP_VOL_FACTOR * np.sqrt(grid.gap_minutes) * _stream(seed, symbol, "gap").standard_normal(n)
    log_close = np.log(start_price) + np.cumsum(gaps + returns)

    close = np.round(np.exp(log_close), PRICE_DECIMALS)
    open_ = np.round(np.exp(log_close - returns), PRICE_DECIMALS)
    continuous = np.zeros(n, dtype=bool)
    continuous[1:] = grid.gap_minutes[1:] == 0
    open_[continuous] = close[np.flatnonzero(continuous) - 1]  # exact equality, not just up to rounding

    # Extremes of a Brownian bridge from log(open) to log(close) with the bar's volatility.
    a, b = np.log(open_), np.log(close)
    excursion = 2 * sigma**2
    u_high, u_low = _stream(seed, symbol, "high").random(n), _stream(seed, symbol, "low").random(n)
    high = np.exp((a + b + np.sqrt((b - a) ** 2 - excursion * np.log1p(-u_high))) / 2)
    low = np.exp((a + b - np.sqrt((b - a) ** 2 - excursion * np.log1p(-u_low))) / 2)
    high = np.maximum(np.round(high, PRICE_DECIMALS), np.maximum(open_, close))
    low = np.maximum(np.minimum(np.round(low, PRICE_DECIMALS), np.minimum(open_, close)), 10.0**-PRICE_DECIMALS)

    # Volume: the calendar's shape, more when volatility clusters, lognormal noise, rare spikes.
    noise = np.exp(0.4 * _stream(seed, symbol, "volume").standard_normal(n) - 0.08)
    spike_size = 3.0 + _stream(seed, symbol, "spike_size").exponential(5.0, n)
    volume = profile.base_volume * shape * cluster**0.8 * noise * np.where(spikes, spike_size, 1.0)
    volume = np.round(volume, profile.volume_decimals)

    return pa.table(
        {
            "symbol": pa.repeat(pa.scalar(symbol), n),
            "ts": pa.array(grid.ts_us, type=pa.timestamp("us", tz="UTC")),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
        }
    )


# --- demo files ---------------------------------------------------------------------------------

DEMO_START = date(2024, 1, 1)  # fixed, so every demo run writes the same bars (idempotent ingest)
DEMO_SEED = 20240101
DEMO_TIMEFRAME = "1m"


class DemoSpec(NamedTuple):
    symbol: str
    calendar: str
    start_price: float


class DemoFile(NamedTuple):
    path: Path
    symbol: str | None  # None: the file has a symbol column
    calendar: str
    timeframe: str


_DEMO_SYMBOLS = (
    DemoSpec("SYN_BTC", "crypto_24x7", 42_000.0),
    DemoSpec("SYN_ES", "cme_globex", 4_750.0),
    DemoSpec("SYN_SPY", "us_rth", 475.0),
    DemoSpec("SYN_ETH", "crypto_24x7", 2_300.0),
    DemoSpec("SYN_NQ", "cme_globex", 16_800.0),
    DemoSpec("SYN_QQQ", "us_rth", 410.0),
)


def demo_specs(n_symbols: int) -> list[DemoSpec]:
    """The first n demo symbols; past the named ones, the list repeats with a numeric suffix (SYN_BTC2...)."""
    specs = []
    for i in range(n_symbols):
        base = _DEMO_SYMBOLS[i % len(_DEMO_SYMBOLS)]
        rounds = i // len(_DEMO_SYMBOLS)
        specs.append(base._replace(symbol=f"{base.symbol}{rounds + 1}") if rounds else base)
    return specs


def write_demo_file(spec: DemoSpec, out_dir: Path, days: int) -> DemoFile:
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = generate_minute_bars(spec.symbol, spec.calendar, DEMO_START, days, DEMO_SEED, spec.start_price)
    path = out_dir / f"{spec.symbol}_{DEMO_TIMEFRAME}.parquet"
    pq.write_table(table, path, compression="zstd")
    return DemoFile(path, spec.symbol, spec.calendar, DEMO_TIMEFRAME)


def write_demo_files(out_dir: Path, days: int, n_symbols: int) -> list[DemoFile]:
    """One Parquet file of 1-minute bars per demo symbol, `days` calendar days from DEMO_START."""
    return [write_demo_file(spec, out_dir, days) for spec in demo_specs(n_symbols)]
