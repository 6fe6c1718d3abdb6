"""The validation gate (expectations/) on the small real workspace: it passes there, and fails, naming the rows,
for each kind of fault: too few samples, a misaligned join (a matched row after the step; a stale row a longer
Feast ttl lets through), splits without embargo or overlapping, NaNs in a kept window, unbalanced labels, bad
raw bars; `barstore validate` exits non-zero with the table and the Data Docs page.

Real DuckDB, Feast registry and GX suites throughout. Faults the pipeline itself cannot produce (a lookahead, a
NaN inside a kept window, splits cut by hand) are made by editing a copy of the built dataset or splits; the stale
row goes through Feast, and the bad bars through the warehouse (in a transaction rolled back).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from barstore.cli.validation import register
from barstore.errors import BarstoreError
from barstore.feature_store import apply, open_store
from barstore.home import Workspace, resolve_home
from barstore.lake import copy_lake, snapshot_id
from barstore.specs import MODELS
from barstore.splits import Splits, project_shares, walk_forward
from barstore.warehouse import connect
from barstore.windows.selection import Selection, select_dataset, selected_data
from expectations import frames, verdicts
from expectations.gate import ValidationFailed, ValidationSettings, validate_dataset, validate_model
from expectations.suites import SUITES

from .data_paths import PROJECT_DIR
from .feast_helpers import feast_workspace

MODEL = "seq500_hourly"
SPEC = MODELS[MODEL]
ALL_SUITES = {
    name: json.loads((PROJECT_DIR / "expectations" / "suites" / f"{name}.json").read_text()) for name in SUITES
}


@pytest.fixture(scope="module")
def fs(tmp_path_factory):
    return feast_workspace(tmp_path_factory.mktemp("gate"))


def validated(fs, selection):
    """The gate as training runs it, on the selection's data built once: (report, dataset, splits)."""
    ws, con, store = fs
    with selected_data(ws, SPEC, selection, store=store, con=con) as data:
        return validate_model(ws, SPEC, data), data.dataset, data.splits


@pytest.fixture(scope="module")
def passed(fs):
    """The gate on the whole small workspace, as training runs it: (report, dataset, splits)."""
    return validated(fs, Selection())


def gate(fs, ds, splits, selection=None, settings=None):
    ws, con, _ = fs
    return validate_dataset(ws, SPEC, ds, splits, con, selection, settings)


def failures(report) -> dict[tuple[str, str], object]:
    return {(o.suite, o.name): o for o in report.failed}


def with_aligned(ds, **changes):
    """A copy of the dataset whose aligned matrix has these fields replaced; the original is left as it is."""
    out = copy.copy(ds)
    out.aligned = dataclasses.replace(ds.aligned, **changes)
    return out


def covered_rows(ds) -> np.ndarray:
    """Rows inside a kept window, by brute force (frames.in_windows does it in O(rows))."""
    ends = ds.ends.numpy()
    return np.unique(np.concatenate([np.arange(e - ds.steps + 1, e + 1) for e in ends]))


def test_gate_passes_on_the_real_workspace(fs, passed):
    ws, con, _ = fs
    report, ds, splits = passed
    assert report.success, report.summary()
    assert len(report.outcomes) == sum(len(s["expectations"]) for s in ALL_SUITES.values())
    assert {o.suite for o in report.outcomes} == set(SUITES)
    assert report.counts["samples"] == len(ds) > 10_000
    assert sum(report.counts[k] for k in ("train", "validation", "test", "purged")) == len(ds)
    assert report.counts["steps_checked"] == len(covered_rows(ds))
    assert report.counts["raw_bars"] == con.execute("SELECT count(*) FROM raw.bars").fetchone()[0]
    assert (
        report.outcome("training_set", "samples >= the model's min_samples").observed
        == f"observed {len(ds)}, expected >= 1000"
    )
    # Data Docs of this run, one page per suite's result
    assert report.docs_path == ws.reports_dir / "validation" / MODEL / "index.html" and report.docs_path.is_file()
    pages = sorted(p.parent.parent.parent.name for p in report.docs_path.parent.glob("validations/*/*/*/*.html"))
    assert pages == sorted(SUITES)
    # the table lists every expectation passed
    console = Console(record=True, width=250)
    console.print(report.table())
    text = console.export_text()
    assert all(o.name in text for o in report.outcomes) and "✗" not in text and text.count("✓") == len(report.outcomes)


