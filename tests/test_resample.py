"""Resampled bars against independent pandas references and vendor bars, on the three calendars."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from barstore.errors import IngestError
from barstore.ingest import IngestOptions, ingest_files
from barstore.transform.runner import build_models
from barstore.warehouse import connect

from .data_paths import DATA, need_data

NY = "America/New_York"
OHLCV = ["open", "high", "low", "close", "volume"]
AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def _warehouse(tmp_path):
    return connect(tmp_path / "warehouse.ducklake")


def _ingest(con, path, **opts):
    ingest_files(con, [path], IngestOptions(**opts), progress=False)


def _build(con, **kw):
    # the bar models and what they read; features have their own tests
    return build_models(con, _sql_dir(), show=False, select="staging/ contracts/ bars/", **kw)


def _sql_dir():
    from .data_paths import PROJECT_DIR

    return PROJECT_DIR / "sql"


def _bars(con, tf, symbol=None):
    where = f"WHERE symbol = '{symbol}'" if symbol else ""
    return con.execute(f"SELECT * FROM bars_{tf} {where} ORDER BY symbol, ts").df()


def _assert_same_ohlcv(ours: pd.DataFrame, ref: pd.DataFrame, keys: list[str]):
    merged = ours.merge(ref, on=keys, how="outer", suffixes=("", "_ref"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    for col in ["open", "high", "low", "close"]:
        assert (merged[col] == merged[f"{col}_ref"]).all(), col
    # volumes: ours are summed exactly (DECIMAL); pandas sums doubles in order
    assert ((merged["volume"] - merged["volume_ref"]).abs() <= 1e-9 * merged["volume_ref"].abs() + 1e-9).all()


@pytest.fixture(scope="module")
def binance(tmp_path_factory):
    need_data("binance_usdm_perp_1min_2025-05_2025-06.parquet")
    tmp = tmp_path_factory.mktemp("binance")
    table = pq.read_table(DATA / "binance_usdm_perp_1min_2025-05_2025-06.parquet")
    df = table.to_pandas()
    df = df[df.symbol.isin(["BTCUSDT", "ETHUSDT"])]
    df = df[(df.ts_utc >= "2025-06-01") & (df.ts_utc < "2025-06-04 10:37")]
    path = tmp / "slice.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    con = _warehouse(tmp)
    _ingest(con, path, timeframe="1m", calendar="crypto_24x7")
    _build(con)
    return con, df


@pytest.mark.parametrize("tf,rule", [("5m", "5min"), ("15m", "15min"), ("1h", "1h"), ("4h", "4h"), ("1d", "1D")])
def test_crypto_resample_matches_pandas(binance, tf, rule):
    con, df = binance
    frames = []
    for symbol, g in df.groupby("symbol"):
        r = g.set_index("ts_utc")[OHLCV].resample(rule, label="left", closed="left").agg(AGG).dropna()
        frames.append(r.rename_axis("ts").reset_index().assign(symbol=symbol))
    ref = pd.concat(frames)
    ref["ts"] = ref["ts"].dt.as_unit("us")
    ours = _bars(con, tf)
    _assert_same_ohlcv(ours[["symbol", "ts", *OHLCV]], ref, ["symbol", "ts"])
    seconds = pd.Timedelta(rule).total_seconds()
    assert (ours["ts_close"] - ours["ts"] == pd.Timedelta(seconds=seconds)).all()


def test_forming_bar_is_incomplete(binance):
    con, _ = binance
    # the data stops at 10:36 on 06-04: the 1d, 4h (08:00-12:00) and 1h (10:00) bars are still forming
    last = con.execute(
        "SELECT timeframe, ts, n_bars FROM resampled_bars r WHERE symbol = 'BTCUSDT' "
        "QUALIFY ts = max(ts) OVER (PARTITION BY timeframe) ORDER BY timeframe"
    ).fetchall()
    incomplete = {
        tf: con.execute(
            f"SELECT count(*) FILTER (WHERE NOT is_complete), max(ts) FILTER (WHERE NOT is_complete) "
            f"FROM bars_{tf} WHERE symbol = 'BTCUSDT'"
        ).fetchone()
        for tf in ["1m", "5m", "15m", "1h", "4h", "1d"]
    }
    assert incomplete["1m"][0] == 0
    assert incomplete["5m"][0] == 1 and incomplete["15m"][0] == 1 and incomplete["1h"][0] == 1
    assert incomplete["4h"][0] == 1 and incomplete["1d"][0] == 1
    assert str(incomplete["1d"][1])[:10] == "2025-06-04"
    assert len(last) == 6


def test_5m_forming_bar(binance):
    con, _ = binance
    # 10:35 bucket has 10:35 and 10:36 only: incomplete until 10:40
    row = con.execute(
        "SELECT n_bars, is_complete FROM bars_5m WHERE symbol = 'BTCUSDT' ORDER BY ts DESC LIMIT 1"
    ).fetchone()
    assert row == (2, False)


def test_no_bar_closes_before_its_source_bars(binance):
    con, _ = binance
    bad = con.execute(
        """
        SELECT count(*) FROM resampled_bars r
        JOIN raw.bars b ON b.symbol = r.symbol AND b.ts >= r.ts AND b.ts < r.ts_close
        GROUP BY r.symbol, r.timeframe, r.ts, r.ts_close, r.n_bars
        HAVING count(*) <> any_value(r.n_bars)
        """
    ).fetchall()
    assert bad == []


def _real_minutes(tmp_path_factory, file, symbol, **opts):
    """A warehouse built from one real 1-minute CSV, and the CSV as pandas read it."""
    need_data(file)
    con = _warehouse(tmp_path_factory.mktemp(symbol))
    _ingest(con, DATA / file, symbol=symbol, timeframe="1m", tz=NY, **opts)
    _build(con)
    return con, pd.read_csv(DATA / file, parse_dates=["ts_et"])


@pytest.fixture(scope="module")
def es(tmp_path_factory):
    # ES trades on NYSE holidays (CME early halts at 13:00 New York), so its RTH file follows cme_rth, not us_rth
    return _real_minutes(tmp_path_factory, "es_1min_rth_2020-01_2020-04.csv", "ES", label="end", calendar="cme_rth")


CME_HALF_DAYS = {date(2020, 1, 20), date(2020, 2, 17)}  # MLK and Presidents Day: CME halts at 12:00 Chicago


def test_es_on_us_rth_is_refused_on_nyse_holidays(tmp_path):
    need_data("es_1min_rth_2020-01_2020-04.csv")
    con = _warehouse(tmp_path)
    file = DATA / "es_1min_rth_2020-01_2020-04.csv"
    with pytest.raises(IngestError) as err:
        _ingest(con, file, symbol="ES", timeframe="1m", tz=NY, label="end", calendar="us_rth")
    assert "420 bad row(s)" in str(err.value)
    assert (
        "row 4682: bar at 2020-01-20 14:30 UTC is outside the sessions of calendar us_rth "
        "(the session of 2020-01-17 ended at 2020-01-17 21:00 UTC)" in str(err.value)
    )


def test_es_rth_days(es):
    con, raw = es
    raw["day"] = (raw.ts_et - pd.Timedelta(minutes=1)).dt.date  # end-labelled: 16:00 bar is the day's last
    ref = raw.groupby("day").agg(AGG).reset_index()
    ours = _bars(con, "1d")
    local_start = ours.ts.dt.tz_convert(NY)
    local_close = ours.ts_close.dt.tz_convert(NY)
    assert (local_start.dt.strftime("%H:%M") == "09:30").all()
    half = local_start.dt.date.isin(CME_HALF_DAYS)
    assert half.sum() == 2 and (local_close[half].dt.strftime("%H:%M") == "13:00").all()
    assert (local_close[~half].dt.strftime("%H:%M") == "16:00").all()
    ours["day"] = local_start.dt.date
    _assert_same_ohlcv(ours[["day", *OHLCV]], ref, ["day"])
    assert len(ours) == len(ref) == raw["day"].nunique()
    # DST began 2020-03-08: the session start moves from 14:30 to 13:30 UTC
    utc = ours.set_index("day").ts.dt.strftime("%H:%M")
    assert utc[pd.Timestamp("2020-03-06").date()] == "14:30"
    assert utc[pd.Timestamp("2020-03-09").date()] == "13:30"


def test_es_4h_anchored_at_open(es):
    con, _ = es
    four = _bars(con, "4h")
    local = four.ts.dt.tz_convert(NY).dt.strftime("%H:%M")
    assert set(local) == {"09:30", "13:30"}
    full_days = four[four.n_bars.isin([240, 150])]
    assert len(full_days) >= 0.95 * len(four)
    closes = four.ts_close.dt.tz_convert(NY).dt.strftime("%H:%M")
    assert set(closes) == {"13:00", "13:30", "16:00"}  # 13:00: the CME half days' only 4h bar


def test_es_hourly_on_the_clock(es):
    con, _ = es
    hours = _bars(con, "1h")
    first = hours[hours.ts.dt.tz_convert(NY).dt.strftime("%H:%M") == "09:00"]
    # 09:00-10:00 holds 09:30..09:59 only; the 2020-03-09/12/16 circuit-breaker halts left fewer minutes
    assert (first.n_bars <= 30).all() and (first.n_bars == 30).sum() == len(first) - 3


@pytest.fixture(scope="module")
def nq(tmp_path_factory):
    # exchange_calendars ends CME's day after Thanksgiving at 12:00 Chicago; equity futures traded to 12:15
    return _real_minutes(
        tmp_path_factory, "nq_1min_2023-11-19_2023-12-04.csv", "NQ", calendar="cme_globex", outside_session="keep"
    )


def test_nq_bars_after_the_calendars_early_close_are_refused_by_default(tmp_path):
    need_data("nq_1min_2023-11-19_2023-12-04.csv")
    con = _warehouse(tmp_path)
    with pytest.raises(IngestError) as err:
        _ingest(
            con, DATA / "nq_1min_2023-11-19_2023-12-04.csv", symbol="NQ", timeframe="1m", tz=NY, calendar="cme_globex"
        )
    assert "15 bad row(s)" in str(err.value)
    assert "row 6421: bar at 2023-11-24 18:00 UTC is outside the sessions of calendar cme_globex" in str(err.value)


def test_nq_globex_days(nq):
    con, raw = nq
    raw["day"] = (raw.ts_et + pd.Timedelta(hours=7)).dt.date  # 17:00 the evening before starts the next day
    ref = raw.groupby("day").agg(AGG).reset_index()
    ours = _bars(con, "1d")
    ours["day"] = ours.ts_close.dt.tz_convert(NY).dt.date
    _assert_same_ohlcv(ours[["day", *OHLCV]], ref, ["day"])
    starts = ours.ts.dt.tz_convert(NY)
    assert (starts.dt.strftime("%H:%M") == "18:00").all()
    # Sunday evening opens Monday's trading day; Thanksgiving (11-23) and the day after are short
    assert str(starts.iloc[0]).startswith("2023-11-19 18:00") and str(ours.day.iloc[0]) == "2023-11-20"
    n = ours.set_index("day").n_bars
    assert n[pd.Timestamp("2023-11-20").date()] == 1380
    assert n[pd.Timestamp("2023-11-23").date()] < 1380 and n[pd.Timestamp("2023-11-24").date()] < 1380
    assert pd.Timestamp("2023-11-25").date() not in n.index  # no Saturday session


def test_nq_4h_anchored_at_globex_open(nq):
    con, _ = nq
    four = _bars(con, "4h")
    local = set(four.ts.dt.tz_convert(NY).dt.strftime("%H:%M"))
    assert local <= {"18:00", "22:00", "02:00", "06:00", "10:00", "14:00"}
    last = four[four.ts.dt.tz_convert(NY).dt.strftime("%H:%M") == "14:00"]
    assert (last.ts_close.dt.tz_convert(NY).dt.strftime("%H:%M") == "17:00").all()


def test_nq_gaps_stay_gaps(nq):
    con, raw = nq
    ones = _bars(con, "1m")
    assert len(ones) == len(raw)  # absent minutes are not invented
    assert ones.n_bars.eq(1).all()


def test_lean_hourly_to_daily_matches_vendor(tmp_path):
    need_data("lean_us_equity_1hour_1998-2021.parquet", "lean_us_equity_daily_1998-2021.parquet")
    con = _warehouse(tmp_path)
    # Lean prints hourly bars after the 13:00 close on 23 half days (1998-2008); the vendor's daily bars hold them
    hourly = DATA / "lean_us_equity_1hour_1998-2021.parquet"
    with pytest.raises(IngestError, match=r"(?s)188 bad row\(s\).*row \d+: bar at 1998-11-27 18:00 UTC is outside"):
        _ingest(con, hourly, timeframe="1h", tz=NY, calendar="us_rth")
    _ingest(con, hourly, timeframe="1h", tz=NY, calendar="us_rth", outside_session="keep")
    _build(con)
    cmp = con.execute(
        f"""
        WITH vendor AS (
            SELECT symbol, CAST(ts_et AS DATE) AS day, open, high, low, close, volume
            FROM '{DATA / "lean_us_equity_daily_1998-2021.parquet"}'
            WHERE symbol IN (SELECT symbol FROM raw.symbols)
        ), ours AS (
            SELECT symbol, CAST(timezone('{NY}', ts) AS DATE) AS day, open, high, low, close, volume
            FROM bars_1d
        )
        SELECT count(*), count(o.symbol), count(v.symbol),
               count(*) FILTER (WHERE o.open <> v.open OR o.high <> v.high OR o.low <> v.low OR o.close <> v.close),
               max(abs(o.volume - v.volume))
        FROM ours o FULL JOIN vendor v USING (symbol, day)
        """
    ).fetchone()
    total, ours_n, vendor_n, ohlc_diff, max_vol_diff = cmp
    assert total == ours_n == vendor_n == 29245
    assert ohlc_diff == 0
    assert max_vol_diff == 0


def test_native_timeframe_wins_finest_fills_the_rest(tmp_path):
    """A symbol with both 1h and 1m bars: bars_1h come from the 1h file, 4h/1d from the 1m bars."""
    minutes = pd.date_range("2024-01-01", periods=24 * 60 * 2, freq="1min", tz="UTC")
    m = pd.DataFrame({"ts": minutes, "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 1.0})
    hours = pd.DataFrame({"ts": minutes[::60], "open": 20.0, "high": 21.0, "low": 19.0, "close": 20.5, "volume": 7.0})
    for name, frame in [("m.parquet", m), ("h.parquet", hours)]:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / name)
    con = _warehouse(tmp_path)
    _ingest(con, tmp_path / "m.parquet", symbol="X", timeframe="1m", calendar="crypto_24x7")
    _ingest(con, tmp_path / "h.parquet", symbol="X", timeframe="1h", calendar="crypto_24x7")
    _build(con)
    h = _bars(con, "1h")
    assert (h.open == 20.0).all() and (h.volume == 7.0).all() and (h.n_bars == 1).all()
    d = _bars(con, "1d")
    assert (d.open == 10.0).all() and (d.volume == 1440.0).all() and (d.n_bars == 1440).all()
    assert list(_bars(con, "15m").n_bars.unique()) == [15]


def test_native_daily_bars_close_at_the_session_end(tmp_path):
    """Vendor daily bars (Lean, labelled by date) are knowable at 16:00 New York that day, not a day later."""
    need_data("lean_us_equity_daily_1998-2021.parquet")
    con = _warehouse(tmp_path)
    _ingest(con, DATA / "lean_us_equity_daily_1998-2021.parquet", timeframe="1d", tz=NY, calendar="us_rth")
    _build(con)
    days = _bars(con, "1d", "SPY")
    assert len(days) > 5000 and days.n_bars.eq(1).all()
    assert (days.ts.dt.tz_convert(NY).dt.strftime("%H:%M") == "09:30").all()
    closes = days.set_index(days.ts.dt.tz_convert(NY).dt.date).ts_close.dt.tz_convert(NY)
    assert str(closes[date(2019, 11, 29)]) == "2019-11-29 13:00:00-05:00"  # NYSE's early close after Thanksgiving
    assert date(2019, 7, 4) not in closes.index and date(2019, 4, 19) not in closes.index  # Independence, Good Friday
    early = closes.dt.strftime("%H:%M") == "13:00"
    assert 20 < early.sum() < 60 and (closes[~early].dt.strftime("%H:%M") == "16:00").all()
    assert (closes.index == closes.dt.date).all()
