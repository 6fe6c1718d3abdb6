"""`barstore build --engine spark` equals the local build in every table, row and column: the 18 Binance perpetuals
on local[2] with 4 shards, after a full build and after an append (a killed worker retried meanwhile); a job that
fails leaves the last committed snapshot as it was; Feast reads either warehouse alike."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from barstore import lake
from barstore.errors import BarstoreError
from barstore.ingest import IngestOptions, ingest_files
from barstore.spark.build import CRASH_ENV, build_with_spark, cut_shards
from barstore.spark.settings import SparkSettings
from barstore.transform.runner import build_models
from barstore.warehouse import connect, current_snapshot
from barstore.warehouse_settings import warehouse_settings

from .data_paths import DATA, PROJECT_DIR, need_data
from .feature_helpers import rows_differing

pytest.importorskip("pyspark", reason="the Spark engine needs pyspark (pip install 'barstore[spark]')")

SOURCE = "binance_usdm_perp_1min_2025-05_2025-06.parquet"
SQL = PROJECT_DIR / "sql"
START, APPEND, END = "2025-05-26 00:00", "2025-05-27 00:00", "2025-05-27 12:00"
OPTIONS = IngestOptions(timeframe="1m", calendar="crypto_24x7")


def _slice(folder, name, lo, hi):
    """All 18 perpetuals in [lo, hi) UTC, microsecond timestamps."""
    path = folder / f"{name}.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"COPY (SELECT * REPLACE (CAST(ts_utc AS TIMESTAMPTZ) AS ts_utc) FROM '{DATA / SOURCE}' "
        f"WHERE CAST(ts_utc AS TIMESTAMPTZ) >= TIMESTAMPTZ '{lo}:00+00' "
        f"AND CAST(ts_utc AS TIMESTAMPTZ) < TIMESTAMPTZ '{hi}:00+00' ORDER BY symbol, ts_utc) "
        f"TO '{path}' (FORMAT parquet)"
    )
    con.close()
    return path


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    need_data(SOURCE)
    folder = tmp_path_factory.mktemp("bars")
    return _slice(folder, "first", START, APPEND), _slice(folder, "appended", APPEND, END)


def _warehouse(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    con = connect(folder / "warehouse.ducklake", settings=warehouse_settings(home=folder))
    ingest_files(con, list(files), OPTIONS, progress=False)
    return con


SETTINGS = SparkSettings(master="local[2]", partitions=4)


def _tables(con) -> list[str]:
    return sorted(n.removeprefix("main.") for n, k in lake.committed_relations(con).items() if k == "BASE TABLE")


def _assert_equal(con, other_catalog):
    models = [t for t in _tables(con) if "." not in t]
    assert {"resampled_bars", "indicators", "volume_profile_day", "longterm_inputs"} <= set(models)
    for table in models:
        diff, n = rows_differing(con, other_catalog, table)
        assert diff == 0, f"{table}: {diff} rows differ"
        assert n > 0 or table.startswith("contract") or table == "continuous_bars", table


@pytest.fixture(scope="module")
def built(tmp_path_factory, bars, spark):
    """A local and a Spark warehouse of the first two days, built once for the module."""
    root = tmp_path_factory.mktemp("warehouses")
    local = _warehouse(root / "local", [bars[0]])
    build_models(local, SQL, show=False)
    distributed = _warehouse(root / "spark", [bars[0]])
    run = build_with_spark(distributed, SQL, SETTINGS, show=False, spark=spark)
    return root, local, distributed, run


def test_a_spark_build_equals_the_local_build(built):
    root, _, distributed, run = built
    assert run.partitions == 4
    assert {o.shard for o in run.shards} == {0, 1, 2, 3}
    symbols = distributed.execute("SELECT count(DISTINCT symbol) FROM resampled_bars").fetchone()[0]
    assert symbols == 18
    assert {r.model: r.mode for r in run.results}["indicators"] == "full"
    _assert_equal(distributed, root / "local" / "warehouse.ducklake")


def test_an_append_rebuilds_incrementally_and_stays_equal_though_a_worker_is_killed(built, bars, spark, monkeypatch):
    """The increment equals the local one; the first task's Python worker is killed (as an out-of-memory killer
    would) and Spark's retry still gives the same rows."""
    root, local, distributed, _ = built
    for con in (local, distributed):
        ingest_files(con, [bars[1]], OPTIONS, progress=False)
    local_modes = {r.model: r.mode for r in build_models(local, SQL, show=False)}
    monkeypatch.setenv(CRASH_ENV, "task_once")
    run = build_with_spark(distributed, SQL, SETTINGS, show=False, spark=spark)
    modes = {r.model: r.mode for r in run.results}
    assert modes == local_modes
    assert modes["resampled_bars"] == modes["indicators"] == "incremental"
    shards = [(o.shard, o.attempt) for o in run.shards if o.model == "resampled_bars"]
    assert sorted(s for s, _ in shards) == [0, 1, 2, 3]  # each shard registered once, from one attempt
    assert max(a for _, a in shards) >= 1, "no task was retried: the worker was not killed"
    assert all(o.window for o in run.shards if o.mode == "incremental")
    _assert_equal(distributed, root / "local" / "warehouse.ducklake")


