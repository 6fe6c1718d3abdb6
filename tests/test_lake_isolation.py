"""One process, several lakes: a lake left attached (its home deleted, or pinned at a snapshot since expired) must
not break connections to other homes. DuckDB's catalog listings visit every attached lake, so connect and the SQL
runner read only their own lake's catalog."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from barstore import lake
from barstore.transform.runner import build_models
from barstore.warehouse import connect, write_transaction


def _catalog(home):
    home.mkdir()
    return home / "warehouse.ducklake"


def _home_with_table(home):
    con = connect(_catalog(home))
    with write_transaction(con):
        con.execute("CREATE TABLE t1 AS SELECT range AS a FROM range(10)")
    return con


def _build_one_model(tmp_path, con) -> int:
    models = tmp_path / "models"
    models.mkdir()
    (models / "m.sql").write_text("-- m: one row\nSELECT 1 AS x\n")
    build_models(con, models, show=False)
    return con.execute("SELECT count(*) FROM m").fetchone()[0]


def test_a_deleted_home_left_attached_does_not_break_another(tmp_path):
    gone = tmp_path / "gone"
    left_open = _home_with_table(gone)  # still referenced: its lake stays attached
    shutil.rmtree(gone)
    con = connect(_catalog(tmp_path / "live"))
    assert con.execute("SELECT count(*) FROM raw.bars").fetchone()[0] == 0
    assert _build_one_model(tmp_path, con) == 1
    with pytest.raises(duckdb.ConnectionException):  # closed and detached, not left to fail others
        left_open.execute("SELECT 1")


def test_an_expired_pinned_snapshot_does_not_break_another_connection(tmp_path):
    writer = _home_with_table(tmp_path / "a")
    catalog = tmp_path / "a" / "warehouse.ducklake"
    pinned = connect(catalog, read_only=True, snapshot=lake.snapshot_id(writer))
    assert pinned.execute("SELECT count(*) FROM t1").fetchone()[0] == 10
    with write_transaction(writer):
        writer.execute("DROP TABLE t1")
    writer.execute(f"CALL ducklake_expire_snapshots('{lake.alias(writer)}', older_than => now() + INTERVAL 1 DAY)")
    with pytest.raises(duckdb.Error, match="No snapshot found"):  # what a catalog listing now meets
        pinned.execute("SELECT count(*) FROM duckdb_tables()").fetchall()
    con = connect(_catalog(tmp_path / "b"))
    assert con.execute("SELECT count(*) FROM raw.symbols").fetchone()[0] == 0
    assert _build_one_model(tmp_path, con) == 1
