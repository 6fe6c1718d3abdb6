"""Rolling volume profile (volume_profile_day, volume_profile_1d): SQL against a plain Python reference.

The reference below shares nothing with the SQL but the definitions (profile_settings, the model headers):
it reads the bar files with pandas, buckets trading days itself, and runs the value-area expansion as the
sequential loop the CBOT guide describes, where the SQL uses a set-based equivalent. Prices are compared
exactly: both sides evaluate the same IEEE operations (log, exp, /) through the same C library.
"""

from __future__ import annotations

import math
import shutil
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from barstore.ingest import IngestOptions, ingest_files
from barstore.transform.runner import build_models
from barstore.warehouse import connect

from .data_paths import DATA, PROJECT_DIR, need_data
from .feature_helpers import rows_differing

SQL = PROJECT_DIR / "sql"
SELECT = "+volume_profile_1d"
BINANCE = "binance_usdm_perp_1min_2025-05_2025-06.parquet"
LEAN = "lean_us_equity_1hour_1998-2021.parquet"
BINANCE_OPTS = IngestOptions(timeframe="1m", calendar="crypto_24x7")
LEAN_OPTS = IngestOptions(timeframe="1h", tz="America/New_York", calendar="us_rth", outside_session="keep")
COLUMNS = (
    "symbol, ts, ts_close, poc, vah, val, close_vs_poc, close_vs_vah, close_vs_val, "
    "profile_days, poc_bin, val_bin, vah_bin"
)
WIDTH, WINDOW, SHARE = 0.001, 30, Fraction(7, 10)


# ---------------------------------------------------------------- the reference


def bin_of(price: float, width: float = WIDTH) -> int:
    return math.floor(math.log(price) / math.log(1 + width))


def reference_profiles(bars: pd.DataFrame, width=WIDTH, window=WINDOW, share=SHARE) -> pd.DataFrame:
    """poc/vah/val per (symbol, day) from bars with columns symbol, day, ts, low, high, close, volume.

    Every day in `bars` is taken as complete; a row gets prices once `window` days are available."""
    step = math.log(1 + width)
    out = []
    for symbol, sym_bars in bars.sort_values("ts").groupby("symbol"):
        days, closes, hists = [], [], []
        for day, day_bars in sym_bars.groupby("day", sort=True):
            hist: dict[int, int] = {}
            for low, high, volume in zip(day_bars["low"], day_bars["high"], day_bars["volume"]):
                if low <= 0:
                    continue
                lo, hi = bin_of(low, width), bin_of(high, width)
                nano = int(Decimal(float(volume) / (hi - lo + 1) * 1e9).quantize(Decimal(1), ROUND_HALF_UP))
                for k in range(lo, hi + 1):
                    hist[k] = hist.get(k, 0) + nano
            if hist:
                days.append(day)
                closes.append(float(day_bars["close"].iloc[-1]))
                hists.append(hist)
        for i, day in enumerate(days):
            row = {"symbol": symbol, "day": day, "n_days": min(i + 1, window)}
            if i + 1 >= window:
                row.update(value_area(hists[i + 1 - window : i + 1], closes[i], width, share))
                row.update(
                    poc=math.exp((row["poc_bin"] + 0.5) * step),
                    vah=math.exp((row["vah_bin"] + 1) * step),
                    val=math.exp(row["val_bin"] * step),
                )
                for name in ("poc", "vah", "val"):
                    row[f"close_vs_{name}"] = closes[i] / row[name] - 1
            out.append(row)
    return pd.DataFrame(out)


def value_area(hists: list[dict[int, int]], close: float, width: float, share: Fraction) -> dict:
    """The CBOT single-bin expansion: POC first, then the larger neighbour (ties: above) until >= share."""
    volume: dict[int, int] = {}
    for hist in hists:
        for k, v in hist.items():
            volume[k] = volume.get(k, 0) + v
    low, high = min(volume), max(volume)
    profile = [volume.get(k, 0) for k in range(low, high + 1)]  # empty bins inside the range count
    close_bin = bin_of(close, width)
    best = max(profile)
    poc = min((k for k in range(low, high + 1) if profile[k - low] == best), key=lambda k: (abs(k - close_bin), k))
    total, taken, va_low, va_high = sum(profile), profile[poc - low], poc, poc
    while taken < share * total:
        above = profile[va_high + 1 - low] if va_high < high else None
        below = profile[va_low - 1 - low] if va_low > low else None
        if below is None or (above is not None and above >= below):
            va_high += 1
            taken += above
        else:
            va_low -= 1
            taken += below
    return {"poc_bin": poc, "val_bin": va_low, "vah_bin": va_high}


# ---------------------------------------------------------------- helpers