def test_the_data_is_built_once_from_one_snapshot_and_the_gate_only_validates_it(fs, passed):
    """selected_data builds the dataset and its splits ([training] split_shares) from one warehouse snapshot,
    recorded in its selection; a connection it opens is closed when its block ends. The gate's report records
    that snapshot (what training writes into the run's selection)."""
    ws, con, _ = fs
    report, _, _ = passed
    snapshot = snapshot_id(con)
    assert report.snapshot == snapshot
    asked = Selection(max_samples=150, snapshot=snapshot)
    with selected_data(ws, SPEC, asked) as data:  # no connection, no store: it opens its own
        assert data.selection == asked and snapshot_id(data.con) == snapshot
        ds = data.dataset
        cut = walk_forward(ds.timestamps, ds.label_times, project_shares(ws.project_dir))
        assert len(ds) == 150 and data.splits.purged == cut.purged
        assert all(np.array_equal(data.splits.named()[k], p) for k, p in cut.named().items())
        again = validate_model(ws, SPEC, data, ValidationSettings(min_samples=100, positive_share=(0.05, 0.95)))
    assert again.success and again.snapshot == snapshot and again.counts["samples"] == 150
    with pytest.raises(duckdb.Error):
        data.con.execute("SELECT 1")
    unpinned = Selection(max_samples=150)
    with selected_data(ws, SPEC, unpinned, con=con) as data:
        assert data.selection == dataclasses.replace(unpinned, snapshot=snapshot)
    con.execute("SELECT 1")  # a connection passed in stays open


def test_hourly_steps_matched_the_last_completed_4h_and_daily_rows(fs, passed):
    """What the alignment suite checks, on the real join: a 4h row joined to a 1h step closed 0-3 h before it,
    a daily row 0-23 h before it, each the latest closed by then."""
    _, con, _ = fs
    _, ds, _ = passed
    aligned = frames.alignment(con, SPEC, ds)
    lags = aligned.groupby("scope")["lag_seconds"].unique()
    assert sorted(lags["features_1h"]) == [0.0]
    assert sorted(lags["features_4h"]) == [0.0, 3600.0, 7200.0, 10800.0]
    assert sorted(lags["features_1d"]) == [3600.0 * h for h in range(24)]
    assert (aligned["behind_latest_seconds"] == 0).all()


def test_too_few_samples(fs):
    ws, con, store = fs
    report, ds, _ = validated(fs, Selection(max_samples=150))
    assert len(ds) == 150
    assert list(failures(report)) == [("training_set", "samples >= the model's min_samples")]
    assert report.failed[0].observed == "observed 150, expected >= 1000"
    with pytest.raises(ValidationFailed) as raised:
        report.raise_if_failed()
    assert "observed 150, expected >= 1000" in str(raised.value) and str(report.docs_path) in str(raised.value)
    assert raised.value.report is report and raised.value.exit_code != 0
    # the minimum is a setting
    lower = gate(fs, ds, walk_forward(ds.timestamps, ds.label_times), settings=ValidationSettings(min_samples=100))
    assert lower.outcome("training_set", "samples >= the model's min_samples").success


