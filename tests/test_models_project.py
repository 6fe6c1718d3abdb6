"""Model discovery, header parsing, dependency extraction, the DAG and selectors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from barstore.errors import ModelError
from barstore.transform.dag import print_dag
from barstore.transform.dependencies import tables_read
from barstore.transform.project import load_project
from barstore.transform.selectors import select_models

from .model_fixtures import RESAMPLE_PROJECT, write_project

REPO_SQL = Path(__file__).resolve().parents[1] / "sql"


def _model(name: str, sql: str, extra: str = "") -> str:
    return f"-- {name}: test model\n{extra}{sql}\n"


def test_header_settings_and_defaults(tmp_path):
    project = load_project(write_project(tmp_path, RESAMPLE_PROJECT))
    bars = project.models["bars_5m"]
    assert (bars.materialized, bars.time_column, bars.partition_column, bars.lookback) == (
        "incremental",
        "ts",
        "symbol",
        "5 minutes",
    )
    assert bars.folder == "bars" and bars.description == "5-minute bars"
    assert bars.config["grain"] == "one row per (symbol, ts)"
    assert bars.display_path == "sql/bars/bars_5m.sql"
    table = project.models["volume_by_symbol"]
    assert (table.materialized, table.lookback, table.time_column) == ("table", "0 seconds", None)


def test_sql_hash_ignores_the_description_but_not_settings(tmp_path):
    a = load_project(write_project(tmp_path / "a", {"m.sql": "-- m: one\nSELECT 1 AS x"})).models["m"]
    b = load_project(write_project(tmp_path / "b", {"m.sql": "-- m: two\nSELECT 1 AS x;"})).models["m"]
    c = load_project(
        write_project(tmp_path / "c", {"m.sql": "-- m: one\n-- materialized: view\nSELECT 1 AS x"})
    ).models["m"]
    assert a.sql_hash == b.sql_hash != c.sql_hash


def test_sql_hash_ignores_prose_and_grain(tmp_path):
    """Rewording the header's prose or its grain documents the model; it must not force a full rebuild."""
    texts = [
        "-- m: one\n-- grain: one row\n-- materialized: table\n-- The rule is this.\nSELECT 1 AS x",
        "-- m: one\n-- grain: a single row\n-- materialized: table\n-- The rule, reworded.\nSELECT 1 AS x",
    ]
    a, b = (load_project(write_project(tmp_path / str(i), {"m.sql": t})).models["m"] for i, t in enumerate(texts))
    assert a.config["grain"] != b.config["grain"]
    assert a.sql_hash == b.sql_hash


@pytest.mark.parametrize(
    "text, message",
    [
        ("SELECT 1", "sql/bad.sql: missing header"),
        ("-- other: purpose\nSELECT 1", "sql/bad.sql:1: the header's first line must be `-- bad: <purpose>`"),
        (
            "-- bad: x\n-- grain: one row\n-- Rule: prose read as a setting\nSELECT 1",
            "sql/bad.sql:3: unknown header setting 'Rule'; the settings are grain, materialized",
        ),
        ("-- bad: x\n-- materialised: view\nSELECT 1", "sql/bad.sql:2: unknown header setting 'materialised'"),
        ("-- bad: x\n-- materialized: ephemeral\nSELECT 1", "sql/bad.sql: unknown materialization 'ephemeral'"),
        ("-- bad: x\n-- materialized: incremental\nSELECT 1", "sql/bad.sql: incremental models need"),
        (
            "-- bad: x\n-- materialized: incremental\n-- time_column: ts\n-- lookback: two days\nSELECT 1",
            "sql/bad.sql: lookback 'two days' is not a DuckDB interval",
        ),
        ("-- bad: x\nSELEC 1 FROM", "sql/bad.sql: cannot parse the SQL"),
        ("-- bad: x\nSELECT 1; SELECT 2", "sql/bad.sql: expected exactly one SELECT statement, found 2"),
        ("-- bad: x\nCREATE TABLE t (a INT)", "sql/bad.sql: a model must be a SELECT query"),
        ("-- bad: x\n", "sql/bad.sql: no SQL query after the header"),
        ("-- bad: x\n-- distribution: everywhere\nSELECT 1", "sql/bad.sql: unknown distribution 'everywhere'"),
        (
            "-- bad: x\n-- materialized: incremental\n-- time_column: ts\n-- distribution: broadcast\nSELECT 1",
            "sql/bad.sql: an incremental model is per symbol",
        ),
    ],
)
def test_bad_model_files_are_named_in_the_error(tmp_path, text, message):
    sql_dir = write_project(tmp_path, {"bad.sql": text})
    with pytest.raises(ModelError) as err:
        load_project(sql_dir)
    assert message in str(err.value)


def test_duplicate_model_names_across_folders(tmp_path):
    sql_dir = write_project(tmp_path, {"a/m.sql": _model("m", "SELECT 1"), "b/m.sql": _model("m", "SELECT 2")})
    with pytest.raises(ModelError, match=r"sql/b/m.sql: duplicate model name 'm' \(also sql/a/m.sql\)"):
        load_project(sql_dir)


def test_tables_read_skips_ctes_table_functions_and_build_window():
    sql = """
    WITH bars AS (SELECT * FROM raw.bars b JOIN build_window w USING (symbol)),
         latest AS (SELECT symbol, max(ts) AS ts FROM bars GROUP BY symbol)
    SELECT l.*, s.calendar, g.i
    FROM latest l
    JOIN main.bars_1m m USING (symbol)
    JOIN Raw.Symbols s USING (symbol), generate_series(1, 3) AS g(i)
    WHERE l.symbol IN (SELECT symbol FROM raw.calendars_x) AND EXISTS (SELECT 1 FROM read_parquet('x.parquet'))
    UNION ALL SELECT * FROM other_model
    """
    assert tables_read(sql) == {"raw.bars", "bars_1m", "raw.symbols", "raw.calendars_x", "other_model"}
    assert "build_window" in tables_read(sql, keep_window=True)


