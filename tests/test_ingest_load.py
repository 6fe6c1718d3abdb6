"""Ingest: idempotent writes, conflicts and --replace, raw.ingest_log, one transaction per call, contracts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from barstore.errors import BarstoreError, IngestError

from .ingest_helpers import T0, UTC, ingest


def snapshot(ws):
    bars = ws.execute("SELECT * FROM raw.bars ORDER BY symbol, timeframe, ts").fetchall()
    log = ws.execute("SELECT * FROM raw.ingest_log ORDER BY batch_id, symbol").fetchall()
    return bars, log


def log_rows(ws):
    return ws.execute(
        "SELECT batch_id, symbol, timeframe, rows_read, rows_inserted, rows_replaced, min_ts, max_ts "
        "FROM raw.ingest_log ORDER BY batch_id, symbol"
    ).fetchall()


def test_reingesting_the_same_file_changes_nothing(ws, bar_file, minute_bars):
    path = bar_file("a.parquet", minute_bars(5))
    first = ingest(ws, path, symbol="X")
    bars_before, _ = snapshot(ws)
    again = ingest(ws, path, symbol="X")
    bars_after, _ = snapshot(ws)
    assert bars_after == bars_before  # values and ingested_at alike
    assert (first.total("inserted"), again.total("inserted"), again.total("unchanged")) == (5, 0, 5)
    assert log_rows(ws) == [
        (1, "X", "1m", 5, 5, 0, T0, T0 + timedelta(minutes=4)),
        (2, "X", "1m", 5, 0, 0, None, None),
    ]


def test_overlap_adds_only_new_bars(ws, bar_file, minute_bars):
    ingest(ws, bar_file("a.csv", minute_bars(5)), symbol="X")
    report = ingest(ws, bar_file("b.csv", minute_bars(8)), symbol="X")
    assert (report.total("inserted"), report.total("unchanged")) == (3, 5)
    assert ws.execute("SELECT count(*), count(DISTINCT ts) FROM raw.bars").fetchall() == [(8, 8)]
    assert log_rows(ws)[-1] == (2, "X", "1m", 8, 3, 0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=7))


def test_differing_values_are_refused_then_replaced(ws, bar_file, minute_bars):
    ingest(ws, bar_file("a.csv", minute_bars(5)), symbol="X")
    before = snapshot(ws)
    changed = minute_bars(6)
    changed[1]["close"] = 101.5
    changed[3]["volume"] = 0.0
    path = bar_file("b.csv", changed)
    with pytest.raises(IngestError) as info:
        ingest(ws, path, symbol="X")
    message = str(info.value)
    assert "2 bar(s) already stored with different values" in message
    assert (
        "X 2024-01-02 14:31:00+0000 (row 3): stored o=101 h=103 l=100 c=102 v=11, new o=101 h=103 l=100 c=101.5 v=11"
        in message
    )
    assert "--replace" in message
    assert snapshot(ws) == before

    report = ingest(ws, path, symbol="X", replace=True)
    assert (report.total("inserted"), report.total("replaced"), report.total("unchanged")) == (1, 2, 3)
    assert ws.execute("SELECT close FROM raw.bars WHERE ts = ?", [T0 + timedelta(minutes=1)]).fetchall() == [(101.5,)]
    assert ws.execute("SELECT count(*), count(DISTINCT ts) FROM raw.bars").fetchall() == [(6, 6)]
    # the changed span: replaced 14:31 and 14:33, inserted 14:35
    # batch ids count committed ingests: the refused one took none
    assert log_rows(ws)[-1] == (2, "X", "1m", 6, 1, 2, T0 + timedelta(minutes=1), T0 + timedelta(minutes=5))
    replaced_at = ws.execute("SELECT count(DISTINCT ingested_at) FROM raw.bars").fetchall()[0][0]
    assert replaced_at == 2  # untouched bars keep their first ingested_at


def test_conflict_list_shows_at_most_ten(ws, bar_file, minute_bars):
    ingest(ws, bar_file("a.csv", minute_bars(12)), symbol="X")
    changed = [dict(r, volume=r["volume"] + 1) for r in minute_bars(12)]
    with pytest.raises(IngestError) as info:
        ingest(ws, bar_file("b.csv", changed), symbol="X")
    assert str(info.value).count("stored o=") == 10 and "and 2 more" in str(info.value)


def test_timeframes_are_separate_keys(ws, bar_file, minute_bars):
    rows = minute_bars(2, step_seconds=3600, start=datetime(2024, 1, 2, 14, tzinfo=UTC))
    ingest(ws, bar_file("h.csv", rows), symbol="X", timeframe="1m")
    report = ingest(ws, bar_file("h.csv", rows), symbol="X", timeframe="1h")
    assert report.total("inserted") == 2
    assert ws.execute("SELECT timeframe, count(*) FROM raw.bars GROUP BY 1 ORDER BY 1").fetchall() == [
        ("1h", 2),
        ("1m", 2),
    ]


def test_one_transaction_for_all_files(ws, bar_file, minute_bars):
    good = bar_file("good.csv", minute_bars(3))
    bad_rows = minute_bars(3, start=T0 + timedelta(hours=1))
    bad_rows[1]["high"] = -1
    bad = bar_file("bad.csv", bad_rows)
    with pytest.raises(
        IngestError, match=r"bad.csv: 1 bad row.*\n.*row 3(.|\n)*all 2 file\(s\) of this command was rolled back"
    ):
        ingest(ws, [good, bad], symbol="X")
    assert snapshot(ws) == ([], [])
    assert ws.execute("SELECT count(*) FROM raw.symbols").fetchall() == [(0,)]  # registration rolled back too
    report = ingest(ws, [good, good], symbol="X")  # the same file twice: the second is a no-op
    assert [(c.inserted, c.unchanged) for c in report.counts] == [(3, 0), (0, 3)]
    logged = ws.execute("SELECT DISTINCT batch_id FROM raw.ingest_log").fetchall()
    assert logged == [(report.batch_id,)]


def test_contract_bars_are_stored_under_the_contract(ws, bar_file, minute_bars):
    report = ingest(ws, bar_file("enq.csv", minute_bars(3)), contract="ENQ.H24", root="NQ", calendar="cme_globex")
    assert report.total("inserted") == 3
    assert ws.execute("SELECT DISTINCT symbol FROM raw.bars").fetchall() == [("ENQ.H24",)]
    assert ws.execute("SELECT symbol, calendar, root, expiry FROM raw.symbols ORDER BY symbol").fetchall() == [
        ("ENQ.H24", "cme_globex", "NQ", date(2024, 3, 15)),
        ("NQ", "cme_globex", None, None),
    ]
    # a known contract needs no --calendar
    assert (
        ingest(ws, bar_file("enq2.csv", minute_bars(4)), contract="ENQ.H24", root="NQ", calendar=None).total("inserted")
        == 1
    )


def test_contract_option_errors(ws, bar_file, minute_bars):
    path = bar_file("enq.csv", minute_bars(1))
    with pytest.raises(IngestError, match="new contract ENQ.H24: pass --calendar"):
        ingest(ws, path, contract="ENQ.H24", root="NQ", calendar=None)
    with pytest.raises(IngestError, match="--symbol NQ differs from --contract ENQ.H24"):
        ingest(ws, path, contract="ENQ.H24", root="NQ", symbol="NQ")
    with pytest.raises(BarstoreError, match="cannot read futures contract"):
        ingest(ws, path, contract="NOTACODE", root="NQ")
    assert snapshot(ws) == ([], [])