def test_a_matched_row_after_the_step_fails_alignment(fs, passed):
    """A join that saw the future: one step's 4h match is moved to the 4h bar closing after the step."""
    _, ds, splits = passed
    row = covered_rows(ds)[1234]
    stamps = {**ds.aligned.event_times, "features_4h": ds.aligned.event_times["features_4h"].copy()}
    stamps["features_4h"][row] = ds.aligned.times[row] + np.timedelta64(4, "h")
    report = gate(fs, with_aligned(ds, event_times=stamps), splits)
    failed = failures(report)
    assert set(failed) == {
        ("alignment", "the matched row closed at or before the step"),
        ("alignment", "the matched row is the view's last one closed at or before the step"),
    }
    lookahead = failed["alignment", "the matched row closed at or before the step"]
    assert lookahead.unexpected_count == 1
    (example,) = lookahead.examples
    step = pd.Timestamp(ds.aligned.times[row], tz="UTC")
    assert (example.symbol, example.time, example.scope) == (
        "BTCUSDT",
        step.strftime("%Y-%m-%d %H:%M") + "Z",
        "features_4h",
    )
    assert example.value == "lag_seconds=-14400"


def test_a_stale_row_let_through_by_a_longer_feast_ttl_fails_alignment(fs, tmp_path):
    """6 days of BTCUSDT 4h rows missing from a copy of the warehouse. With the spec's ttl (4 days) Feast joins
    nothing to the steps more than 4 days after the last 4h row and their windows are dropped; a registry whose
    features_4h ttl is 30 days joins those stale rows, the windows are kept, and the gate fails them."""
    ws, con, _ = fs
    copy_ws = resolve_home(tmp_path)
    copy_lake(ws.warehouse, copy_ws.warehouse)
    copied = connect(copy_ws.warehouse)
    gap = (datetime(2022, 6, 10, tzinfo=UTC), datetime(2022, 6, 16, tzinfo=UTC))
    copied.execute(
        "DELETE FROM resampled_bars WHERE symbol = 'BTCUSDT' AND timeframe = '4h' AND ts_close > $1 AND ts_close <= $2",
        gap,
    )  # the table under features_4h
    apply(copy_ws)
    store = open_store(copy_ws)
    selection = Selection(
        symbols=("BTCUSDT",),
        since=datetime(2022, 6, 1, tzinfo=UTC),
        until=datetime(2022, 7, 15, tzinfo=UTC),
    )
    as_specified = select_dataset(copy_ws, SPEC, selection, store=store, con=copied)
    view = store.get_feature_view("features_4h")
    view.ttl = timedelta(days=30)
    store.apply([view])
    stale = select_dataset(copy_ws, SPEC, selection, store=store, con=copied)

    # the control: with the spec's ttl the stale steps never reach a kept window
    control = frames.alignment(copied, SPEC, as_specified)
    assert control.loc[control["scope"] == "features_4h", "lag_seconds"].max() <= 4 * 86400
    assert len(stale) > len(as_specified) + 400

    report = validate_dataset(
        copy_ws, SPEC, stale, walk_forward(stale.timestamps, stale.label_times), copied, selection
    )
    assert list(failures(report)) == [("alignment", "the matched row is not older than the view's ttl")]
    outcome = report.failed[0]
    aligned = frames.alignment(copied, SPEC, stale)
    too_old = aligned[(aligned["scope"] == "features_4h") & (aligned["lag_seconds"] > 4 * 86400)]
    # hourly steps from 4 days after the last 4h close (06-10 00:00) until the next (06-16 04:00)
    assert outcome.unexpected_count == len(too_old) == 51
    assert too_old["time"].min() == pd.Timestamp("2022-06-14 01:00", tz="UTC")
    first = outcome.examples[0]
    assert (first.symbol, first.time, first.scope) == ("BTCUSDT", "2022-06-14 01:00Z", "features_4h")
    assert first.value == f"ttl_seconds=345600, lag_seconds={4 * 86400 + 3600}"
    copied.close()


