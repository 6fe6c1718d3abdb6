"""The warehouse as a snapshot store: readers never wait for a writer, one writer at a time, and a writer killed
at any instant leaves the last commit (and nothing else) behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from barstore import lake
from barstore.ingest import IngestOptions, ingest_files
from barstore.lake import data_path
from barstore.transform.runner import build_models
from barstore.warehouse import connect, current_snapshot, reading_snapshot

from .model_fixtures import write_project
from .process_helpers import PROJECT, cli_env, run_cli, write_big_file

BIG_ROWS = 600_000
MODELS = {
    "marts/doubled.sql": "-- doubled: every bar's close, doubled (a table as large as raw.bars)\n"
    "-- materialized: table\nSELECT symbol, ts, close * 2 AS close2 FROM raw.bars",
    # ordered: a float sum split over threads differs in the last bits from run to run, and rebuilds must be equal
    "marts/per_symbol.sql": "-- per_symbol: bars per symbol\n-- materialized: table\n"
    "SELECT symbol, count(*) AS n, sum(close2 ORDER BY ts) AS s FROM doubled GROUP BY symbol",
}
# A process that writes (an ingest of the big file, or a build) inside one transaction and waits on stdin
# before committing: readers can be tried while the write is in progress, and the writer killed there.
HOLDER = """
import sys
from pathlib import Path
from barstore.ingest import IngestOptions, ingest_files
from barstore.transform.runner import build_models
from barstore.warehouse import connect, write_transaction
catalog, what, arg = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
con = connect(catalog)
with write_transaction(con):
    if what == "ingest":
        ingest_files(con, [Path(arg)], IngestOptions(symbol="BIG", calendar="crypto_24x7"), progress=False)
    elif what == "build":
        build_models(con, Path(arg), show=False)
    print("written", flush=True)
    sys.stdin.readline()
