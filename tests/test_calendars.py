"""Session calendars: exchange_calendars' holidays and early closes, rule-based 24x5/24x7, user calendars from a
file, and ingest refusing bars in closed sessions."""

from __future__ import annotations

from datetime import date

import exchange_calendars
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from barstore.calendar_files import add_calendar, list_calendars
from barstore.calendars import builtin_sessions
from barstore.errors import IngestError
from barstore.warehouse import connect

from .data_paths import DATA, need_data
from .ingest_helpers import ingest
from .process_helpers import run_cli

NY = "America/New_York"


def _sessions(name: str, first: date, last: date) -> pd.DataFrame:
    frame = builtin_sessions(name, first, last).to_pandas()
    frame["start"] = frame.session_start.dt.tz_convert(NY).dt.strftime("%Y-%m-%d %H:%M")
    frame["end"] = frame.session_end.dt.tz_convert(NY).dt.strftime("%Y-%m-%d %H:%M")
    return frame.set_index("trading_day")


def test_us_rth_has_nyse_holidays_and_early_closes():
    s = _sessions("us_rth", date(2019, 1, 1), date(2019, 12, 31))
    assert len(s) == 252
    assert s.loc[date(2019, 11, 29), "end"] == "2019-11-29 13:00"  # the day after Thanksgiving
    assert s.loc[date(2019, 7, 3), "end"] == "2019-07-03 13:00"
    for closed in (date(2019, 7, 4), date(2019, 4, 19), date(2019, 11, 28), date(2019, 12, 25)):
        assert closed not in s.index
    assert s.loc[date(2019, 11, 27), ["start", "end"]].tolist() == ["2019-11-27 09:30", "2019-11-27 16:00"]


def test_cme_globex_opens_the_evening_before_and_halts_at_17():
    s = _sessions("cme_globex", date(2023, 11, 20), date(2023, 11, 27))
    assert s.loc[date(2023, 11, 20), ["start", "end"]].tolist() == ["2023-11-19 18:00", "2023-11-20 17:00"]
    assert s.loc[date(2023, 11, 23), "end"] == "2023-11-23 13:00"  # Thanksgiving: CME's early halt
    assert s.loc[date(2023, 11, 27), "start"] == "2023-11-26 18:00"  # Monday opens Sunday evening
    assert date(2023, 11, 25) not in s.index and date(2023, 11, 26) not in s.index
    rth = _sessions("cme_rth", date(2020, 1, 17), date(2020, 1, 21))
    assert rth.loc[date(2020, 1, 20), ["start", "end"]].tolist() == ["2020-01-20 09:30", "2020-01-20 13:00"]


@pytest.mark.parametrize(("name", "code"), [("crypto_24x7", "24/7"), ("fx_24x5", "24/5")])
def test_rule_calendars_have_the_trading_days_of_exchange_calendars(name, code):
    ours = builtin_sessions(name, date(2020, 1, 1), date(2021, 12, 31)).to_pandas()
    theirs = exchange_calendars.get_calendar(code, start="2020-01-01", end="2021-12-31").sessions
    assert [d.isoformat() for d in ours.trading_day] == [d.date().isoformat() for d in theirs]
    length = (ours.session_end - ours.session_start).dt.total_seconds()
    assert (length == 86_400).all()  # every session is a whole day (FX: 17:00 to 17:00 New York)
    if name == "fx_24x5":
        start = ours.session_start.dt.tz_convert(NY)
        assert (start.dt.strftime("%H:%M") == "17:00").all()
        assert (start.dt.date == ours.trading_day - pd.Timedelta(days=1)).all()