def write_slice(path: Path, source: str, lo: str, hi: str, symbols: tuple[str, ...]) -> Path:
    """Rows of a shared data file for `symbols` with lo <= ts < hi (UTC for Binance, New York time for Lean)."""
    if source == BINANCE:  # nanosecond timestamps in the file: written back as microseconds
        ts, bound, columns = (
            "CAST(ts_utc AS TIMESTAMPTZ)",
            "TIMESTAMPTZ '{}:00+00'",
            "* REPLACE (CAST(ts_utc AS TIMESTAMPTZ) AS ts_utc)",
        )
    else:
        ts, bound, columns = "ts_et", "TIMESTAMP '{}'", "*"
    names = ", ".join(f"'{s}'" for s in symbols)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"COPY (SELECT {columns} FROM '{DATA / source}' WHERE symbol IN ({names}) "
        f"AND {ts} >= {bound.format(lo)} AND {ts} < {bound.format(hi)} ORDER BY symbol, {ts}) "
        f"TO '{path}' (FORMAT parquet)"
    )
    con.close()
    return path


def reference_bars(path: Path) -> pd.DataFrame:
    """Bars of a slice with their trading day: the UTC date (Binance) or the New York date (Lean)."""
    bars = pd.read_parquet(path)
    ts = bars.pop("ts_utc" if "ts_utc" in bars else "ts_et")
    bars["ts"] = ts
    bars["day"] = ts.dt.date
    return bars


def build(con, sql_dir: Path = SQL) -> dict:
    return {r.model: r for r in build_models(con, sql_dir, select=SELECT, show=False)}


def warehouse(path: Path, files: list[Path], opts: IngestOptions, sql_dir: Path = SQL):
    con = connect(path)
    ingest_files(con, files, opts, progress=False)
    build(con, sql_dir)
    return con


def rows(con, table: str = "volume_profile_1d", where: str = "true") -> list[tuple]:
    return con.execute(f"SELECT {COLUMNS} FROM {table} WHERE {where} ORDER BY symbol, ts").fetchall()


def assert_matches_reference(con, ref: pd.DataFrame, tz: str) -> None:
    got = con.execute(
        f"SELECT {COLUMNS}, CAST(timezone('{tz}', ts) AS DATE) AS day FROM volume_profile_1d ORDER BY symbol, ts"
    ).df()
    assert len(got) == len(ref) > 0
    ref = ref.sort_values(["symbol", "day"]).reset_index(drop=True)
    assert list(got["symbol"]) == list(ref["symbol"])
    assert list(pd.to_datetime(got["day"]).dt.date) == list(ref["day"])
    assert list(got["profile_days"]) == list(ref["n_days"])
    full = ref["poc_bin"].notna()
    assert full.sum() > 10
    assert got.loc[~full, "poc"].isna().all()
    for column in ("poc_bin", "val_bin", "vah_bin"):
        assert list(got.loc[full, column].astype(int)) == list(ref.loc[full, column].astype(int)), column
    for column in ("poc", "vah", "val", "close_vs_poc", "close_vs_vah", "close_vs_val"):
        assert list(got.loc[full, column]) == list(ref.loc[full, column]), column


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def binance(tmp_path_factory):
    """BTCUSDT (bins > 0) and ADAUSDT (price < 1: bins < 0), 45 UTC days, built in full."""
    need_data(BINANCE)
    root = tmp_path_factory.mktemp("binance")
    path = write_slice(root / "bars.parquet", BINANCE, "2025-05-10 00:00", "2025-06-24 00:00", ("ADAUSDT", "BTCUSDT"))
    con = warehouse(root / "full.duckdb", [path], BINANCE_OPTS)
    yield root, path, con
    con.close()


def test_binance_matches_reference(binance):
    _, path, con = binance
    ref = reference_profiles(reference_bars(path))
    assert_matches_reference(con, ref, "UTC")
    # the value area holds the POC and at least the share of the window's volume (a sanity check on real data)
    assert (
        con.execute(
            "SELECT count(*) FROM volume_profile_1d WHERE poc IS NOT NULL AND NOT (val < poc AND poc < vah)"
        ).fetchone()[0]
        == 0
    )


def test_lean_matches_reference_across_a_split(tmp_path):
    """AAPL hourly, two years around the 2:1 split of 2000-06-21: windows spanning it hold ~690 empty bins."""
    need_data(LEAN)
    path = write_slice(tmp_path / "aapl.parquet", LEAN, "1999-07-01", "2001-07-01", ("AAPL",))
    con = warehouse(tmp_path / "lean.duckdb", [path], LEAN_OPTS)
    ref = reference_profiles(reference_bars(path))
    assert_matches_reference(con, ref, "America/New_York")
    widest = con.execute("SELECT max(vah_bin - val_bin) FROM volume_profile_1d").fetchone()[0]
    assert widest > 600  # the split's gap lies inside some value areas: empty bins were walked through
    con.close()