print("committed", flush=True)
"""


@pytest.fixture
def lake_home(tmp_path, bar_file, minute_bars):
    """A home with five bars of SMALL and the models built, a big bar file, and the fixture project."""
    home = tmp_path / "home"
    home.mkdir()
    sql_dir = write_project(tmp_path / "project", MODELS)
    con = connect(home / "warehouse.ducklake")
    ingest_files(con, [bar_file("small.csv", minute_bars(5))], IngestOptions(symbol="SMALL", calendar="crypto_24x7"))
    build_models(con, sql_dir, show=False)
    con.close()
    big = tmp_path / "big.parquet"
    write_big_file(big, BIG_ROWS)
    return home, sql_dir, big


def counts(home: Path) -> tuple:
    """What a reader sees, through `barstore sql` in its own process."""
    query = "SELECT (SELECT count(*) FROM raw.bars), (SELECT count(*) FROM doubled), (SELECT sum(n) FROM per_symbol)"
    result = run_cli(home, "sql", query, "--format", "csv")
    assert result.returncode == 0, result.stderr
    return tuple(int(v) for v in result.stdout.strip().splitlines()[1].split(","))


def holder(home: Path, what: str, arg: Path, **env: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home / "warehouse.ducklake"), what, str(arg)],
        cwd=PROJECT,
        env=cli_env(home, **env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    assert line == "written", proc.stderr.read()
    return proc


def orphans(home: Path) -> list:
    con = connect(home / "warehouse.ducklake")  # a dry run, but DuckLake wants a writable attach for it
    alias = lake.alias(con)
    found = con.execute(f"CALL ducklake_delete_orphaned_files('{alias}', dry_run => true, cleanup_all => true)")
    return found.fetchall()


def table(home: Path, name: str) -> pa.Table:
    con = connect(home / "warehouse.ducklake", read_only=True)
    return con.sql(f"SELECT * FROM {name} ORDER BY ALL").to_arrow_table()


@pytest.mark.parametrize("what", ["ingest", "build"])
def test_readers_see_the_last_commit_while_a_write_is_in_progress(lake_home, tmp_path, what):
    home, sql_dir, big = lake_home
    if what == "build":  # the big ingest committed first: the build has much to write
        con = connect(home / "warehouse.ducklake")
        ingest_files(con, [big], IngestOptions(symbol="BIG", calendar="crypto_24x7"), progress=False)
        con.close()
    before = counts(home)
    proc = holder(home, what, big if what == "ingest" else sql_dir)
    try:
        started = time.perf_counter()
        during = counts(home)
        waited = time.perf_counter() - started
    finally:
        proc.communicate("\n", timeout=60)
    assert proc.returncode == 0
    assert during == before
    assert waited < 20  # answered while the writer held its transaction open (a process start and a query)
    after = counts(home)
    if what == "ingest":
        assert after == (5 + BIG_ROWS, 5, 5)  # new bars; the models change at the next build
    else:
        assert before == (5 + BIG_ROWS, 5, 5) and after == (5 + BIG_ROWS,) * 3


def _kill_mid_write(home: Path, args: list[str]) -> None:
    """Run the CLI and kill -9 it as soon as its first data file of this write appears (mid-write)."""
    files = data_path(home / "warehouse.ducklake")
    seen = set(files.rglob("*.parquet")) if files.exists() else set()
    proc = subprocess.Popen(
        [sys.executable, "-m", "barstore.cli", *args],
        cwd=PROJECT,
        env=cli_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if files.exists() and set(files.rglob("*.parquet")) - seen:
            break
        time.sleep(0.002)
    finished = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not finished, f"it ended before it could be killed: {proc.stderr.read()!r}"


@pytest.mark.parametrize("point", ["mid_write", "before_commit", "after_commit"])
@pytest.mark.parametrize("what", ["ingest", "build"])
def test_a_killed_writer_leaves_the_last_commit_and_the_next_cleans_up(
    lake_home, tmp_path, bar_file, minute_bars, what, point
):
    home, sql_dir, big = lake_home
    env = {"BARSTORE_SQL_DIR": str(sql_dir)}
    if what == "build":  # the big ingest committed first: the build has much to write
        con = connect(home / "warehouse.ducklake")
        ingest_files(con, [big], IngestOptions(symbol="BIG", calendar="crypto_24x7"), progress=False)
        con.close()
        args = ["build"]
    else:
        args = ["ingest", str(big), "--symbol", "BIG", "--timeframe", "1m", "--calendar", "crypto_24x7"]
    before = counts(home)
    if point == "mid_write" and what == "ingest":
        _kill_mid_write(home, args)
    elif point == "mid_write":  # a build's tables are written but not committed
        proc = holder(home, "build", sql_dir)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    else:
        result = run_cli(home, *args, BARSTORE_CRASH_AT=point, **env)
        assert result.returncode == -signal.SIGKILL, result.stderr
    committed = point == "after_commit"
    expected = {"ingest": (5 + BIG_ROWS, 5, 5), "build": (5 + BIG_ROWS,) * 3}[what] if committed else before
    assert counts(home) == expected

    # the next writer takes the lock the dead one held, removes its files and commits normally
    more = bar_file("more.csv", minute_bars(6))
    result = run_cli(home, "ingest", str(more), "--symbol", "SMALL", "--timeframe", "1m")
    assert result.returncode == 0, result.stderr
    assert counts(home)[0] == expected[0] + 1
    assert orphans(home) == []

    # and a rebuild equals a clean build of the same bars
    assert run_cli(home, "build", "--full-refresh", **env).returncode == 0
    clean = clean_tables(tmp_path, bar_file, minute_bars, more, big if expected[0] > 5 else None, sql_dir)
    for name in ("doubled", "per_symbol"):
        assert table(home, name).equals(clean[name])


_CLEAN: dict[bool, dict[str, pa.Table]] = {}


def clean_tables(tmp_path, bar_file, minute_bars, more: Path, big: Path | None, sql_dir: Path) -> dict[str, pa.Table]:
    """The models of a clean build of SMALL's five bars, `more` and (when given) the big file: built once per
    session for each of the two (every killed-writer case ends with one of them; the files are the same each time)."""
    key = big is not None
    if key not in _CLEAN:
        clean = tmp_path / "clean"
        clean.mkdir()
        con = connect(clean / "warehouse.ducklake")
        ingest_files(
            con,
            [bar_file("small.csv", minute_bars(5)), more],
            IngestOptions(symbol="SMALL", calendar="crypto_24x7"),
            progress=False,
        )
        if big is not None:
            ingest_files(con, [big], IngestOptions(symbol="BIG", calendar="crypto_24x7"), progress=False)
        build_models(con, sql_dir, show=False)
        con.close()
        _CLEAN[key] = {name: table(clean, name) for name in ("doubled", "per_symbol")}
    return _CLEAN[key]


def test_a_second_writer_waits_then_is_refused_naming_the_first(lake_home, tmp_path, bar_file, minute_bars):
    home, sql_dir, big = lake_home
    project = tmp_path / "settings"
    project.mkdir()
    (project / "barstore_project.toml").write_text('[warehouse]\nwriter_wait = "1s"\n')
    more = str(bar_file("more.csv", minute_bars(6)))
    proc = holder(home, "build", sql_dir)
    try:
        started = time.monotonic()
        refused = run_cli(
            home, "ingest", more, "--symbol", "SMALL", "--timeframe", "1m", BARSTORE_PROJECT_DIR=str(project)
        )
        waited = time.monotonic() - started
        assert counts(home) == (5, 5, 5)  # readers are not blocked meanwhile
    finally:
        proc.communicate("\n", timeout=60)
    assert refused.returncode == 3, refused.stderr
    assert f"another write to the warehouse is in progress (process {proc.pid}" in refused.stderr
    assert "Readers (barstore sql, train, Feast) are not blocked" in refused.stderr
    assert waited >= 1
    assert counts(home) == (5, 5, 5)  # nothing of the refused ingest

    # with time to wait, the second writer goes on once the first commits
    proc = holder(home, "build", sql_dir)
    waiting = subprocess.Popen(
        [sys.executable, "-m", "barstore.cli", "ingest", more, "--symbol", "SMALL", "--timeframe", "1m"],
        cwd=PROJECT,
        env=cli_env(home),
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    proc.communicate("\n", timeout=60)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert f"waiting for the warehouse's writer (process {proc.pid}" in err
    assert counts(home) == (6, 5, 5)


def test_minute_appends_keep_the_data_files_bounded(tmp_path, bar_file, minute_bars, monkeypatch):
    """A live loop's commits (one bar each, then a build) stay inlined in the catalog, and each build's compaction
    writes them out and merges them: the files on disk do not grow with the number of appends, and the tables
    equal those of one build over the same bars."""
    monkeypatch.setattr(lake, "CLEANUP_GRACE_S", 0)  # no reader here: replaced files may go at once
    sql_dir = write_project(tmp_path / "project", MODELS)
    settings = '[warehouse]\nsnapshot_retention = "0s"\ncompact_interval = "0s"\n'  # compact after every build
    (tmp_path / "project" / "barstore_project.toml").write_text(settings)
    monkeypatch.setenv("BARSTORE_PROJECT_DIR", str(tmp_path / "project"))
    catalog = tmp_path / "home" / "warehouse.ducklake"
    catalog.parent.mkdir()
    con = connect(catalog)
    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    options = IngestOptions(symbol="LIVE", calendar="crypto_24x7")
    ingest_files(con, [bar_file("first.csv", minute_bars(100, start=start))], options, progress=False)
    build_models(con, sql_dir, show=False)
    files = []
    for k in range(100, 110):  # ten appends, each an ingest and a build (which compacts): one file more fails
        bar = minute_bars(1, start=start + timedelta(minutes=k))
        ingest_files(con, [bar_file(f"m{k}.csv", bar)], options, progress=False)
        build_models(con, sql_dir, show=False)
        files.append(lake.data_files(catalog))
    assert files[-1] <= files[1] and max(files) <= files[1] + 2, files
    appended = con.sql("SELECT * FROM doubled ORDER BY ALL").to_arrow_table()
    assert appended.num_rows == 110

    (tmp_path / "fresh").mkdir()
    fresh = connect(tmp_path / "fresh" / "warehouse.ducklake")
    bars = con.sql("SELECT ts, open, high, low, close, volume FROM raw.bars ORDER BY ts").df()
    bars_file = tmp_path / "all.parquet"
    bars.to_parquet(bars_file)
    ingest_files(fresh, [bars_file], options, progress=False)
    build_models(fresh, sql_dir, show=False)
    assert fresh.sql("SELECT * FROM doubled ORDER BY ALL").to_arrow_table().equals(appended)


def test_an_older_snapshot_reads_the_data_as_it_was(lake_home):
    """Time travel (what `--snapshot N` of train and validate uses): pinned read-only connections read an older
    snapshot after later commits, and the rest read the latest."""
    home, sql_dir, big = lake_home
    catalog = home / "warehouse.ducklake"
    before = current_snapshot(catalog)
    con = connect(catalog)
    ingest_files(con, [big], IngestOptions(symbol="BIG", calendar="crypto_24x7"), progress=False)
    build_models(con, sql_dir, show=False)
    con.close()
    assert current_snapshot(catalog) > before
    with reading_snapshot(catalog, before):
        old = connect(catalog, read_only=True)
        assert lake.snapshot_id(old) == before
        assert old.execute("SELECT count(*) FROM raw.bars").fetchone()[0] == 5
        assert old.execute("SELECT sum(n) FROM per_symbol").fetchone()[0] == 5
    latest = connect(catalog, read_only=True)
    assert latest.execute("SELECT count(*) FROM raw.bars").fetchone()[0] == 5 + BIG_ROWS
    result = run_cli(home, "sql", "SELECT 1", "--format", "csv")
    assert result.returncode == 0, result.stderr
