"""Shared fixtures: a fresh warehouse, the real-bars folder, and a writer for small bar files."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from barstore.lake import detach_all
from barstore.warehouse import connect

from .data_paths import DATA

skip_if_no_data = pytest.mark.skipif(not DATA.exists(), reason=f"real bars not available: {DATA} is absent")


@pytest.fixture(autouse=True, scope="module")
def _own_lakes():
    """Each test module ends with the lakes it attached detached: DuckDB's catalog listings visit every lake
    attached in the process, so one left behind (its home deleted, its pinned snapshot expired) would fail the
    next module's builds."""
    yield
    detach_all()


@pytest.fixture
def ws(tmp_path):
    """A fresh warehouse connection in tmp_path (schema and calendars created)."""
    con = connect(tmp_path / "warehouse.ducklake")
    yield con
    con.close()


@pytest.fixture
def data_dir() -> Path:
    if not DATA.exists():
        pytest.skip(f"real bars not available: {DATA} is absent")
    return DATA


@pytest.fixture
def bar_file(tmp_path):
    """write(name, rows) -> path: rows (list of dicts) as CSV, Parquet, JSON or NDJSON by extension.

    CSV cells are written as given (str() of each value; None = empty cell)."""

    def write(name: str, rows: list[dict]) -> Path:
        path = tmp_path / name
        suffix = path.suffix.lower()
        if suffix == ".csv":
            names = list(rows[0]) if rows else []
            lines = [",".join(names)] + [
                ",".join("" if r.get(n) is None else str(r.get(n)) for n in names) for r in rows
            ]
            path.write_text("\n".join(lines) + "\n")
        elif suffix in (".parquet", ".pq"):
            pq.write_table(pa.Table.from_pylist(rows), path)
        elif suffix == ".json":
            path.write_text(json.dumps(rows))
        elif suffix in (".jsonl", ".ndjson"):
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        else:
            raise ValueError(f"bar_file: unknown extension {suffix}")
        return path

    return write


@pytest.fixture
def minute_bars():
    """make(n, start=2024-01-02 14:30 UTC, step_seconds=60, ts=str-format fn) -> list of valid bar dicts.

    Bar i: open 100+i, high open+2, low open-1, close open+1, volume 10+i; `ts(datetime)` renders
    the timestamp (default ISO with +00:00)."""
    from datetime import datetime, timedelta

    def make(n: int, start: datetime | None = None, step_seconds: int = 60, ts=None) -> list[dict]:
        start = start or datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
        render = ts or (lambda d: d.isoformat(sep=" "))
        return [
            {
                "ts": render(start + timedelta(seconds=i * step_seconds)),
                "open": 100.0 + i,
                "high": 102.0 + i,
                "low": 99.0 + i,
                "close": 101.0 + i,
                "volume": 10.0 + i,
            }
            for i in range(n)
        ]

    return make


@pytest.fixture(scope="session")
def spark():
    """One local Spark (2 cores, tasks retried up to 4 times) for every Spark test: the JVM starts once."""
    pytest.importorskip("pyspark", reason="the Spark engine needs pyspark (pip install 'barstore[spark]')")
    from barstore.spark.session import spark_session
    from barstore.spark.settings import SparkSettings

    with spark_session(SparkSettings(master="local[2]")) as session:
        yield session