@pytest.mark.parametrize("cut", ["2025-06-10 13:37", "2025-06-14 00:00", "2025-06-20 23:59"])
def test_truncated_history_gives_the_same_rows(binance, tmp_path, cut):
    root, path, full = binance
    part = write_slice(tmp_path / "part.parquet", BINANCE, "2025-05-10 00:00", cut, ("ADAUSDT", "BTCUSDT"))
    con = warehouse(tmp_path / "cut.duckdb", [part], BINANCE_OPTS)
    truncated = rows(con)
    assert truncated == rows(full, where=f"ts_close <= TIMESTAMPTZ '{cut}:00+00'")
    assert sum(r[3] is not None for r in truncated) > 0
    con.close()


# ---------------------------------------------------------------- incremental builds


def _append_equals_full(tmp_path, files_old, files_new, opts):
    inc = connect(tmp_path / "inc.duckdb")
    ingest_files(inc, files_old, opts, progress=False)
    build(inc)
    before = rows(inc)
    ingest_files(inc, files_new, opts, progress=False)
    second = build(inc)
    assert second["volume_profile_day"].mode == "incremental"
    assert second["volume_profile_1d"].mode == "incremental"
    full = warehouse(tmp_path / "full.duckdb", files_old + files_new, opts)
    full.close()
    for table in ("volume_profile_day", "volume_profile_1d"):
        diff, n = rows_differing(inc, tmp_path / "full.duckdb", table)
        assert n > 0 and diff == 0, table
    return inc, before


def test_binance_append_a_day_equals_full_rebuild(tmp_path):
    need_data(BINANCE)
    symbols = ("ADAUSDT", "BTCUSDT")
    old = write_slice(tmp_path / "old.parquet", BINANCE, "2025-05-10 00:00", "2025-06-12 13:37", symbols)
    new = write_slice(tmp_path / "new.parquet", BINANCE, "2025-06-12 13:37", "2025-06-13 13:37", symbols)
    inc, before = _append_equals_full(tmp_path, [old], [new], BINANCE_OPTS)
    # 06-12 was forming: no row before, a complete row after; 06-13 is forming now
    assert max(r[1] for r in before).isoformat()[:10] == "2025-06-11"
    assert (
        inc.execute("SELECT max(ts)::DATE, count(poc) FROM volume_profile_1d").fetchone()[0].isoformat() == "2025-06-12"
    )
    inc.close()


def test_lean_append_over_a_holiday_equals_full_rebuild(tmp_path):
    """Two years of SPY hourly bars, then the week of Thanksgiving 2004: 30 trading days span 6 calendar weeks."""
    need_data(LEAN)
    old = write_slice(tmp_path / "old.parquet", LEAN, "2003-01-01", "2004-11-24 12:00", ("SPY",))
    new = write_slice(tmp_path / "new.parquet", LEAN, "2004-11-24 12:00", "2004-12-02", ("SPY",))
    inc, _ = _append_equals_full(tmp_path, [old], [new], LEAN_OPTS)
    inc.close()


def test_gap_and_forming_day(tmp_path):
    """Data stops mid-day and resumes two days later: the forming day gets no row (and feeds none) until the
    data passes its close; the missing days are no trading days; incremental == full throughout."""
    need_data(BINANCE)
    symbols = ("BTCUSDT",)
    old = write_slice(tmp_path / "old.parquet", BINANCE, "2025-05-10 00:00", "2025-06-12 12:00", symbols)
    new = write_slice(tmp_path / "new.parquet", BINANCE, "2025-06-15 00:00", "2025-06-15 06:00", symbols)
    inc, before = _append_equals_full(tmp_path, [old], [new], BINANCE_OPTS)
    days = [r[1].isoformat()[:10] for r in rows(inc)]
    assert before[-1][1].isoformat()[:10] == "2025-06-11"
    assert days[-1] == "2025-06-12" and "2025-06-13" not in days and "2025-06-14" not in days
    # 06-12 holds only its first 12 hours, yet it is complete now and closes the last window
    last = inc.execute("SELECT profile_days, poc FROM volume_profile_1d ORDER BY ts DESC LIMIT 1").fetchone()
    assert last[0] == WINDOW and last[1] is not None
    inc.close()


# ---------------------------------------------------------------- tiny cases with known answers

T = math.log(1 + WIDTH)
K0 = 4605  # bin k holds [(1.001)^k, (1.001)^(k+1)): about 99.97 .. 100.07


def mid(k: int) -> float:
    """A price in the middle of bin k (away from its edges)."""
    return math.exp((k + 0.5) * T)