def test_a_failed_job_leaves_the_last_snapshot_untouched(built, spark, monkeypatch):
    root, _, distributed, _ = built
    catalog = root / "spark" / "warehouse.ducklake"
    before = current_snapshot(catalog)
    rows = distributed.execute("SELECT count(*) FROM indicators").fetchone()[0]
    monkeypatch.setenv(CRASH_ENV, "task")
    with pytest.raises(BarstoreError, match="nothing was committed.*(worker|failed)"):
        build_with_spark(distributed, SQL, SETTINGS, full_refresh=True, show=False, spark=spark)
    assert current_snapshot(catalog) == before
    assert distributed.execute("SELECT count(*) FROM indicators").fetchone()[0] == rows
    assert not any((root / "spark" / "spark_staging").glob("build-*")), "the staging folder was left behind"


def test_shards_keep_a_futures_root_with_its_contracts():
    groups = [["NQ", "NQH24", "NQZ23"], ["BTCUSDT"], ["ETHUSDT"], ["ES", "ESH24"]]
    shards = cut_shards(groups, 2)
    assert sorted(map(len, shards)) == [2, 2]
    assert sorted(sum(map(len, s), 0) for s in shards) == [3, 4]
    assert all(g in groups for s in shards for g in s)
    assert cut_shards(groups, 2) == shards  # the same cut every run


def test_no_staging_folder_is_left(built):
    root = built[0]
    assert not list((root / "spark").glob("spark_staging/build-*"))
    shutil.rmtree(root / "spark" / "spark_staging", ignore_errors=True)


def test_feast_retrieval_on_a_distributed_build_equals_the_local_one(built, monkeypatch):
    """The same windows, labels and times through Feast's point-in-time retrieval from either warehouse."""
    import numpy as np

    from barstore.feature_store import apply
    from barstore.home import resolve_home
    from barstore.specs import MODELS
    from barstore.windows.build import window_dataset

    root = built[0]
    datasets = []
    for name in ("local", "spark"):
        monkeypatch.setenv("BARSTORE_HOME", str(root / name))
        ws = resolve_home(root / name)
        apply(ws)
        datasets.append(window_dataset(MODELS["seq300_minute"], home=str(ws.home), max_samples=150))
    local, distributed = datasets
    assert len(local) == 150
    assert np.array_equal(local.aligned.values, distributed.aligned.values, equal_nan=True)
    assert np.array_equal(local.labels.numpy(), distributed.labels.numpy())
    assert np.array_equal(local.timestamps, distributed.timestamps)


def test_the_plan_builds_broadcast_tables_first_and_refuses_one_that_needs_every_shard(tmp_path):
    from barstore.spark.plan import plan_build
    from barstore.transform.project import load_project

    from .model_fixtures import write_project

    files = {
        "days.sql": "-- days: calendar\n-- distribution: broadcast\nSELECT 1 AS d",
        "per.sql": "-- per: per symbol\nSELECT symbol FROM raw.bars JOIN days ON true",
        "v.sql": "-- v: a view\n-- materialized: view\nSELECT * FROM per",
        "total.sql": "-- total: all symbols\n-- distribution: broadcast\nSELECT count(*) AS n FROM v",
    }
    project = load_project(write_project(tmp_path / "ok", files))
    plan = plan_build(project, list(project.graph.order))
    assert plan.order[0] == "days" and plan.order.index("total") > plan.order.index("per")
    assert (plan.sharded, plan.task_models, plan.broadcast_inputs) == (["per"], ["per"], ["days"])
    files["late.sql"] = "-- late: per symbol again\nSELECT symbol FROM raw.bars JOIN total ON true"
    project = load_project(write_project(tmp_path / "bad", files))
    with pytest.raises(Exception, match="sql/total.sql: a broadcast table that reads per-symbol models"):
        plan_build(project, list(project.graph.order))


def test_the_command_line_builds_on_spark(built, spark, tmp_path):
    """`barstore build --engine spark` on an up-to-date warehouse: the tasks run, find nothing new, commit."""
    from typer.testing import CliRunner

    from barstore.cli import app

    home = tmp_path / "home"
    home.mkdir()
    lake.copy_lake(built[0] / "spark" / "warehouse.ducklake", home / "warehouse.ducklake")
    out = CliRunner().invoke(app, ["build", "--engine", "spark", "--partitions", "2", "--home", str(home)])
    assert out.exit_code == 0, out.output
    assert "up to date" in out.output and "indicators" in out.output