def test_splits_without_embargo_or_overlapping_fail(fs, passed):
    _, ds, _ = passed
    n = len(ds)
    unpurged = Splits(*np.split(np.arange(n, dtype=np.int64), [int(0.7 * n), int(0.85 * n)]))
    report = gate(fs, ds, unpurged)
    assert list(failures(report)) == [
        ("splits", "embargo >= label horizon: max label_time < the later splits' min decision time")
    ]
    embargo = report.failed[0]
    assert embargo.unexpected_count == 2 and [e.scope for e in embargo.examples] == ["train", "validation"]
    assert embargo.examples[0].value == f"label_margin_seconds={-(5 * 86400 - 3600)}"  # 5-day labels, 1 h apart

    overlapping = Splits(
        np.arange(0, int(0.8 * n)), np.arange(int(0.7 * n), int(0.85 * n)), np.arange(int(0.85 * n), n)
    )
    failed = failures(gate(fs, ds, overlapping))
    disjoint = failed["splits", "splits are disjoint in time: max decision time < the later splits' min decision time"]
    assert [e.scope for e in disjoint.examples] == ["train"]
    assert disjoint.examples[0].time == pd.Timestamp(ds.timestamps[0], tz="UTC").strftime("%Y-%m-%d %H:%M") + "Z"


def test_nans_inside_a_kept_window_fail(fs, passed):
    _, ds, splits = passed
    values = ds.aligned.values.copy()
    row = covered_rows(ds)[5000]
    values[row, ds.columns.index("features_1d__rsi_14")] = np.nan
    report = gate(fs, with_aligned(ds, values=values), splits)
    assert list(failures(report)) == [("training_set", "no missing values inside kept windows")]
    ends = ds.ends.numpy()
    hit = (ends - ds.steps + 1 <= row) & (row <= ends)
    outcome = report.failed[0]
    assert outcome.unexpected_count == hit.sum() > 100  # every kept window holding the row
    assert outcome.examples[0].time == pd.Timestamp(ds.timestamps[hit][0], tz="UTC").strftime("%Y-%m-%d %H:%M") + "Z"
    assert outcome.examples[0].value == "missing_in_window=1"


def test_unbalanced_labels_fail(fs, passed):
    _, ds, _ = passed
    labels = ds.labels.numpy()
    keep = np.flatnonzero((labels > 0) | (np.arange(len(ds)) % 10 == 0))  # all rises, a tenth of the falls
    subset = ds.subset(keep)
    share = float((subset.labels.numpy() > 0).mean())
    assert share > 0.8
    report = gate(fs, subset, walk_forward(subset.timestamps, subset.label_times))
    assert list(failures(report)) == [("training_set", "share of positive labels within positive_share")]
    assert report.failed[0].observed == f"observed {share:.6g}, expected in [0.2, 0.8]"
    wider = ValidationSettings(min_samples=1000, positive_share=(0.2, 0.95))
    assert gate(fs, subset, walk_forward(subset.timestamps, subset.label_times), settings=wider).success


def test_bad_raw_bars_fail(fs, passed):
    """Bars ingest would refuse, written straight into raw.bars inside a transaction that is rolled back."""
    ws, con, _ = fs
    _, ds, splits = passed
    con.execute("BEGIN")
    try:
        con.execute("""
            INSERT INTO raw.bars (symbol, timeframe, ts, open, high, low, close, volume, ingested_at) VALUES
            ('BTCUSDT', '1h', '2030-01-01 00:00:00+00', 10, 9, 8, 9.5, 1, now()),      -- high < open
            ('BTCUSDT', '1h', '2030-01-01 01:00:00+00', 10, 11, 10.5, 10.2, 1, now()),  -- low > close
            ('BTCUSDT', '1h', '2030-01-01 02:00:00+00', 10, 11, 9, 10, -5, now()),     -- negative volume
            ('BTCUSDT', '1h', '2030-01-01 03:00:00+00', 10, 11, 9, 10, 'NaN', now()),  -- NaN volume
            ('BTCUSDT', '1h', '2030-01-01 03:00:00+00', 10, 11, 9, 10, 2, now())       -- a second bar at 03:00
        """)
        report = gate(fs, ds, splits, Selection(symbols=("BTCUSDT",)))
    finally:
        con.execute("ROLLBACK")
    failed = failures(report)
    assert {name: o.unexpected_count for (suite, name), o in failed.items() if suite == "raw_bars"} == {
        "high >= max(open, close)": 1,
        "low <= min(open, close)": 1,
        "volume >= 0": 1,
        "no null (or NaN) volume": 1,
        "one bar per (symbol, timeframe, ts)": 2,
    }
    assert {s for s, _ in failed} == {"raw_bars"}
    (high,) = failed["raw_bars", "high >= max(open, close)"].examples
    assert (high.symbol, high.time, high.scope, high.value) == (
        "BTCUSDT",
        "2030-01-01 00:00Z",
        "1h",
        "high=9, body_top=10",
    )
    assert [e.time for e in failed["raw_bars", "one bar per (symbol, timeframe, ts)"].examples] == [
        "2030-01-01 03:00Z"
    ] * 2
    assert con.execute("SELECT count(*) FROM raw.bars WHERE ts >= '2030-01-01'").fetchone()[0] == 0


