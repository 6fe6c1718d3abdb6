"""Ingest: file formats, column names, symbols and timestamp interpretation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from barstore.errors import IngestError
from barstore.ingest import IngestOptions, ingest_files

UTC = UTC
T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def ingest(ws, path, **opts):
    opts.setdefault("calendar", "crypto_24x7")
    return ingest_files(ws, [path], IngestOptions(**opts), progress=False)


def stored(ws, symbol=None):
    where = "WHERE symbol = ?" if symbol else ""
    return ws.execute(
        f"SELECT symbol, timeframe, ts, open, high, low, close, volume FROM raw.bars {where} ORDER BY symbol, ts",
        [symbol] if symbol else [],
    ).fetchall()


@pytest.mark.parametrize("name", ["bars.csv", "bars.parquet", "bars.pq", "bars.json", "bars.jsonl", "bars.ndjson"])
def test_each_format_loads_the_same_bars(ws, bar_file, minute_bars, name):
    path = bar_file(name, minute_bars(3))
    report = ingest(ws, path, symbol="X")
    assert (report.total("read"), report.total("inserted")) == (3, 3)
    assert stored(ws) == [
        ("X", "1m", T0 + timedelta(minutes=i), 100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i, 10.0 + i) for i in range(3)
    ]


def broker_rows(t_values):
    return [{"t": t, "o": 1.0, "h": 2.0, "l": 0.5, "c": 1.5, "v": 7} for t in t_values]


@pytest.mark.parametrize(
    "t_values",
    [
        ["2024-01-02T14:30:00Z", "2024-01-02T14:31:00Z"],  # ISO strings
        [1704205800, 1704205860],  # epoch seconds
        [1704205800000, 1704205860000],  # epoch milliseconds
        ["2024-01-02T16:30:00+02:00", "2024-01-02T09:31:00-05:00"],  # offsets honoured
    ],
    ids=["iso", "epoch_s", "epoch_ms", "offsets"],
)
def test_broker_json_export(ws, bar_file, t_values):
    ingest(ws, bar_file("broker.json", broker_rows(t_values)), symbol="B")
    assert [r[2] for r in stored(ws)] == [T0, T0 + timedelta(minutes=1)]
    assert stored(ws)[0][3:] == (1.0, 2.0, 0.5, 1.5, 7.0)


def test_offset_strings_in_csv_are_not_dropped(ws, bar_file):
    # '...+02:00'::TIMESTAMP would silently give 16:30 UTC; the bar starts at 14:30 UTC.
    rows = broker_rows(["2024-01-02 16:30:00+02:00"])
    ingest(ws, bar_file("offset.csv", rows), symbol="B")
    assert stored(ws)[0][2] == T0


def test_columns_match_case_insensitively_and_extras_are_ignored(ws, bar_file):
    rows = [
        {
            "Symbol": "AA",
            "TimeStamp": "2024-01-02 14:30:00Z",
            "OPEN": 1.0,
            "High": 2.0,
            "LOW": 0.5,
            "Close": 1.5,
            "VOL": 3,
            "split_factor": 0.5,
            "note": "x",
        }
    ]
    ingest(ws, bar_file("mixed.csv", rows))
    assert stored(ws) == [("AA", "1m", T0, 1.0, 2.0, 0.5, 1.5, 3.0)]


def test_two_columns_for_one_role_are_refused(ws, bar_file, minute_bars):
    rows = [dict(r, o=r["open"]) for r in minute_bars(1)]
    with pytest.raises(IngestError, match=r"'open', 'o'.*open column"):
        ingest(ws, bar_file("twice.csv", rows), symbol="X")


def test_symbol_column_holds_many_symbols(ws, bar_file, minute_bars):
    rows = [dict(r, symbol=s) for s in ("AAA", "BBB") for r in minute_bars(2)]
    report = ingest(ws, bar_file("multi.parquet", rows))
    assert {c.symbol: c.inserted for c in report.counts} == {"AAA": 2, "BBB": 2}
    assert ws.execute("SELECT symbol, calendar FROM raw.symbols ORDER BY 1").fetchall() == [
        ("AAA", "crypto_24x7"),
        ("BBB", "crypto_24x7"),
    ]
    # --symbol naming the file's only symbol is accepted
    report = ingest(ws, bar_file("one.parquet", [dict(r, symbol="AAA") for r in minute_bars(2)]), symbol="AAA")
    assert report.total("unchanged") == 2


def test_symbol_option_must_match_the_symbol_column(ws, bar_file, minute_bars):
    rows = [dict(r, symbol=s) for s in ("AAA", "BBB") for r in minute_bars(1)]
    with pytest.raises(IngestError, match="BBB, which does not match --symbol/--contract AAA"):
        ingest(ws, bar_file("multi.csv", rows), symbol="AAA")
    assert stored(ws) == []


def test_file_without_symbol_needs_symbol_option(ws, bar_file, minute_bars):
    with pytest.raises(IngestError, match="no symbol column; pass --symbol"):
        ingest(ws, bar_file("nosym.csv", minute_bars(1)))


def test_nanosecond_parquet_becomes_microseconds(ws, tmp_path):
    ns = pa.array([1704205800_000000000, 1704205860_000000000], pa.timestamp("ns", tz="UTC"))
    table = pa.table(
        {
            "symbol": ["N", "N"],
            "ts_utc": ns,
            "open": [1.0, 1.0],
            "high": [2.0, 2.0],
            "low": [0.5, 0.5],
            "close": [1.5, 1.5],
            "volume": [1.0, 1.0],
        }
    )
    pq.write_table(table, tmp_path / "ns.parquet")
    ingest(ws, tmp_path / "ns.parquet")
    assert ws.execute("SELECT DISTINCT typeof(ts) FROM raw.bars").fetchall() == [("TIMESTAMP WITH TIME ZONE",)]
    assert [r[2] for r in stored(ws)] == [T0, T0 + timedelta(minutes=1)]


def test_naive_times_use_tz_with_daylight_saving(ws, bar_file):
    # 09:30 New York is 14:30 UTC in winter (EST) and 13:30 UTC in summer (EDT).
    rows = broker_rows(["2024-01-02 09:30:00", "2024-07-02 09:30:00"])
    ingest(ws, bar_file("naive.csv", rows), symbol="N", tz="America/New_York")
    assert [r[2] for r in stored(ws)] == [T0, datetime(2024, 7, 2, 13, 30, tzinfo=UTC)]


def test_naive_parquet_timestamps_use_tz(ws, tmp_path):
    table = pa.table(
        {
            "ts_et": pa.array([datetime(2024, 7, 2, 9, 30)], pa.timestamp("us")),
            "open": [1.0],
            "high": [2.0],
            "low": [0.5],
            "close": [1.5],
            "volume": [1],
        }
    )
    pq.write_table(table, tmp_path / "naive.parquet")
    ingest(ws, tmp_path / "naive.parquet", symbol="N", tz="America/New_York")
    assert stored(ws)[0][2] == datetime(2024, 7, 2, 13, 30, tzinfo=UTC)


def test_naive_ts_utc_column_is_utc(ws, bar_file):
    rows = [{"ts_utc": "2024-01-02 14:30:00", "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 1}]
    ingest(ws, bar_file("utc.csv", rows), symbol="U")
    assert stored(ws)[0][2] == T0


def test_label_end_shifts_back_one_timeframe(ws, bar_file, minute_bars):
    ingest(ws, bar_file("end.csv", minute_bars(2, step_seconds=300)), symbol="E", timeframe="5m", label="end")
    assert [r[2] for r in stored(ws)] == [T0 - timedelta(minutes=5), T0]


def test_yyyymmdd_dates_for_daily_bars(ws, bar_file):
    rows = [{"date": "20240102", "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 1}]
    ingest(ws, bar_file("daily.csv", rows), symbol="D", timeframe="1d", calendar="us_rth", tz="America/New_York")
    assert stored(ws)[0][2] == T0  # 09:30 New York, the session open


def test_report_prints_a_table(ws, bar_file, minute_bars, capsys):
    from rich.console import Console

    report = ingest(ws, bar_file("p.csv", minute_bars(2)), symbol="P")
    report.print(Console(width=200, force_terminal=False))
    out = capsys.readouterr().out
    assert "P" in out and "inserted" in out and "2 rows in" in out
    assert report.batch_id == 1 and report.elapsed > 0


def test_json_mixing_strings_and_numbers(ws, bar_file):
    rows = broker_rows(["2024-01-02T14:30:00Z", 1704205860])
    rows[1]["o"] = "1.0"  # a quoted number is still a number
    ingest(ws, bar_file("mixed.json", rows), symbol="M")
    assert [r[2:4] for r in stored(ws)] == [(T0, 1.0), (T0 + timedelta(minutes=1), 1.0)]


def test_json_rows_count_from_one(ws, bar_file):
    rows = broker_rows(["2024-01-02T14:30:00Z", "2024-01-02T14:31:00Z"])
    rows[1]["o"] = "abc"
    with pytest.raises(IngestError, match="row 2: open 'abc' is not a number"):
        ingest(ws, bar_file("bad.json", rows), symbol="M")
