"""`barstore serve`: a real uvicorn server on 127.0.0.1 in a subprocess, over a copy of the serving workspace."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, timedelta

import httpx
import pytest
from typer.testing import CliRunner

from barstore.specs import MODELS
from barstore.warehouse import connect

from .serving_fixtures import (
    AS_OF,
    SHORT_SYMBOL,
    SYMBOL,
    WINDOW_END,
    appended_hour,
    cli_app,
    copy_home,
    run_cli,
    served,
    serving_workspace,
)

BODY = {"symbols": [SYMBOL], "as_of": AS_OF.isoformat()}


@pytest.fixture(scope="module")
def sw(tmp_path_factory):
    return serving_workspace(tmp_path_factory)


@pytest.fixture(scope="module")
def server(sw, tmp_path_factory):
    """(base URL, home): the server on its own copy of the workspace (the build test below adds bars to it)."""
    home = copy_home(sw, tmp_path_factory.mktemp("served") / "home")
    with served(home.home) as url:
        yield url, home


def test_healthz_and_models(server, sw):
    url, _ = server
    health = httpx.get(f"{url}/healthz").json()
    assert health == {"status": "ok", "models_loaded": sorted(MODELS), "missing": []}
    listed = httpx.get(f"{url}/models").json()
    assert [m["model"] for m in listed["models"]] == list(MODELS) and listed["missing"] == {}
    for entry in listed["models"]:
        run = sw.runs[entry["model"]][-1]
        metrics = run.metrics()
        assert entry["run_id"] == run.run_id and entry["pinned"] is False
        assert entry["trained_at"] == metrics["wall_clock"]["created_at"]
        assert entry["test_accuracy"] == metrics["test"]["accuracy"]["value"]


def test_predict_answers_what_the_cli_prints(server):
    url, home = server
    answer = httpx.post(f"{url}/predict", json=BODY)
    assert answer.status_code == 200, answer.text
    result = CliRunner().invoke(cli_app(), ["predict", SYMBOL, "--json", "--as-of", AS_OF.isoformat(),
                                            "--home", str(home.home)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert answer.json() == json.loads(result.stdout)
    models = answer.json()["predictions"][0]["models"]
    assert {m["window_end"] for m in models.values()} == {"2025-03-05T00:00:00Z"}
    three = httpx.post(f"{url}/predict", json=BODY | {"mode": "three_model", "trend_filter": "none"}).json()
    assert three["mode"] == "three_model" and list(three["predictions"][0]["models"]) == list(MODELS)[:3]
    assert three["predictions"][0]["models"]["seq300_minute"] == models["seq300_minute"]


@pytest.mark.parametrize(
    "body",
    [{}, {"symbols": SYMBOL}, {"symbols": []}, {"symbols": [SYMBOL], "when": "now"}, {"symbols": [1.5]}],
    ids=["no symbols", "not a list", "empty", "unknown field", "not strings"],
)
def test_bodies_that_are_not_the_schema_get_422(server, body):
    url, _ = server
    answer = httpx.post(f"{url}/predict", json=body)
    assert answer.status_code == 422, answer.text


def test_a_body_that_is_not_json_gets_422(server):
    url, _ = server
    answer = httpx.post(f"{url}/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"as_of": "yesterday"}, "is not an ISO time"),
        ({"mode": "five_model"}, "mode: expected one of four_model, three_model, got 'five_model'"),
        ({"trend_filter": "moon"}, "trend_filter: expected one of none, embedding_sum, direction_prob"),
        ({"max_staleness": "10 minutes"}, "max_staleness: expected a duration such as 10m"),
        ({"max_staleness": {"seq1": "1h"}}, "max_staleness: unknown model 'seq1'"),
    ],
)
def test_bad_values_get_400(server, change, message):
    url, _ = server
    answer = httpx.post(f"{url}/predict", json=BODY | change)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["detail"]


def test_unknown_symbol_404_missing_or_stale_window_503(server):
    url, _ = server
    answer = httpx.post(f"{url}/predict", json=BODY | {"symbols": [SYMBOL, "NOPE"]})
    assert answer.status_code == 404 and "unknown symbol 'NOPE'" in answer.json()["detail"]
    answer = httpx.post(f"{url}/predict", json=BODY | {"symbols": [SHORT_SYMBOL]})
    assert answer.status_code == 503 and "SYN_ETH has no online window" in answer.json()["detail"]
    assert (answer.json()["models"], answer.json()["kind"]) == (["seq500_hourly", "longterm_multitf"], "no_window")
    later = (WINDOW_END + timedelta(days=5)).isoformat()
    answer = httpx.post(f"{url}/predict", json={"symbols": [SYMBOL], "as_of": later})
    assert answer.status_code == 503 and answer.json()["kind"] == "stale_window"
    assert answer.json()["models"] == list(MODELS)
    answer = httpx.post(f"{url}/predict", json={"symbols": [SYMBOL], "as_of": later, "max_staleness": "6d"})
    assert answer.status_code == 200, answer.text


def test_missing_run_is_503_until_a_run_appears(sw, tmp_path):
    home = copy_home(sw, tmp_path / "home", warehouse=False)  # the service never needs the warehouse
    run_dir = home.models_dir / "longterm_multitf"
    aside = tmp_path / "aside"
    os.rename(run_dir, aside)
    run_dir.mkdir()
    with served(home.home, "--reload-interval", "0s") as url:
        assert httpx.get(f"{url}/healthz").json()["missing"] == ["longterm_multitf"]
        answer = httpx.post(f"{url}/predict", json=BODY)
        assert answer.status_code == 503, answer.text
        assert answer.json()["models"] == ["longterm_multitf"] and answer.json()["kind"] == "no_run"
        # without the trend filter the long-term model is not in use
        answer = httpx.post(f"{url}/predict", json=BODY | {"trend_filter": "none"})
        assert answer.status_code == 200, answer.text
        [run_id] = os.listdir(aside)
        os.rename(aside / run_id, run_dir / run_id)  # a complete run appears at once
        answer = httpx.post(f"{url}/predict", json=BODY)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["models"]["longterm_multitf"]["run_id"] == run_id
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    assert not home.warehouse.exists()


def test_serving_while_bars_arrive(server, tmp_path):
    """ingest -> build -> materialize --incremental run in subprocesses while the server answers; its next
    answer reads the new windows."""
    url, home = server
    new_bars = appended_hour(tmp_path)
    body = {"symbols": [SYMBOL], "as_of": "2025-03-11T01:00:30", "max_staleness": "30d"}
    statuses, stop = [], threading.Event()

    def keep_asking():
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                statuses.append(client.post(f"{url}/predict", json=body).status_code)
                time.sleep(0.05)

    before = httpx.post(f"{url}/predict", json=body).json()["predictions"][0]["models"]
    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        for args in (
            ["ingest", str(new_bars), "--timeframe", "1m", "--calendar", "crypto_24x7"],
            ["build"],
            ["materialize", "--incremental"],
        ):
            done = run_cli(home.home, *args)
            assert done.returncode == 0, f"{args[0]}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    finally:
        stop.set()
        asker.join()
    assert len(statuses) >= 5 and set(statuses) == {200}, statuses
    after = httpx.post(f"{url}/predict", json=body).json()["predictions"][0]["models"]
    with connect(home.warehouse, read_only=True) as con:
        for model, spec in MODELS.items():
            [(last,)] = con.execute(f"SELECT max(ts_close) FROM {spec.step_view} WHERE symbol = ?", [SYMBOL]).fetchall()
            assert after[model]["window_end"] == last.astimezone(UTC).isoformat().replace("+00:00", "Z"), model
    assert after["seq300_minute"]["window_end"] == "2025-03-11T01:00:00Z"
    assert after["longterm_multitf"]["window_end"] == "2025-03-11T00:00:00Z"
    assert after["seq300_minute"]["p_up"] != before["seq300_minute"]["p_up"]  # a new forward pass, not the old one


def test_cli_choices_equal_the_ensemble_enums():
    """barstore/cli/serving.py copies the ensemble's enums (so --help needs no pandas): they must not drift."""
    from barstore.cli.serving import ModeChoice, TrendFilterChoice
    from inference.ensemble import Mode, TrendFilter

    assert {c.value for c in ModeChoice} == {m.value for m in Mode}
    assert {c.value for c in TrendFilterChoice} == {t.value for t in TrendFilter}