def test_validate_command_fails_with_the_table_and_the_docs_page(fs):
    ws, _, _ = fs
    app = typer.Typer()
    app.callback()(lambda: None)  # a group, so the command is called by name as in barstore's app
    register(app)
    result = CliRunner().invoke(
        app,
        ["validate", MODEL, "--home", str(ws.home), "--max-samples", "150", "--since", "2021-06-01"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == ValidationFailed.exit_code != 0
    assert "samples >= the model's min_samples" in result.stdout and "observed 150, expected >= 1000" in result.stdout
    assert "150 samples: train" in result.stdout
    docs = ws.reports_dir / "validation" / MODEL / "index.html"
    assert f"Data Docs: {docs}" in result.stderr and docs.is_file()
    assert "error: validation of seq500_hourly failed 1 of" in result.stderr


def test_settings_from_the_project_file(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    toml = project / "barstore_project.toml"
    ws = Workspace(home=tmp_path, project=str(project))
    toml.write_text("[validation]\nmin_samples = {seq500_hourly = 50}\npositive_share = [0.3, 0.7]\n")
    assert ValidationSettings.for_model(ws, SPEC) == ValidationSettings(50, (0.3, 0.7), 5)
    assert ValidationSettings.for_model(ws, MODELS["longterm_multitf"]).min_samples == 200  # the default
    toml.write_text("[validation]\nmin_samples = 10\nexamples = 2\n")
    assert ValidationSettings.for_model(ws, MODELS["seq300_minute"]) == ValidationSettings(10, (0.2, 0.8), 2)
    for bad, message in [
        ("min_sample = 10", r"\[validation\]: unknown key 'min_sample'"),
        ("min_samples = {seq500_hour = 5}", r"\[validation\] min_samples: unknown model 'seq500_hour'"),
        ("positive_share = [0.8, 0.2]", r"positive_share: expected two increasing numbers in \[0, 1\]"),
        ("positive_share = 0.5", "positive_share: expected two increasing numbers"),
        ("min_samples = 1.5", "min_samples: expected an integer >= 1, got 1.5"),
        ("min_samples = {seq500_hourly = 0}", "min_samples seq500_hourly: expected an integer >= 1, got 0"),
    ]:
        toml.write_text(f"[validation]\n{bad}\n")
        with pytest.raises(BarstoreError, match=message):
            ValidationSettings.for_model(ws, SPEC)
    toml.write_text("")
    defaults = {name: ValidationSettings.for_model(ws, spec).min_samples for name, spec in MODELS.items()}
    assert defaults == {
        "seq300_minute": 1000,
        "seq500_minute": 1000,
        "seq800_minute": 1000,
        "seq500_hourly": 1000,
        "longterm_multitf": 200,
    }


def test_suites_are_committed_without_volatile_ids():
    """The JSON is what GX 1.x reads back (types, kwargs, descriptions kept), with no uuid or version stamp."""
    import great_expectations as gx

    for name, suite in ALL_SUITES.items():
        text = json.dumps(suite)
        assert '"id"' not in text and "great_expectations_version" not in text and suite["name"] == name
        loaded = gx.ExpectationSuite(**suite).to_json_dict()
        assert [(e["type"], e["kwargs"], e["description"]) for e in loaded["expectations"]] == [
            (e["type"], e["kwargs"], e["description"]) for e in suite["expectations"]
        ]


def test_rows_in_windows_match_brute_force():
    ends = np.array([4, 5, 12, 30])
    for skip_first in (0, 1):
        expected = {r for e in ends for r in range(e - 5 + 1 + skip_first, e + 1)}
        got = frames.in_windows(ends, 5, 40, skip_first=skip_first)
        assert set(np.flatnonzero(got)) == expected


def test_raw_bars_checked_in_chunks_of_whole_symbols_report_as_one_run(fs, passed):
    """One chunk per symbol (bounded memory) finds what one frame of every bar finds: the counts summed, the
    examples of each chunk in symbol order."""
    ws, con, _ = fs
    _, ds, splits = passed
    symbols = sorted(ds.symbol_names)[:2]
    assert len(symbols) == 2
    con.execute("BEGIN")
    try:
        for symbol in symbols:
            con.execute(
                "INSERT INTO raw.bars (symbol, timeframe, ts, open, high, low, close, volume, ingested_at) VALUES "
                "(?, '1h', '2030-01-01 00:00:00+00', 10, 9, 8, 9.5, 1, now())",  # high < open
                [symbol],
            )
        whole, chunked = (
            validate_dataset(ws, SPEC, ds, splits, con, Selection(symbols=tuple(symbols)), raw_bars_chunk_rows=n)
            for n in (10**9, 1)
        )
        chunks = frames.RawBarChunks(con, symbols, 1)
        assert chunks.groups == [[symbols[0]], [symbols[1]]]
    finally:
        con.execute("ROLLBACK")
    assert chunked.counts == whole.counts and whole.counts["raw_bars"] > 2
    assert [(o.suite, o.name, o.success, o.unexpected_count) for o in chunked.outcomes] == [
        (o.suite, o.name, o.success, o.unexpected_count) for o in whole.outcomes
    ]
    high = chunked.outcome("raw_bars", "high >= max(open, close)")
    assert high.unexpected_count == 2 and [e.symbol for e in high.examples] == symbols


def test_bars_that_passed_unchanged_are_not_checked_again(fs, passed):
    """After a passing run (the `passed` fixture) the raw bars are not read again; a changed bar makes its symbol
    checked again (and only it); --recheck-bars checks all; another suite text voids every verdict."""
    ws, con, _ = fs
    report, ds, splits = passed
    total = con.execute("SELECT count(*) FROM raw.bars").fetchone()[0]
    again = gate(fs, ds, splits)
    assert again.success and (again.counts["raw_bars"], again.counts["raw_bars_reused"]) == (0, total)
    assert [(o.name, o.success) for o in again.outcomes] == [(o.name, o.success) for o in report.outcomes]
    assert f"checked 0 raw bars (and {total:,} unchanged since they passed)" in again.counts_line()
    symbol = sorted(ds.symbol_names)[0]
    own = con.execute("SELECT count(*) FROM raw.bars WHERE symbol = ?", [symbol]).fetchone()[0]
    con.execute("BEGIN")
    try:  # one valid bar of one symbol gets another volume
        con.execute(
            "UPDATE raw.bars SET volume = volume + 1 WHERE symbol = ? AND ts = (SELECT max(ts) FROM raw.bars "
            "WHERE symbol = ?)",
            [symbol, symbol],
        )
        changed = gate(fs, ds, splits)
    finally:
        con.execute("ROLLBACK")
    assert changed.success and (changed.counts["raw_bars"], changed.counts["raw_bars_reused"]) == (own, total - own)
    every = validate_dataset(ws, SPEC, ds, splits, con, recheck_bars=True)
    assert (every.counts["raw_bars"], every.counts["raw_bars_reused"]) == (total, 0)
    prints = verdicts.fingerprints(con, [symbol])
    assert verdicts.VerdictBook(verdicts.book_path(ws.home), "another suite").passed(prints) == set()
    assert verdicts.VerdictBook(
        verdicts.book_path(ws.home), verdicts.suite_key(PROJECT_DIR / "expectations" / "suites" / "raw_bars.json")
    ).passed(prints) == {symbol}
