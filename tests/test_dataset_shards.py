"""Training sets written as shards by symbol (`barstore dataset`) and runs streamed from them (`barstore train
--from`), on real bars (ETHUSDT and SOLUSDT minutes, BTCUSDT hours: tests/feast_helpers.py).

What must hold: the Spark engine (local[2], 2 partitions) writes the set the local engine writes, array for array
and with the same manifest (seq300_minute with --max-samples, whose choice spans all symbols and takes sampling
rounds; longterm_multitf whole, with shards that hold rows but no window); the local set's fingerprint is the
one a local run records; a run from the shards has bit-identical weights to a local run of the same selection
and seed; a set that is not whole, or not the model's, is refused naming the file; the gate refuses a sharded
set it would refuse locally, before anything trains."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from barstore.checkpoints import list_runs, load_checkpoint
from barstore.cli import app
from barstore.errors import BarstoreError
from barstore.spark.settings import SparkSettings
from barstore.specs import MODELS
from barstore.splits import walk_forward
from barstore.windows.export import export_dataset
from barstore.windows.selection import Selection, select_dataset
from barstore.windows.shards import MANIFEST, ShardSet
from expectations.gate import ValidationFailed, ValidationSettings
from training.run import data_fingerprint, train_model
from training.shards import train_from_shards

from .feast_helpers import feast_workspace

pytest.importorskip("pyspark", reason="the Spark engine needs pyspark (pip install 'barstore[spark]')")

SELECTIONS = {"seq300_minute": Selection(max_samples=300), "longterm_multitf": Selection()}
SPARK = SparkSettings(master="local[2]", partitions=2)
TINY = {"hidden_size": 8, "num_layers": 1}
GATE = ValidationSettings(min_samples=50)


@pytest.fixture(scope="module")
def fs(tmp_path_factory):
    return feast_workspace(tmp_path_factory.mktemp("feast"))


@pytest.fixture(scope="module")
def sets(fs, spark, tmp_path_factory):
    """model -> (the local engine's set, the Spark engine's set), written once (on the suite's one Spark)."""
    from barstore.spark.dataset import export_dataset_spark

    ws, _, _ = fs
    out = tmp_path_factory.mktemp("sets")
    written = {}
    for name, sel in SELECTIONS.items():
        export_dataset(ws, MODELS[name], sel, out / f"{name}-local")
        export_dataset_spark(ws, MODELS[name], sel, out / f"{name}-spark", SPARK)
        written[name] = (out / f"{name}-local", out / f"{name}-spark")
    return written


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


@pytest.mark.parametrize("name", list(SELECTIONS))
def test_the_spark_set_is_the_local_set(sets, fs, name):
    ws, con, store = fs
    local, spark = sets[name]
    a, b = (json.loads((d / MANIFEST).read_text()) for d in (local, spark))
    assert (a.pop("engine"), b.pop("engine")) == ("local", "spark")
    a.pop("written_at"), b.pop("written_at")
    assert a == b
    files = sorted(p.relative_to(local) for p in (local / "shards").rglob("*.npy"))
    assert files == sorted(p.relative_to(spark) for p in (spark / "shards").rglob("*.npy"))
    for path in files:
        x, y = np.load(local / path), np.load(spark / path)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), path
    # the fingerprint a local run of this selection records
    ds = select_dataset(ws, MODELS[name], SELECTIONS[name], store=store, con=con)
    assert a["data_fingerprint"] == data_fingerprint(ds, walk_forward(ds.timestamps, ds.label_times))
    assert a["samples"] == len(ds) and a["rows"] == len(ds.aligned.values)
    if name == "seq300_minute":
        assert [s["symbol"] for s in a["shards"]] == ["ETHUSDT", "SOLUSDT"] and a["samples"] == 300
        assert a["dropped"]["not sampled"] > 0
    else:  # a year of daily history: BTCUSDT has windows, the 3 days of ETH and SOL minutes none
        assert [(s["symbol"], s["samples"] > 0) for s in a["shards"]] == [
            ("BTCUSDT", True),
            ("ETHUSDT", False),
            ("SOLUSDT", False),
        ]