def test_tables_read_inside_a_pivot_cte():
    # sqlglot cannot scope a CTE whose body is a PIVOT: its name must not become a table, its tables count.
    sql = """
    WITH p AS (PIVOT (SELECT symbol, close FROM raw.bars) ON symbol USING first(close)),
         q AS (SELECT * FROM bars_1m)
    SELECT * FROM p, q
    """
    assert tables_read(sql) == {"raw.bars", "bars_1m"}


def test_dag_parents_sources_and_order(tmp_path):
    project = load_project(write_project(tmp_path, RESAMPLE_PROJECT))
    graph = project.graph
    assert graph.order == ["stg_bars", "bars_5m", "feat_5m", "volume_by_symbol"]
    assert graph.parents["feat_5m"] == ["bars_5m"] and graph.sources["feat_5m"] == []
    assert graph.sources["stg_bars"] == ["raw.bars"]
    assert graph.reads_window == {"stg_bars": False, "bars_5m": True, "feat_5m": True, "volume_by_symbol": False}
    assert graph.descendants("bars_5m") == {"feat_5m", "volume_by_symbol"}
    assert graph.ancestors("feat_5m") == {"bars_5m", "stg_bars"}


def test_cycle_is_an_error_naming_its_models(tmp_path):
    sql_dir = write_project(
        tmp_path,
        {
            "a.sql": _model("a", "SELECT * FROM c"),
            "b.sql": _model("b", "SELECT * FROM a"),
            "c.sql": _model("c", "SELECT * FROM b"),
            "d.sql": _model("d", "SELECT * FROM a"),  # downstream of the cycle, not part of it
            "e.sql": _model("e", "SELECT 1 AS x"),
        },
    )
    with pytest.raises(ModelError) as err:
        load_project(sql_dir)
    assert str(err.value) == "the models form a cycle: a -> b -> c -> a"


def test_print_dag_lists_models_in_order(tmp_path):
    from rich.console import Console

    console = Console(record=True, width=200)
    print_dag(load_project(write_project(tmp_path, RESAMPLE_PROJECT)), console=console)
    text = console.export_text()
    lines = [line for line in text.splitlines() if "│" in line and line.split("│")[1].strip().isdigit()]
    assert [line.split("│")[2].strip() for line in lines] == ["stg_bars", "bars_5m", "feat_5m", "volume_by_symbol"]
    assert "raw.bars" in lines[0] and "incremental" in lines[1] and "features" in lines[2]


@pytest.mark.parametrize(
    "selector, expected",
    [
        (None, ["stg_bars", "bars_5m", "feat_5m", "volume_by_symbol"]),
        ("bars_5m", ["bars_5m"]),
        ("bars_5m+", ["bars_5m", "feat_5m", "volume_by_symbol"]),
        ("+feat_5m", ["stg_bars", "bars_5m", "feat_5m"]),
        ("+bars_5m+", ["stg_bars", "bars_5m", "feat_5m", "volume_by_symbol"]),
        ("features/", ["feat_5m", "volume_by_symbol"]),
        ("staging/ feat_5m", ["stg_bars", "feat_5m"]),
        ("volume_by_symbol,stg_bars", ["stg_bars", "volume_by_symbol"]),
        ("+features/", ["stg_bars", "bars_5m", "feat_5m", "volume_by_symbol"]),
    ],
)
def test_selectors(tmp_path, selector, expected):
    project = load_project(write_project(tmp_path, RESAMPLE_PROJECT))
    assert select_models(project, selector) == expected


def test_nested_folder_selector(tmp_path):
    project = load_project(
        write_project(
            tmp_path,
            {
                "bars/a.sql": _model("a", "SELECT 1 AS x"),
                "bars/deep/b.sql": _model("b", "SELECT 1 AS x"),
                "barsx/c.sql": _model("c", "SELECT 1 AS x"),
            },
        )
    )
    assert select_models(project, "bars/") == ["a", "b"]
    assert select_models(project, "bars/deep/") == ["b"]


@pytest.mark.parametrize(
    "selector, message",
    [
        ("nope", "selector 'nope': no model named 'nope'"),
        ("nope+", "selector 'nope+': no model named 'nope'"),
        ("missing/", "selector 'missing/': no models under sql/missing/"),
    ],
)
def test_unknown_selector(tmp_path, selector, message):
    project = load_project(write_project(tmp_path, RESAMPLE_PROJECT))
    with pytest.raises(ModelError, match=re.escape(message)):
        select_models(project, selector)


def test_distribution_and_a_tables_partition_column_leave_the_hash(tmp_path):
    """Neither changes what a table build writes: declaring them must not force a rebuild of stored tables."""
    texts = [
        "-- m: one\n-- materialized: table\nSELECT 1 AS x",
        "-- m: one\n-- materialized: table\n-- partition_column: root\n-- distribution: broadcast\nSELECT 1 AS x",
    ]
    a, b = (load_project(write_project(tmp_path / str(i), {"m.sql": t})).models["m"] for i, t in enumerate(texts))
    assert (a.distribution, a.per_symbol, b.distribution, b.per_symbol) == ("symbol", True, "broadcast", False)
    assert a.sql_hash == b.sql_hash


def test_the_repository_models_parse():
    if not any(REPO_SQL.rglob("*.sql")):
        pytest.skip(f"no models in {REPO_SQL} yet")
    project = load_project(REPO_SQL)
    assert set(project.graph.order) == set(project.models)