def _minutes(path, local_times: list[str]):
    ts = pd.to_datetime(local_times).tz_localize(NY).tz_convert("UTC")
    frame = pd.DataFrame({"ts": ts, "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 1.0})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def test_bars_in_a_closed_session_are_refused_with_file_and_row(tmp_path):
    con = connect(tmp_path / "warehouse.ducklake")
    file = _minutes(tmp_path / "m.parquet", ["2019-07-03 12:59", "2019-07-03 13:00", "2019-07-04 10:00"])
    with pytest.raises(IngestError) as err:
        ingest(con, file, symbol="SPY", timeframe="1m", calendar="us_rth")
    message = str(err.value)
    assert f"{file}: 2 bad row(s)" in message
    assert (
        "row 2: bar at 2019-07-03 17:00 UTC is outside the sessions of calendar us_rth "
        "(the session of 2019-07-03 ended at 2019-07-03 17:00 UTC)" in message
    )
    assert "row 3: bar at 2019-07-04 14:00 UTC is outside the sessions of calendar us_rth" in message
    assert con.execute("SELECT count(*) FROM raw.bars").fetchone()[0] == 0
    report = ingest(con, file, symbol="SPY", timeframe="1m", calendar="us_rth", outside_session="keep")
    assert sum(c.inserted for c in report.counts) == 3
    assert any("2 bar(s) outside the calendar's sessions kept" in n for n in report.notes)


def test_daily_bar_on_a_holiday_is_refused(tmp_path):
    con = connect(tmp_path / "warehouse.ducklake")
    file = tmp_path / "d.csv"
    file.write_text("date,open,high,low,close,volume\n2019-07-03,1,2,1,2,5\n2019-07-04,1,2,1,2,5\n")
    with pytest.raises(IngestError, match=r"row 3: 2019-07-04 is not a trading day of calendar us_rth"):
        ingest(con, file, symbol="SPY", timeframe="1d", calendar="us_rth")
    file.write_text("date,open,high,low,close,volume\n2019-07-03,1,2,1,2,5\n")
    ingest(con, file, symbol="SPY", timeframe="1d", calendar="us_rth")
    start = con.execute("SELECT timezone('America/New_York', ts) FROM raw.bars").fetchone()[0]
    assert str(start) == "2019-07-03 09:30:00"


def test_lean_spy_daily_bars_follow_nyse_sessions(tmp_path):
    need_data("lean_us_equity_daily_1998-2021.parquet")
    con = connect(tmp_path / "warehouse.ducklake")
    ingest(con, DATA / "lean_us_equity_daily_1998-2021.parquet", timeframe="1d", tz=NY, calendar="us_rth")
    from barstore.transform.runner import build_models

    from .data_paths import PROJECT_DIR

    build_models(con, PROJECT_DIR / "sql", select="+bars_1d")
    closes = dict(
        con.execute(
            "SELECT CAST(timezone('America/New_York', ts) AS DATE), strftime(timezone('America/New_York', ts_close), "
            "'%H:%M') FROM bars_1d WHERE symbol = 'SPY' AND ts_close BETWEEN '2019-04-15' AND '2019-12-31'"
        ).fetchall()
    )
    assert closes[date(2019, 11, 29)] == "13:00" and closes[date(2019, 11, 27)] == "16:00"
    assert date(2019, 7, 4) not in closes and date(2019, 4, 19) not in closes
    # the sessions written cover the bars' years and one more on each side
    first, last = con.execute("SELECT first_day, last_day FROM raw.calendars WHERE name = 'us_rth'").fetchone()
    assert (first, last) == (date(1996, 1, 1), date(2022, 12, 31))  # 1998-01-02 less 2 days is in 1997


def test_sessions_grow_when_bars_reach_past_them(tmp_path):
    con = connect(tmp_path / "warehouse.ducklake")
    assert con.execute("SELECT count(*) FROM raw.sessions").fetchone()[0] == 0  # nothing until bars need it
    ingest(con, _minutes(tmp_path / "a.parquet", ["2019-07-03 10:00"]), symbol="SPY", timeframe="1m", calendar="us_rth")
    span = (
        "SELECT first_day, last_day, (SELECT count(*) FROM raw.sessions WHERE calendar = name) "
        "FROM raw.calendars WHERE name = 'us_rth'"
    )
    assert con.execute(span).fetchone() == (date(2018, 1, 1), date(2020, 12, 31), _nyse_days(2018, 2020))
    ingest(con, _minutes(tmp_path / "b.parquet", ["2023-07-03 10:00"]), symbol="SPY", timeframe="1m", calendar="us_rth")
    assert con.execute(span).fetchone() == (date(2018, 1, 1), date(2024, 12, 31), _nyse_days(2018, 2024))


def _nyse_days(first_year: int, last_year: int) -> int:
    return len(exchange_calendars.get_calendar("XNYS", start=f"{first_year}-01-01", end=f"{last_year}-12-31").sessions)


SESSIONS_CSV = """trading_day,session_start,session_end
2024-03-04,2024-03-04 08:00,2024-03-04 16:30
2024-03-05,2024-03-05 08:00,2024-03-05 16:30
2024-03-07,2024-03-07T08:00:00+00:00,2024-03-07 12:30
"""


def test_a_user_calendar_from_a_file_of_sessions(tmp_path):
    con = connect(tmp_path / "warehouse.ducklake")
    file = tmp_path / "lse.csv"
    file.write_text(SESSIONS_CSV)
    assert add_calendar(con, "lse_rth", file, "Europe/London", "LSE regular hours", replace=False) == 3
    rows = {r[0]: r for r in list_calendars(con)}
    assert rows["lse_rth"][1:6] == ("Europe/London", f"file {file.resolve()}", date(2024, 3, 4), date(2024, 3, 7), 3)
    with pytest.raises(IngestError, match="calendar lse_rth exists; pass --replace"):
        add_calendar(con, "lse_rth", file, "Europe/London", None, replace=False)
    with pytest.raises(IngestError, match="us_rth is a built-in calendar"):
        add_calendar(con, "us_rth", file, "Europe/London", None, replace=False)
    bars = tmp_path / "v.csv"
    bars.write_text(
        "ts,open,high,low,close,volume\n2024-03-05T16:29:00Z,1,2,1,2,5\n2024-03-06T10:00:00Z,1,2,1,2,5\n"
        "2024-03-07T12:30:00Z,1,2,1,2,5\n"
    )
    with pytest.raises(IngestError) as err:
        ingest(con, bars, symbol="VOD", timeframe="1m", calendar="lse_rth")
    assert "row 3: bar at 2024-03-06 10:00 UTC is outside the sessions of calendar lse_rth" in str(err.value)
    assert "row 4: bar at 2024-03-07 12:30 UTC is outside" in str(err.value)  # the half day's end


def test_a_bad_calendar_file_names_row_and_reason_and_writes_nothing(tmp_path):
    con = connect(tmp_path / "warehouse.ducklake")
    file = tmp_path / "bad.csv"
    file.write_text(
        "trading_day,session_start,session_end\n2024-03-04,2024-03-04 08:00,2024-03-04 07:00\n"
        "2024-03-05,soon,2024-03-05 16:30\n2024-03-06,2024-03-06 08:00,2024-03-06 16:30\n"
        "2024-03-06,2024-03-06 09:00,2024-03-06 16:00\n"
    )
    with pytest.raises(IngestError) as err:
        add_calendar(con, "mine", file, "Europe/London", None, replace=False)
    message = str(err.value)
    assert "4 bad row(s)" in message
    assert "row 2: the session ends before it starts" in message
    assert "row 3: session_start 'soon' is not a time" in message
    assert "row 4: trading_day 2024-03-06 is listed 2 times" in message
    assert "row 5: trading_day 2024-03-06 is listed 2 times; the session starts before the previous one ends" in message
    assert "mine" not in {r[0] for r in list_calendars(con)}
    file.write_text("day,start,end\n")
    with pytest.raises(IngestError, match="missing column.*a calendar file has the columns"):
        add_calendar(con, "mine", file, "Europe/London", None, replace=False)


def test_calendar_commands(tmp_path):
    home = tmp_path / "home"
    file = tmp_path / "lse.csv"
    file.write_text(SESSIONS_CSV)
    added = run_cli(home, "calendar", "add", "lse_rth", str(file), "--tz", "Europe/London")
    assert added.returncode == 0, added.stderr
    assert "calendar lse_rth: 3 sessions" in added.stdout
    listed = run_cli(home, "calendar", "list", COLUMNS="300")
    assert listed.returncode == 0, listed.stderr
    assert "lse_rth" in listed.stdout and "XNYS" in listed.stdout and "written by the first" in listed.stdout
    again = run_cli(home, "calendar", "add", "lse_rth", str(file), "--tz", "Europe/London")
    assert again.returncode == 2 and "pass --replace" in again.stderr