def test_a_run_from_shards_has_the_local_runs_weights(sets, fs):
    ws, _, store = fs
    spark = sets["seq300_minute"][1]
    local = train_model(
        ws,
        "seq300_minute",
        SELECTIONS["seq300_minute"],
        epochs=1,
        seed=0,
        device="cpu",
        console=quiet(),
        store=store,
        settings=GATE,
        network_sizes=TINY,
    )
    streamed = train_from_shards(
        ws, "seq300_minute", spark, epochs=1, seed=0, device="cpu", console=quiet(), settings=GATE, network_sizes=TINY
    )
    a, b = load_checkpoint(local.run), load_checkpoint(streamed.run)
    assert a["model_state_dict"].keys() == b["model_state_dict"].keys()
    assert all(torch.equal(a["model_state_dict"][k], b["model_state_dict"][k]) for k in a["model_state_dict"])
    assert a["normalization"] == b["normalization"] and a["samples"] == b["samples"]
    assert local.metrics["test"] == streamed.metrics["test"]
    manifest = json.loads((spark / MANIFEST).read_text())
    assert a["shards"] is None and b["data_fingerprint"] == a["data_fingerprint"] == manifest["data_fingerprint"]
    assert b["shards"]["dir"] == str(spark.resolve()) and b["shards"]["engine"] == "spark"
    assert b["shards"]["snapshot"] == b["selection"]["snapshot"] == a["selection"]["snapshot"]


def test_a_set_that_is_not_whole_or_not_the_models_is_refused(sets, fs, tmp_path):
    ws, _, _ = fs
    source = sets["seq300_minute"][1]

    def copy(name):
        shutil.copytree(source, tmp_path / name)
        return tmp_path / name

    gone = copy("gone")
    shutil.rmtree(gone / "shards" / "0001-SOLUSDT")
    with pytest.raises(BarstoreError, match=r"gone/shards/0001-SOLUSDT/matrix\.npy is missing .*manifest\.json"):
        train_from_shards(ws, "seq300_minute", gone)
    extra = copy("extra")
    shutil.copytree(extra / "shards" / "0001-SOLUSDT", extra / "shards" / "0002-XRPUSDT")
    with pytest.raises(BarstoreError, match=r"extra/shards/0002-XRPUSDT is not listed in .*extra/manifest\.json"):
        ShardSet.open(extra)
    with pytest.raises(BarstoreError, match="holds a training set of seq300_minute, not of seq500_minute"):
        train_from_shards(ws, "seq500_minute", source)
    # a shard dropped with its manifest entry: the data no longer has the manifest's fingerprint
    unlisted = copy("unlisted")
    manifest = json.loads((unlisted / MANIFEST).read_text())
    manifest["shards"] = manifest["shards"][:1]
    (unlisted / MANIFEST).write_text(json.dumps(manifest))
    shutil.rmtree(unlisted / "shards" / "0001-SOLUSDT")
    with pytest.raises(BarstoreError, match="do not hold the data .*manifest.json fingerprints"):
        train_from_shards(ws, "seq300_minute", unlisted, settings=GATE)
    with pytest.raises(BarstoreError, match="manifest.json is missing"):
        ShardSet.open(tmp_path)


def test_the_gate_refuses_a_sharded_set_before_training(sets, fs):
    ws, _, _ = fs
    before = len(list_runs(ws, "longterm_multitf"))
    with pytest.raises(ValidationFailed) as failed:
        train_from_shards(
            ws, "longterm_multitf", sets["longterm_multitf"][1], settings=ValidationSettings(min_samples=10_000)
        )
    assert failed.value.report.counts["samples"] == 371 and not failed.value.report.success
    assert len(list_runs(ws, "longterm_multitf")) == before


def test_the_commands(sets, fs, tmp_path):
    ws, _, _ = fs
    home = ["--home", str(ws.home)]
    out = tmp_path / "longterm"
    written = CliRunner().invoke(app, ["dataset", "longterm_multitf", "--out", str(out), *home])
    assert written.exit_code == 0, written.output
    assert "3 shards, 371 samples" in written.output
    local = sets["longterm_multitf"][0]
    for path in sorted((local / "shards").rglob("*.npy")):
        assert np.array_equal(np.load(path), np.load(out / path.relative_to(local)), equal_nan=True), path
    again = CliRunner().invoke(app, ["dataset", "longterm_multitf", "--out", str(out), *home])
    assert again.exit_code == 1 and "exists and is not an empty folder" in again.output
    mixed = CliRunner().invoke(app, ["train", "longterm_multitf", "--from", str(out), "--max-samples", "5", *home])
    assert mixed.exit_code == 1 and "drop --max-samples" in mixed.output
    other = CliRunner().invoke(app, ["train", "seq300_minute", "--from", str(out), *home])
    assert other.exit_code == 1 and "holds a training set of longterm_multitf" in other.output
