"""`barstore sql`: read-only queries rendered as a table, CSV, JSON or Parquet."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from barstore.cli import app
from barstore.errors import BarstoreError
from barstore.query import run_query
from barstore.warehouse import connect


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.ducklake"
    con = connect(path)
    con.execute("CREATE TABLE numbers AS SELECT i, i * i AS sq, 'n' || i AS name FROM range(120) t(i)")
    con.close()
    return path


def _cli(tmp_path, *args):
    return CliRunner().invoke(app, ["sql", *args, "--home", str(tmp_path)])


def test_table_shows_the_first_rows_and_the_total(warehouse, capsys):
    run_query(warehouse, "SELECT * FROM numbers ORDER BY i", "table", None, max_rows=5)
    out = capsys.readouterr().out
    assert "showing 5 of 120 rows" in out
    assert "│ 4 │ 16 │ n4" in out and "n5 " not in out


def test_small_result_says_its_row_count(warehouse, capsys):
    run_query(warehouse, "SELECT count(*) AS n FROM numbers;", "table", None)
    out = capsys.readouterr().out
    assert "120" in out and "1 row" in out


def test_csv_and_json_to_stdout(warehouse, capsys):
    run_query(warehouse, "SELECT i, sq FROM numbers WHERE i < 3 ORDER BY i", "csv", None)
    assert capsys.readouterr().out == "i,sq\n0,0\n1,1\n2,4\n"
    run_query(warehouse, "SELECT i, name FROM numbers WHERE i IN (7, 8) ORDER BY i", "json", None)
    assert json.loads(capsys.readouterr().out) == [{"i": 7, "name": "n7"}, {"i": 8, "name": "n8"}]


def test_files_in_every_format(warehouse, tmp_path):
    for fmt in ("csv", "json", "parquet"):
        out = tmp_path / "out" / f"numbers.{fmt}"
        run_query(warehouse, "SELECT * FROM numbers WHERE i >= 100", fmt, out)
        assert out.exists()
    assert pq.read_table(tmp_path / "out" / "numbers.parquet").num_rows == 20
    assert len(json.loads((tmp_path / "out" / "numbers.json").read_text())) == 20
    assert (tmp_path / "out" / "numbers.csv").read_text().count("\n") == 21


def test_parquet_needs_an_output_file(warehouse):
    with pytest.raises(BarstoreError, match="--format parquet .* --output FILE"):
        run_query(warehouse, "SELECT 1", "parquet", None)


def test_sql_error_and_read_only(warehouse):
    with pytest.raises(BarstoreError, match='query failed: .*"nope"'):
        run_query(warehouse, "SELECT nope FROM numbers", "table", None)
    with pytest.raises(BarstoreError, match="query failed: .*read-only"):
        run_query(warehouse, "DELETE FROM numbers", "table", None)
    assert connect(warehouse).execute("SELECT count(*) FROM numbers").fetchone()[0] == 120


def test_cli_formats(warehouse, tmp_path):
    result = _cli(tmp_path, "SELECT i FROM numbers WHERE i < 2 ORDER BY i", "--format", "csv")
    assert result.exit_code == 0 and result.stdout == "i\n0\n1\n"
    result = _cli(tmp_path, "SELECT i FROM numbers", "-f", "parquet", "-o", str(tmp_path / "n.parquet"))
    assert result.exit_code == 0 and pq.read_table(tmp_path / "n.parquet").num_rows == 120
    result = _cli(tmp_path, "SELECT max(i) AS top FROM numbers")
    assert result.exit_code == 0 and "119" in result.stdout


def test_cli_errors_exit_non_zero_without_traceback(warehouse, tmp_path):
    result = _cli(tmp_path, "SELECT 1", "-f", "parquet")
    assert result.exit_code == 1 and "--output FILE" in result.stderr
    result = _cli(tmp_path, "SELEC 1")
    assert result.exit_code == 1 and "query failed" in result.stderr and "Traceback" not in result.stderr


def test_wide_results_are_shown_one_block_per_row(tmp_path, capsys):
    """A result too wide for the console (here 40 columns in 80 characters) is shown as `column value` lines per
    row instead of a table squeezed to empty cells; duplicate column names keep their own values."""
    path = tmp_path / "warehouse.ducklake"
    con = connect(path)
    con.execute(
        "CREATE TABLE wide AS SELECT "
        + ", ".join(f"{k} * 1.5 AS column_{k}" for k in range(40))
        + ", 'last' AS note FROM range(3)"
    )
    con.close()
    run_query(path, "SELECT *, 7 AS note FROM wide", "table", None, max_rows=2)
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    assert ["row", "1"] in lines and ["row", "2"] in lines and ["row", "3"] not in lines
    assert ["column_39", "58.5"] in lines and ["note", "last"] in lines and ["note", "7"] in lines
    assert "showing 2 of 3 rows" in out
    run_query(path, "SELECT column_1, note FROM wide LIMIT 1", "table", None)  # narrow: still a table
    assert "│ 1.5      │ last │" in capsys.readouterr().out
