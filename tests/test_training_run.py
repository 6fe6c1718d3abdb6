"""Training runs on a real workspace (DuckDB + Feast): tiny networks, a few hundred windows, one or two epochs.

What must hold: a saved run reloads and predicts exactly what the trained network predicted; its metrics are
those predictions scored by sklearn/scipy; same data + seed = same weights and metrics; early stopping keeps the
best epoch's weights; the long-term checkpoint loads into the users' own class."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace

import numpy as np
import pytest
import torch
from rich.console import Console
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, roc_auc_score
from typer.testing import CliRunner

from barstore.checkpoints import find_run, latest_run, list_runs, load_checkpoint, load_model
from barstore.errors import BarstoreError
from barstore.home import Workspace
from barstore.inputs import Normalizer
from barstore.lake import snapshot_id
from barstore.specs import MODELS
from barstore.splits import walk_forward
from barstore.windows.selection import Selection, select_dataset
from training.config import TrainingConfig
from training.run import data_fingerprint, fit_dataset, resolve_device

from .feast_helpers import feast_workspace
from .test_networks import users_loader

HOURLY = MODELS["seq500_hourly"]
TINY = {"hidden_size": 8, "num_layers": 1}
CONFIG = TrainingConfig(batch_size=32, max_epochs=2, patience=2)
ONE_EPOCH = TrainingConfig(batch_size=32, max_epochs=1)


@pytest.fixture(scope="module")
def fs(tmp_path_factory):
    return feast_workspace(tmp_path_factory.mktemp("feast"))


@pytest.fixture(scope="module")
def hourly(fs):
    """160 hourly windows of BTCUSDT over two years, and their walk-forward splits."""
    ws, con, store = fs
    ds = select_dataset(ws, HOURLY, Selection(max_samples=160), store=store, con=con)
    return ds, walk_forward(ds.timestamps, ds.label_times)


def fit_hourly(hourly, home, seed=0, config=CONFIG, network_sizes=TINY, **kw):
    ds, splits = hourly
    console = Console(file=io.StringIO(), width=200)
    result = fit_dataset(
        Workspace(home),
        HOURLY,
        ds,
        splits,
        seed=seed,
        device="cpu",
        console=console,
        config=config,
        network_sizes=network_sizes,
        **kw,
    )
    return result, console.file.getvalue()


def test_a_saved_run_reloads_and_predicts_what_was_trained(hourly, tmp_path):
    ds, splits = hourly
    result, printed = fit_hourly(
        hourly, tmp_path, report_path="/reports/gate.html", selection=Selection(max_samples=160)
    )
    run = result.run
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", run.run_id)
    assert run.path == tmp_path / "models" / "seq500_hourly" / run.run_id
    assert {p.name for p in run.path.iterdir()} == {"model.pt", "metrics.json", "training_curves.png"}
    assert (run.path / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "epoch 1/2  train loss" in printed and "epoch 2/2" in printed and str(run.path) in printed

    ckpt = load_checkpoint(run)
    assert ckpt["features"] == HOURLY.columns and ckpt["feature_service"] == "seq500_hourly"
    assert ckpt["steps"] == 500 and ckpt["horizon"] == {"bars": 0, "trading_days": 5}
    assert (ckpt["input_size"], ckpt["hidden_size"], ckpt["num_layers"], ckpt["output_size"]) == (31, 8, 1, 2)
    assert ckpt["seed"] == 0 and ckpt["validation_report"] == "/reports/gate.html"
    assert ckpt["data_fingerprint"] == data_fingerprint(ds, splits) and run.run_id.endswith(
        ckpt["data_fingerprint"][:8]
    )
    assert ckpt["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", ckpt["git_commit"])
    assert ckpt["selection"]["max_samples"] == 160 and ckpt["symbols"] == ["BTCUSDT"]
    # input statistics and label scale from the training split only
    train = ds.subset(splits.train)
    assert ckpt["normalization"] == Normalizer.fit(ds.matrix, train.ends, 500, ds.columns).to_dict()
    assert ckpt["label_stats"]["mean"] == pytest.approx(float(train.labels.mean()), rel=1e-12)

    test = ds.subset(splits.test)
    reloaded = load_model(run).predict(ds.matrix, test.ends)
    trained = result.model.predict(ds.matrix, test.ends)
    assert np.array_equal(reloaded.ret, trained.ret) and np.array_equal(reloaded.p_up, trained.p_up)

    metrics = json.loads(run.metrics_path.read_text())
    assert metrics == result.metrics
    realized = test.labels.numpy()
    scored = metrics["test"]
    assert scored["samples"] == len(splits.test) == metrics["samples"]["test"]
    assert scored["accuracy"]["value"] == pytest.approx(accuracy_score(realized > 0, reloaded.p_up > 0.5))
    assert scored["auc"]["value"] == pytest.approx(roc_auc_score(realized > 0, reloaded.p_up))
    assert scored["ic"]["value"] == pytest.approx(spearmanr(reloaded.ret, realized).statistic)
    majority_up = (train.labels > 0).double().mean() >= 0.5
    assert metrics["majority_class"] == ("up" if majority_up else "down")
    assert scored["majority_accuracy"]["value"] == pytest.approx(((realized > 0) == bool(majority_up)).mean())
    assert len(metrics["loss_curves"]["train"]) == len(metrics["loss_curves"]["validation"]) == metrics["epochs_run"]
    assert metrics["validation"]["samples"] == len(splits.validation)


def test_same_data_and_seed_give_the_same_run(hourly, tmp_path):
    two_layers = {"network_sizes": {"hidden_size": 8, "num_layers": 2}}  # dropout between them: seeded too
    first, _ = fit_hourly(hourly, tmp_path / "a", seed=7, config=ONE_EPOCH, **two_layers)
    second, _ = fit_hourly(hourly, tmp_path / "b", seed=7, config=ONE_EPOCH, **two_layers)
    other, _ = fit_hourly(hourly, tmp_path / "c", seed=8, config=ONE_EPOCH, **two_layers)
    a, b, c = (load_checkpoint(r.run)["model_state_dict"] for r in (first, second, other))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)

    def timeless(result):
        metrics = json.loads(result.run.metrics_path.read_text())
        assert metrics.pop("wall_clock").keys() == {"run_id", "created_at", "seconds", "samples_per_second"}
        return metrics

    assert timeless(first) == timeless(second) != timeless(other)


def test_early_stopping_keeps_the_best_epoch(hourly, tmp_path):
    """A high learning rate overfits fast; the run stops and keeps the weights of its best validation epoch:
    exactly the weights of a run of the same seed that trains only that many epochs."""
    config = TrainingConfig(batch_size=32, max_epochs=5, patience=1, learning_rate=0.1)
    stopped, printed = fit_hourly(hourly, tmp_path / "stopped", config=config)
    history = stopped.history
    assert history.stopped_early and "early stop" in printed
    assert history.best_epoch == int(np.argmin(history.val_loss)) + 1 < len(history.val_loss)
    short, _ = fit_hourly(hourly, tmp_path / "short", config=replace(config, max_epochs=history.best_epoch))
    a, b = (load_checkpoint(r.run)["model_state_dict"] for r in (stopped, short))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fingerprint_changes_with_labels_and_splits(hourly):
    ds, splits = hourly
    base = data_fingerprint(ds, splits)
    assert base == data_fingerprint(ds, splits) and len(base) == 64
    relabelled = ds.subset(np.arange(len(ds)))
    relabelled.labels = relabelled.labels.clone()
    relabelled.labels[0] += 1e-12
    assert data_fingerprint(relabelled, splits) != base
    moved = walk_forward(ds.timestamps, ds.label_times, (0.6, 0.2, 0.2))
    assert data_fingerprint(ds, moved) != base


def test_longterm_run_loads_into_the_users_class(fs, tmp_path):
    ws, con, store = fs
    spec = MODELS["longterm_multitf"]
    ds = select_dataset(ws, spec, Selection(max_samples=36), store=store, con=con)
    splits = walk_forward(ds.timestamps, ds.label_times)
    config = TrainingConfig(batch_size=16, max_epochs=1)
    result = fit_dataset(
        Workspace(tmp_path), spec, ds, splits, seed=0, device="cpu", console=Console(file=io.StringIO()), config=config
    )
    ckpt = load_checkpoint(result.run)
    assert "direction_head_state_dict" in ckpt and ckpt["output_size"] == 32
    theirs = users_loader(result.run.checkpoint)
    test = ds.subset(splits.test)
    with torch.no_grad():
        embedding = theirs(result.model.inputs(ds.matrix, test.ends)).numpy()
    predicted = load_model(result.run).predict(ds.matrix, test.ends)
    assert predicted.ret is None and np.array_equal(embedding, predicted.embedding)
    ic = result.metrics["test"]["ic"]  # the long-term score is P(up)
    assert ic["value"] == pytest.approx(spearmanr(predicted.p_up, test.labels.numpy()).statistic)


def test_runs_are_listed_found_and_shown(hourly, tmp_path):
    import typer

    from barstore.cli import app as main_app  # noqa: F401  (the CLI package, for _run/_workspace)
    from barstore.cli.training import register

    with pytest.raises(BarstoreError, match="no trained run of seq500_hourly"):
        latest_run(Workspace(tmp_path), "seq500_hourly")
    first, _ = fit_hourly(hourly, tmp_path, config=ONE_EPOCH)
    second, _ = fit_hourly(hourly, tmp_path, config=ONE_EPOCH)  # same second, same data: a distinct, later id
    ws = Workspace(tmp_path)
    assert [r.run_id for r in list_runs(ws)] == [first.run.run_id, second.run.run_id]
    assert second.run.run_id > first.run.run_id
    assert latest_run(ws, "seq500_hourly") == second.run
    assert find_run(ws, "seq500_hourly", first.run.run_id) == first.run
    with pytest.raises(BarstoreError, match="no run 'nope'"):
        find_run(ws, "seq500_hourly", "nope")

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    shown = runner.invoke(app, ["models", "--home", str(tmp_path)], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    test = first.metrics["test"]
    assert first.run.run_id in shown.output and second.run.run_id in shown.output
    assert f"{100 * test['accuracy']['value']:.1f}%" in shown.output
    assert f"{100 * test['majority_accuracy']['value']:.1f}%" in shown.output
    unknown = runner.invoke(app, ["train", "seq1_minute", "--home", str(tmp_path)])
    assert unknown.exit_code == 1 and "unknown model" in unknown.output


def test_device_choice():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(BarstoreError, match="--device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(BarstoreError, match="no CUDA device"):
            resolve_device("cuda")


def test_train_model_trains_only_on_validated_data(fs):
    gate = pytest.importorskip("expectations.gate")
    from training.run import train_model

    ws, con, store = fs
    before = list_runs(ws, "seq500_hourly")
    strict = gate.ValidationSettings(min_samples=10_000)
    with pytest.raises(gate.ValidationFailed):
        train_model(
            ws,
            "seq500_hourly",
            Selection(max_samples=160),
            epochs=1,
            device="cpu",
            console=Console(file=io.StringIO()),
            store=store,
            con=con,
            settings=strict,
        )
    assert list_runs(ws, "seq500_hourly") == before  # nothing trained
    lenient = gate.ValidationSettings(min_samples=100, positive_share=(0.05, 0.95))
    result = train_model(  # a ModelSpec, as the CLI passes; above, a name (as backtest/ passes)
        ws,
        HOURLY,
        Selection(max_samples=160),
        epochs=1,
        device="cpu",
        console=Console(file=io.StringIO()),
        store=store,
        con=con,
        settings=lenient,
    )
    ckpt = load_checkpoint(result.run)
    assert ckpt["validation_report"] and ckpt["validation_report"].endswith(".html")
    assert result.metrics["samples"]["train"] > 0
    # the warehouse snapshot it read, which `barstore train --snapshot N` reads again
    assert ckpt["selection"]["snapshot"] == snapshot_id(con) > 0
