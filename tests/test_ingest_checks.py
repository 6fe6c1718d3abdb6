"""Ingest: bad input is refused with the file, row and reason (or quarantined), and nothing is written."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

from barstore.errors import IngestError

from .ingest_helpers import T0, UTC, ingest


def bar_count(ws) -> int:
    return ws.execute("SELECT count(*) FROM raw.bars").fetchall()[0][0]


def refused(ws, paths, match, **opts) -> str:
    with pytest.raises(IngestError, match=match) as info:
        ingest(ws, paths, **opts)
    assert bar_count(ws) == 0
    assert ws.execute("SELECT count(*) FROM raw.ingest_log").fetchall()[0][0] == 0
    return str(info.value)


# (changes to bar index 2, expected reason); in CSV that bar is spreadsheet row 4 (header = row 1).
ROW_RULES = [
    ({"ts": "yesterday"}, "timestamp 'yesterday' cannot be parsed"),
    ({"ts": None}, "timestamp is missing"),
    ({"open": "abc"}, "open 'abc' is not a number"),
    ({"close": None}, "close is missing"),
    ({"high": "nan", "open": 1.0}, "high is nan"),
    ({"low": "inf"}, "low is inf"),
    ({"open": 0, "low": 0}, "open 0.0 is not positive; low 0.0 is not positive"),
    ({"low": -1.0}, "low -1.0 is not positive"),
    ({"volume": -5}, "volume -5.0 is negative"),
    ({"volume": "nan"}, "volume is nan"),
    ({"volume": "lots"}, "volume 'lots' is not a number"),
    ({"high": 101.5}, r"high 101.5 is below max\(open, close\) = 103.0"),
    ({"low": 102.5}, r"low 102.5 is above min\(open, close\) = 102.0"),
    ({"ts": "2024-01-02 14:32:30+00:00"}, "timestamp '2024-01-02 14:32:30[+]00:00' is not on the 1m grid"),
]


@pytest.mark.parametrize("change,reason", ROW_RULES, ids=[str(change) for change, _ in ROW_RULES])
def test_bad_row_is_refused_with_file_row_and_reason(ws, bar_file, minute_bars, change, reason):
    rows = minute_bars(4)
    rows[2].update(change)
    path = bar_file("bad.csv", rows)
    message = refused(ws, path, reason, symbol="X")
    assert str(path) in message
    assert re.search(f"row 4: {reason}", message)
    assert "1 bad row(s) out of 4" in message
    assert "Nothing was written" in message


def test_parquet_rows_count_from_one(ws, bar_file, minute_bars):
    rows = minute_bars(3)
    rows[0]["volume"] = -1.0
    message = refused(ws, bar_file("bad.parquet", rows), "row 1: volume -1.0 is negative", symbol="X")
    assert "first record" in message


def test_first_five_bad_rows_and_the_total(ws, bar_file, minute_bars):
    rows = minute_bars(10)
    for r in rows[1:8]:
        r["volume"] = -1
    message = refused(ws, bar_file("many.csv", rows), "7 bad row", symbol="X")
    assert [f"row {n}:" in message for n in range(3, 10)] == [True] * 5 + [False] * 2
    assert "and 2 more" in message


def test_duplicate_timestamps_with_different_values(ws, bar_file, minute_bars):
    rows = minute_bars(3)
    rows.append(dict(rows[1], close=rows[1]["close"] + 0.5))
    refused(
        ws, bar_file("dups.csv", rows), r"row 3: timestamp repeated with different values \(rows 3, 5\)", symbol="X"
    )


def test_identical_duplicates_are_loaded_once(ws, bar_file, minute_bars):
    rows = minute_bars(3)
    rows += [rows[1], rows[1]]
    report = ingest(ws, bar_file("dups.csv", rows), symbol="X")
    assert (report.total("read"), report.total("inserted"), report.total("duplicates")) == (5, 3, 2)
    assert "2 repeated identical row(s) loaded once" in report.notes[0]
    assert ws.execute("SELECT count(*), count(DISTINCT ts) FROM raw.bars").fetchall() == [(3, 3)]


@pytest.mark.parametrize(
    "timeframe,ts,ok",
    [
        ("5m", "2024-01-02 14:35:00Z", True),
        ("5m", "2024-01-02 14:36:00Z", False),
        ("15m", "2024-01-02 14:45:00Z", True),
        ("15m", "2024-01-02 14:50:00Z", False),
        ("1h", "2024-01-02 14:00:00Z", True),
        ("1h", "2024-01-02 14:30:00Z", False),
        ("4h", "2024-01-02 13:00:00Z", True),  # any whole hour: 4h bars follow the session
        ("4h", "2024-01-02 13:30:00Z", False),
    ],
)
def test_timeframe_grid(ws, bar_file, timeframe, ts, ok):
    rows = [{"ts": ts, "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 1}]
    path = bar_file("grid.csv", rows)
    if ok:
        assert ingest(ws, path, symbol="G", timeframe=timeframe).total("inserted") == 1
    else:
        refused(ws, path, f"not on the {timeframe} grid", symbol="G", timeframe=timeframe)


@pytest.mark.parametrize(
    "calendar,tz,ts,start",
    [
        ("us_rth", "America/New_York", "2024-07-02", datetime(2024, 7, 2, 13, 30, tzinfo=UTC)),
        ("us_rth", "America/New_York", "2024-07-02 09:30:00", datetime(2024, 7, 2, 13, 30, tzinfo=UTC)),
        ("us_rth", None, "2024-01-02T00:00:00Z", T0),  # a UTC date label
        # Globex: the day's session opens 18:00 New York the evening before.
        ("cme_globex", "America/New_York", "2024-01-02 00:00:00", datetime(2024, 1, 1, 23, 0, tzinfo=UTC)),
        ("cme_globex", "America/New_York", "2024-01-01 18:00:00", datetime(2024, 1, 1, 23, 0, tzinfo=UTC)),
        ("crypto_24x7", None, "2024-01-02 00:00:00+00:00", datetime(2024, 1, 2, tzinfo=UTC)),
    ],
)
def test_daily_bars_start_at_the_session_open(ws, bar_file, calendar, tz, ts, start):
    rows = [{"date": ts, "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 1}]
    ingest(ws, bar_file("d.csv", rows), symbol="D", timeframe="1d", calendar=calendar, tz=tz)
    assert ws.execute("SELECT ts FROM raw.bars").fetchall() == [(start,)]


def test_daily_bar_at_another_time_is_off_grid(ws, bar_file):
    rows = [{"date": "2024-07-02 12:00:00", "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 1}]
    refused(
        ws,
        bar_file("d.csv", rows),
        "row 2: timestamp 2024-07-02 12:00:00 is not on the 1d grid",
        symbol="D",
        timeframe="1d",
        calendar="us_rth",
        tz="America/New_York",
    )


# ---- file-level errors -------------------------------------------------------------------------


def test_missing_required_column(ws, bar_file, minute_bars):
    rows = [{k: v for k, v in r.items() if k != "low"} for r in minute_bars(2)]
    path = bar_file("nolow.csv", rows)
    message = refused(ws, path, "missing required column 'low'", symbol="X")
    assert str(path) in message and "low, l" in message


def test_naive_timestamps_need_tz(ws, bar_file, minute_bars):
    rows = minute_bars(2, ts=lambda d: d.strftime("%Y-%m-%d %H:%M:%S"))
    refused(ws, bar_file("naive.csv", rows), "row 2: timestamp '2024-01-02 14:30:00' .* no time zone.*--tz", symbol="X")


def test_naive_parquet_timestamps_need_tz(ws, bar_file, minute_bars):
    rows = minute_bars(2, ts=lambda d: d.replace(tzinfo=None))
    refused(ws, bar_file("naive.parquet", rows), "row 1: .* no time zone", symbol="X")


@pytest.mark.parametrize(
    "name,content",
    [
        ("empty.csv", ""),
        ("header_only.csv", "ts,open,high,low,close,volume\n"),
        ("empty.json", "[]"),
        ("empty.jsonl", "\n"),
        ("blank.parquet", ""),
    ],
)
def test_empty_files(ws, tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    refused(ws, path, "empty file", symbol="X")


def test_empty_parquet_table(ws, bar_file, minute_bars, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(minute_bars(1)).slice(0, 0)
    pq.write_table(table, tmp_path / "none.parquet")
    refused(ws, tmp_path / "none.parquet", "empty file", symbol="X")


def test_csv_text_named_parquet(ws, bar_file, minute_bars, tmp_path):
    bar_file("real.csv", minute_bars(2)).rename(tmp_path / "fake.parquet")
    refused(ws, tmp_path / "fake.parquet", r"fake.parquet: not a Parquet file \(it holds text", symbol="X")


def test_binary_named_csv_or_json(ws, bar_file, minute_bars, tmp_path):
    binary = bar_file("real.parquet", minute_bars(2)).read_bytes()
    (tmp_path / "fake.csv").write_bytes(binary)
    (tmp_path / "fake.json").write_bytes(binary)
    refused(ws, tmp_path / "fake.csv", r"fake.csv: not a CSV file \(it holds binary data", symbol="X")
    refused(ws, tmp_path / "fake.json", r"fake.json: not a JSON file", symbol="X")


def test_text_that_is_not_json(ws, bar_file, minute_bars, tmp_path):
    path = tmp_path / "fake.json"
    path.write_text("ts,open\n1,2\n")
    refused(ws, path, "fake.json: cannot read as JSON", symbol="X")


def test_unknown_extension(ws, tmp_path):
    (tmp_path / "bars.xlsx").write_text("x")
    refused(ws, tmp_path / "bars.xlsx", "unknown file type '.xlsx'", symbol="X")


@pytest.mark.parametrize(
    "opts,match",
    [
        ({"timeframe": "2m"}, "unknown timeframe '2m'; use one of 1m, 5m"),
        ({"calendar": "moon"}, "unknown calendar 'moon'; use one of cme_globex, cme_rth, crypto_24x7, fx_24x5, us_rth"),
        ({"tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"contract": "ENQ.H24"}, "--contract and --root go together"),
    ],
)
def test_unknown_options(ws, bar_file, minute_bars, opts, match):
    refused(ws, bar_file("ok.csv", minute_bars(1)), match, symbol="X", **opts)


def test_new_symbol_needs_calendar_and_known_symbol_keeps_it(ws, bar_file, minute_bars):
    path = bar_file("ok.csv", minute_bars(2))
    refused(
        ws,
        path,
        r"new symbol\(s\) X: pass --calendar .*one of cme_globex, cme_rth, crypto_24x7, fx_24x5, us_rth",
        symbol="X",
        calendar=None,
    )
    ingest(ws, path, symbol="X", calendar="us_rth")
    ingest(ws, bar_file("more.csv", minute_bars(3)), symbol="X", calendar=None)
    assert ws.execute("SELECT symbol, calendar FROM raw.symbols").fetchall() == [("X", "us_rth")]
    ingest(ws, path, symbol="X", calendar="crypto_24x7")  # --calendar updates it
    assert ws.execute("SELECT calendar FROM raw.symbols").fetchall() == [("crypto_24x7",)]


# ---- quarantine --------------------------------------------------------------------------------


def test_quarantine_loads_good_rows_and_keeps_bad_ones(ws, bar_file, minute_bars):
    rows = minute_bars(5)
    rows[1]["open"] = "abc"
    rows[3]["volume"] = -2
    path = bar_file("q.csv", rows)
    report = ingest(ws, path, symbol="Q", on_bad_rows="quarantine")
    assert (report.total("read"), report.total("inserted"), report.total("rejected")) == (5, 3, 2)
    assert bar_count(ws) == 3
    rejected = ws.execute(
        "SELECT source, row_number, reason, record, symbol, timeframe FROM raw.rejected_bars ORDER BY row_number"
    ).fetchall()
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in rejected] == [
        (str(path), 3, "open 'abc' is not a number", "Q", "1m"),
        (str(path), 5, "volume -2.0 is negative", "Q", "1m"),
    ]
    assert json.loads(rejected[0][3]) == {
        "ts": "2024-01-02 14:31:00+00:00",
        "open": "abc",
        "high": "103.0",
        "low": "100.0",
        "close": "102.0",
        "volume": "11.0",
    }
    log = ws.execute("SELECT rows_read, rows_inserted, min_ts, max_ts FROM raw.ingest_log").fetchall()
    assert log == [(5, 3, T0, T0 + timedelta(minutes=4))]


def test_quarantine_takes_differing_duplicates(ws, bar_file, minute_bars):
    rows = minute_bars(2)
    rows.append(dict(rows[0], volume=99.0))
    report = ingest(ws, bar_file("q.parquet", rows), symbol="Q", on_bad_rows="quarantine")
    assert (report.total("inserted"), report.total("rejected")) == (1, 2)
    assert ws.execute("SELECT row_number FROM raw.rejected_bars ORDER BY 1").fetchall() == [(1,), (3,)]


def test_quarantine_still_fails_file_level_errors(ws, bar_file, minute_bars):
    rows = [{k: v for k, v in r.items() if k != "volume"} for r in minute_bars(2)]
    refused(ws, bar_file("novol.csv", rows), "missing required column 'volume'", symbol="X", on_bad_rows="quarantine")
    assert ws.execute("SELECT count(*) FROM raw.rejected_bars").fetchall() == [(0,)]
