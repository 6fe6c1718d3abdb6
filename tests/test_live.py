"""`barstore live --watch DIR`: files dropped into a folder reach predictions in one warm process; a malformed
file is refused and reported, and the loop goes on."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .serving_fixtures import CLI, PROJECT_DIR, SYMBOL, appended_hour, copy_home, serving_workspace


@pytest.fixture(scope="module")
def sw(tmp_path_factory):
    return serving_workspace(tmp_path_factory)


def _drop(table, folder: Path, name: str) -> None:
    """Write under a dot-name, then rename: the loop never sees a file half written."""
    partial = folder / f".{name}"
    pq.write_table(table, partial)
    partial.rename(folder / name)


def _wait_for(log, text: str, proc, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log.seek(0)
        out = log.read()
        if text in out:
            return out
        if proc.poll() is not None:
            pytest.fail(f"barstore live exited ({proc.returncode}) before printing {text!r}:\n{out}")
        time.sleep(0.2)
    pytest.fail(f"no {text!r} within {timeout} s:\n{out}")


def test_live_loop_predicts_each_dropped_file_and_survives_a_bad_one(sw, tmp_path):
    home = copy_home(sw, tmp_path / "home")
    hour = pq.read_table(appended_hour(tmp_path))  # SYN_BTC's 60 minutes after its stored bars
    watch = tmp_path / "incoming"
    watch.mkdir()
    log = tempfile.TemporaryFile(mode="w+")
    args = ["live", "--watch", str(watch), "--timeframe", "1m", "--replay", "--home", str(home.home)]
    proc = subprocess.Popen([*CLI, *args], cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(log, "watching", proc)
        _drop(hour.slice(0, 30), watch, "a.parquet")
        out = _wait_for(log, "a.parquet: ", proc)
        (watch / "bad.csv").write_text(
            f"symbol,ts,open,high,low,close,volume\n{SYMBOL},2025-03-11T00:30:00Z,1,0.5,1,1,1\n"
        )
        out = _wait_for(log, "refused bad.csv", proc)
        _drop(hour.slice(30, 30), watch, "b.parquet")
        out = _wait_for(log, "b.parquet: ", proc)
        time.sleep(1)  # the prediction lines follow the timing line
        log.seek(0)
        out = log.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # each file's bars reach the minute models' windows: their last step is the file's last bar close
    assert f"{SYMBOL}: " in out and "seq300_minute 00:30" in out and "seq300_minute 01:00" in out, out
    assert "no prediction" not in out, out
    assert "row 2: high 0.5 is below max(open, close) = 1.0" in out
    assert sorted(p.name for p in (watch / "done").iterdir()) == ["a.parquet", "b.parquet"]
    error = (watch / "rejected" / "bad.csv.error.txt").read_text()
    assert "bad.csv: 1 bad row(s)" in error and "Nothing was written" in error
    assert not list(watch.glob("*.*"))  # nothing left waiting
