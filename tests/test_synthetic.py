"""The synthetic bar generator: deterministic, valid OHLC, the right sessions, realistic shape."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from barstore.errors import BarstoreError
from barstore.synthetic import demo_specs, generate_minute_bars, write_demo_files

NY = "America/New_York"


def bars(calendar, start=date(2024, 1, 1), days=10, seed=1, symbol="SYN_X", price=100.0) -> pd.DataFrame:
    return generate_minute_bars(symbol, calendar, start, days, seed, price).to_pandas()


def test_same_seed_same_table_other_seed_other_prices():
    a = generate_minute_bars("SYN_X", "cme_globex", date(2024, 1, 1), 5, 7, 100.0)
    b = generate_minute_bars("SYN_X", "cme_globex", date(2024, 1, 1), 5, 7, 100.0)
    c = generate_minute_bars("SYN_X", "cme_globex", date(2024, 1, 1), 5, 8, 100.0)
    assert a.equals(b)
    assert a.column("ts").equals(c.column("ts"))
    assert not a.column("close").equals(c.column("close"))


def test_longer_run_reproduces_the_shorter_one():
    # So that re-running the demo with more days appends bars instead of conflicting with stored ones.
    short = generate_minute_bars("SYN_X", "us_rth", date(2024, 1, 1), 6, 3, 50.0)
    longer = generate_minute_bars("SYN_X", "us_rth", date(2024, 1, 1), 20, 3, 50.0)
    assert longer.num_rows > short.num_rows
    assert longer.slice(0, short.num_rows).equals(short)


def test_schema():
    table = generate_minute_bars("SYN_X", "crypto_24x7", date(2024, 1, 1), 1, 1, 10.0)
    assert table.column_names == ["symbol", "ts", "open", "high", "low", "close", "volume"]
    assert str(table.schema.field("ts").type) == "timestamp[us, tz=UTC]"
    assert table.column("symbol").to_pylist() == ["SYN_X"] * 1440


@pytest.mark.parametrize("calendar", ["crypto_24x7", "us_rth", "cme_globex"])
def test_ohlc_valid_and_opens_continue_closes(calendar):
    df = bars(calendar, days=30, price=500.0)
    assert not df.isna().any().any()
    assert (df.high >= df[["open", "close"]].max(axis=1)).all()
    assert (df.low <= df[["open", "close"]].min(axis=1)).all()
    assert (df.low > 0).all() and (df.volume >= 0).all()
    assert (df.high > df.low).mean() > 0.9  # bars have a range, not just a tick
    step = df.ts.diff()
    assert (step.iloc[1:] >= pd.Timedelta(minutes=1)).all()
    inside = step == pd.Timedelta(minutes=1)
    assert (df.open[inside].to_numpy() == df.close.shift()[inside].to_numpy()).all()
    gapped = step > pd.Timedelta(minutes=1)
    if calendar != "crypto_24x7":
        # After a closed period the open moves away from the previous close on most sessions.
        assert gapped.sum() > 10
        assert (df.open[gapped] != df.close.shift()[gapped]).mean() > 0.8
    else:
        assert not gapped.any()


def test_crypto_is_every_minute_of_every_utc_day():
    df = bars("crypto_24x7", start=date(2024, 3, 8), days=4)  # includes a weekend
    assert len(df) == 4 * 1440
    assert df.ts.iloc[0] == pd.Timestamp("2024-03-08 00:00", tz="UTC")
    assert df.ts.iloc[-1] == pd.Timestamp("2024-03-11 23:59", tz="UTC")


def test_us_rth_sessions_across_the_march_dst_change():
    # 2024-03-10 (a Sunday): New York moves from UTC-5 to UTC-4.
    df = bars("us_rth", start=date(2024, 3, 4), days=14)
    local = df.ts.dt.tz_convert(NY)
    per_day = local.groupby(local.dt.date)
    expected_days = [date(2024, 3, 4) + timedelta(days=i) for i in range(14)]
    expected_days = [d for d in expected_days if d.isoweekday() <= 5]
    assert list(per_day.size().index) == expected_days
    assert (per_day.size() == 390).all()
    assert (per_day.min().dt.strftime("%H:%M") == "09:30").all()
    assert (per_day.max().dt.strftime("%H:%M") == "15:59").all()
    first_utc = df.ts.groupby(local.dt.date).min().dt.strftime("%H:%M")
    assert first_utc[date(2024, 3, 8)] == "14:30"
    assert first_utc[date(2024, 3, 11)] == "13:30"


@pytest.mark.parametrize(
    "start, sunday_open_utc",
    [(date(2024, 3, 4), "2024-03-10 22:00"), (date(2024, 10, 28), "2024-11-03 23:00")],
)
def test_cme_globex_sessions_weekend_and_dst(start, sunday_open_utc):
    df = bars("cme_globex", start=start, days=14)
    local = df.ts.dt.tz_convert(NY)
    # The trading day is the day the session ends: 18:00 belongs to the next day.
    trading_day = (local + pd.Timedelta(hours=6)).dt.date
    sizes = df.groupby(trading_day).size()
    expected = [start + timedelta(days=i) for i in range(14)]
    assert list(sizes.index) == [d for d in expected if d.isoweekday() <= 5]
    assert (sizes == 1380).all()
    hhmm = local.dt.strftime("%H:%M")
    assert not ((hhmm >= "17:00") & (hhmm < "18:00")).any()  # the daily maintenance break
    assert not (local.dt.day_of_week == 5).any()  # closed on Saturday
    sunday = local.dt.day_of_week == 6
    assert (hhmm[sunday] >= "18:00").all()
    # The week opens Sunday 18:00 New York, whatever the UTC offset that week.
    dst_sunday = local.dt.date == pd.Timestamp(sunday_open_utc).date()
    assert df.ts[dst_sunday].min() == pd.Timestamp(sunday_open_utc, tz="UTC")
    friday = local.dt.day_of_week == 4
    assert hhmm[friday].max() == "16:59"


def test_us_rth_volume_is_u_shaped():
    df = bars("us_rth", days=60)
    minute = df.ts.dt.tz_convert(NY).dt.strftime("%H:%M")
    first = df.volume[minute < "10:00"].mean()
    last = df.volume[minute >= "15:30"].mean()
    midday = df.volume[(minute >= "12:00") & (minute < "13:30")].mean()
    assert first > 1.5 * midday
    assert last > 1.5 * midday


def test_crypto_volume_has_a_daily_cycle_and_quieter_weekends():
    df = bars("crypto_24x7", start=date(2024, 1, 1), days=56)
    hour = df.ts.dt.hour
    assert df.volume[hour.between(13, 17)].mean() > 1.5 * df.volume[hour.between(1, 5)].mean()
    weekend = df.ts.dt.day_of_week >= 5
    assert df.volume[weekend].mean() < 0.85 * df.volume[~weekend].mean()


def test_volatility_clusters():
    df = bars("crypto_24x7", days=20, price=20_000.0)  # a high price: cent rounding adds no noise
    size = np.abs(np.log(df.close / df.open))
    assert size.autocorr(1) > 0.1
    assert size.autocorr(60) > 0.05
    # Shuffled, the same returns have no memory: the test can tell the difference.
    shuffled = pd.Series(np.random.default_rng(0).permutation(size.to_numpy()))
    assert abs(shuffled.autocorr(1)) < 0.03


def test_prices_move_like_their_calendar():
    # Daily log-return spread near the profile (crypto ~60%/year, index ~17%/year), with a wide margin.
    for calendar, annual, days_per_year in (("crypto_24x7", 0.60, 365), ("us_rth", 0.17, 252)):
        df = bars(calendar, days=400, seed=5)
        daily_close = df.groupby(df.ts.dt.date).close.last()
        realised = np.log(daily_close).diff().std() * np.sqrt(days_per_year)
        assert annual / 2 < realised < annual * 2, (calendar, realised)


def test_unknown_calendar_is_a_user_error():
    with pytest.raises(BarstoreError, match="unknown calendar 'lse'"):
        generate_minute_bars("SYN_X", "lse", date(2024, 1, 1), 1, 1, 10.0)


def test_demo_symbols_cycle_the_calendars():
    specs = demo_specs(8)
    assert [s.symbol for s in specs[:3]] == ["SYN_BTC", "SYN_ES", "SYN_SPY"]
    assert [s.calendar for s in specs[:3]] == ["crypto_24x7", "cme_globex", "us_rth"]
    assert specs[6].symbol == "SYN_BTC2" and specs[6].calendar == "crypto_24x7"
    assert len({s.symbol for s in specs}) == 8


def test_write_demo_files(tmp_path):
    files = write_demo_files(tmp_path / "demo", days=3, n_symbols=3)
    assert [(f.symbol, f.calendar, f.timeframe) for f in files] == [
        ("SYN_BTC", "crypto_24x7", "1m"),
        ("SYN_ES", "cme_globex", "1m"),
        ("SYN_SPY", "us_rth", "1m"),
    ]
    # 2024-01-01..03 are Monday..Wednesday; New Year's Day is a holiday for CME and NYSE, not for crypto.
    assert [pq.read_metadata(f.path).num_rows for f in files] == [3 * 1440, 2 * 1380, 2 * 390]
    again = write_demo_files(tmp_path / "again", days=3, n_symbols=3)
    assert pq.read_table(files[1].path).equals(pq.read_table(again[1].path))