def _bar(hour: int, low_bin: int, high_bin: int, volume: float, close_bin: int | None = None) -> dict:
    low, high = mid(K0 + low_bin), mid(K0 + high_bin)
    close = mid(K0 + close_bin) if close_bin is not None else low
    return {
        "ts": f"2024-01-02 {hour:02d}:00:00+00:00",
        "open": low,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
    }


# symbol -> (bars of 2024-01-02 in order, the last one closing the day; expected poc, val, vah as offsets from K0)
TINY = {
    # one bar over 5 bins, 2 each: the POC tie goes to the close's bin (3); the expansion tie goes above (4);
    # then below: 2, 1 -> 8 >= 7
    "ONE": ([_bar(5, 0, 4, 10, close_bin=3)], (3, 1, 4)),
    # bins 2,2,2,5,5,3: POC tie 3|4 -> nearest the close (0) is 3; above 5, above 3, below 2 -> 15 >= 13.3
    "TWO": ([_bar(4, 3, 5, 9), _bar(6, 0, 4, 10, close_bin=0)], (3, 2, 5)),
    # bins 4,1,4 with the close in the middle: POC tie at equal distance -> the lower bin
    "TIE": ([_bar(1, 0, 0, 3), _bar(2, 2, 2, 3), _bar(3, 0, 2, 3, close_bin=1)], (0, 0, 2)),
    # bins 5,0,0,6,1,1: the empty bins below the POC stop the expansion there (0 < 1), so it goes up first;
    # ignoring them would take the 5 below at once and stop at bins 0..3
    "GAP": ([_bar(1, 0, 0, 5), _bar(2, 4, 5, 2), _bar(3, 3, 3, 6)], (3, 0, 5)),
    # 7 of 10 in the POC: exactly 70 % is enough
    "EXACT": ([_bar(1, 1, 1, 3), _bar(2, 0, 0, 7)], (0, 0, 0)),
}


@pytest.fixture
def one_day_sql(tmp_path):
    """The project's sql/ with profile_settings set to one-day windows (the documented place to configure)."""
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL, sql_dir)
    settings = sql_dir / "features" / "profile_settings.sql"
    text = settings.read_text()
    assert "30 AS window_days" in text
    settings.write_text(text.replace("30 AS window_days", "1 AS window_days"))
    return sql_dir


def test_tiny_cases_have_the_known_answers(tmp_path, bar_file, one_day_sql):
    con = connect(tmp_path / "tiny.duckdb")
    for symbol, (bars, _) in TINY.items():
        # a bar the next day completes 2024-01-02; that day itself is forming and gets no row
        nxt = dict(bars[-1], ts="2024-01-03 00:00:00+00:00")
        path = bar_file(f"{symbol}.csv", bars + [nxt])
        ingest_files(con, [path], IngestOptions(timeframe="1h", calendar="crypto_24x7", symbol=symbol), progress=False)
    build(con, one_day_sql)
    got = {
        r[0]: r
        for r in con.execute(
            "SELECT symbol, ts, poc_bin, val_bin, vah_bin, poc, val, vah, close_vs_poc FROM volume_profile_1d"
        ).fetchall()
    }
    assert sorted(got) == sorted(TINY)
    for symbol, (bars, (poc, val, vah)) in TINY.items():
        row = got[symbol]
        assert row[1].isoformat()[:10] == "2024-01-02", symbol
        assert row[2:5] == (K0 + poc, K0 + val, K0 + vah), symbol
        assert row[5] == pytest.approx(mid(K0 + poc), rel=1e-15)
        assert row[6] == pytest.approx(math.exp((K0 + val) * T), rel=1e-15)  # lower edge of the lowest bin
        assert row[7] == pytest.approx(math.exp((K0 + vah + 1) * T), rel=1e-15)  # upper edge of the highest
        assert row[8] == pytest.approx(bars[-1]["close"] / row[5] - 1, abs=1e-15)
    con.close()


def test_tiny_cases_through_the_reference(tmp_path):
    """The Python reference gives the same known answers (so the two implementations agree by construction)."""
    frames = []
    for symbol, (bars, _) in TINY.items():
        frame = pd.DataFrame(bars).assign(symbol=symbol)
        frame["ts"] = pd.to_datetime(frame["ts"])
        frame["day"] = frame["ts"].dt.date
        frames.append(frame)
    ref = reference_profiles(pd.concat(frames), window=1).set_index("symbol")
    for symbol, (_, (poc, val, vah)) in TINY.items():
        assert tuple(ref.loc[symbol, ["poc_bin", "val_bin", "vah_bin"]]) == (K0 + poc, K0 + val, K0 + vah), symbol
