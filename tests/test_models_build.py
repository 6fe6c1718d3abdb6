"""The model runner: full, incremental and up-to-date builds, the build window, errors and rollback."""

from __future__ import annotations

import pytest

from barstore.errors import ModelError
from barstore.transform.runner import build_models
from barstore.warehouse import connect

from .model_fixtures import RESAMPLE_PROJECT, add_bars, add_symbol, table_rows, write_project

MODELS = ("bars_5m", "feat_5m", "volume_by_symbol")


def _modes(results):
    return {r.model: r.mode for r in results}


def _runs(con):
    return {r[0]: r[1:] for r in con.execute("SELECT model, mode, rows, last_batch_id FROM meta.model_runs").fetchall()}


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path, RESAMPLE_PROJECT)


def _warehouse(tmp_path, name):
    con = connect(tmp_path / f"{name}.duckdb")
    add_symbol(con, "AAA")
    add_symbol(con, "BBB")
    return con


def test_first_build_is_full_and_records_runs(tmp_path, project):
    con = _warehouse(tmp_path, "w")
    add_bars(con, "AAA", 0, 23)  # 10:00 .. 10:22: buckets 10:00 .. 10:20, the last one partial
    batch = add_bars(con, "BBB", 0, 10)
    results = build_models(con, project, show=False)
    assert _modes(results) == {"stg_bars": "view", "bars_5m": "full", "feat_5m": "full", "volume_by_symbol": "full"}
    assert {r.reason for r in results} == {"first build"}
    assert con.execute("SELECT n_bars FROM bars_5m WHERE symbol = 'AAA' ORDER BY ts").fetchall() == [
        (5,),
        (5,),
        (5,),
        (5,),
        (3,),
    ]
    assert table_rows(con, "volume_by_symbol") == [
        ("AAA", con.execute("SELECT sum(volume) FROM raw.bars WHERE symbol = 'AAA'").fetchone()[0], 5),
        ("BBB", con.execute("SELECT sum(volume) FROM raw.bars WHERE symbol = 'BBB'").fetchone()[0], 2),
    ]
    runs = _runs(con)
    assert runs["bars_5m"] == ("full", 7, batch) and runs["stg_bars"] == ("view", None, batch)
    assert (
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'build_window'").fetchone()[0]
        == 0
    )


def test_incremental_equals_full_and_only_the_tail_is_recomputed(tmp_path, project):
    inc = _warehouse(tmp_path, "inc")
    add_bars(inc, "AAA", 0, 23)
    add_bars(inc, "BBB", 0, 40)
    build_models(inc, project, show=False)
    before = dict(inc.execute("SELECT symbol || ts::VARCHAR, rowid FROM bars_5m").fetchall())

    # New minutes 10:23 .. 10:36 for AAA only: the 10:20 bucket (partial so far) must be recomputed.
    add_bars(inc, "AAA", 23, 14)
    results = build_models(inc, project, show=False)
    assert _modes(results) == {
        "stg_bars": "view",
        "bars_5m": "incremental",
        "feat_5m": "incremental",
        "volume_by_symbol": "full",
    }
    by_model = {r.model: r for r in results}
    # since(bars_5m, AAA) = 10:23 - 5 minutes = 10:18: buckets 10:20, 10:25, 10:30, 10:35 are written.
    assert by_model["bars_5m"].rows == 4
    # feat_5m has no lookback of its own: it recomputes from bars_5m's since too.
    assert by_model["feat_5m"].rows == 4

    full = _warehouse(tmp_path, "full")
    add_bars(full, "AAA", 0, 37)
    add_bars(full, "BBB", 0, 40)
    build_models(full, project, show=False)
    for model in MODELS:
        assert table_rows(inc, model) == table_rows(full, model), model

    # Rows before since (and every BBB row) were left in place, not deleted and re-inserted.
    after = dict(inc.execute("SELECT symbol || ts::VARCHAR, rowid FROM bars_5m").fetchall())
    kept = {k for k in before if not (k.startswith("AAA") and k >= "AAA2024-01-02 10:20")}
    assert len(kept) == 4 + 8
    assert all(after[k] == before[k] for k in kept)
    assert after["AAA2024-01-02 10:20:00+00"] != before["AAA2024-01-02 10:20:00+00"]


def test_late_bar_inside_history_recomputes_from_there(tmp_path, project):
    inc = _warehouse(tmp_path, "inc")
    add_bars(inc, "AAA", 0, 10)
    add_bars(inc, "AAA", 12, 20)  # 10:10 and 10:11 are missing
    build_models(inc, project, show=False)
    add_bars(inc, "AAA", 10, 2)  # they arrive late
    results = {r.model: r for r in build_models(inc, project, show=False)}
    # since = 10:10 - 5 minutes = 10:05: buckets 10:05 .. 10:30 are rewritten, 10:00 is kept.
    assert (results["bars_5m"].mode, results["bars_5m"].rows) == ("incremental", 6)

    full = _warehouse(tmp_path, "full")
    add_bars(full, "AAA", 0, 32)
    build_models(full, project, show=False)
    for model in MODELS:
        assert table_rows(inc, model) == table_rows(full, model), model


def test_no_new_batch_means_up_to_date(tmp_path, project):
    con = _warehouse(tmp_path, "w")
    add_bars(con, "AAA", 0, 10)
    build_models(con, project, show=False)
    snapshot = table_rows(con, "feat_5m")
    results = build_models(con, project, show=False)
    assert _modes(results)["bars_5m"] == "up to date" and _modes(results)["feat_5m"] == "up to date"
    assert [r.rows for r in results if r.model == "bars_5m"] == [0]
    assert table_rows(con, "feat_5m") == snapshot
    assert _runs(con)["bars_5m"][0] == "up to date"


def test_new_symbol_is_built_from_the_start(tmp_path, project):
    con = _warehouse(tmp_path, "w")
    add_bars(con, "AAA", 0, 10)
    build_models(con, project, show=False)
    add_symbol(con, "CCC")
    add_bars(con, "CCC", 0, 10)
    results = {r.model: r for r in build_models(con, project, show=False)}
    assert (results["bars_5m"].mode, results["bars_5m"].rows) == ("incremental", 2)
    assert con.execute("SELECT DISTINCT symbol FROM bars_5m ORDER BY 1").fetchall() == [("AAA",), ("CCC",)]


def test_changed_query_rebuilds_in_full_and_so_do_its_incremental_children(tmp_path, project):
    con = _warehouse(tmp_path, "w")
    add_bars(con, "AAA", 0, 10)
    build_models(con, project, show=False)
    path = project / "bars" / "bars_5m.sql"
    path.write_text(path.read_text().replace("count(*) AS n_bars", "count(*) AS n_bars, max(b.close) AS high"))
    results = {r.model: r for r in build_models(con, project, show=False)}
    assert (results["bars_5m"].mode, results["bars_5m"].reason) == ("full", "query changed")
    assert (results["feat_5m"].mode, results["feat_5m"].reason) == ("full", "a parent was rebuilt in full")
    assert "high" in [c[0] for c in con.execute("DESCRIBE bars_5m").fetchall()]


def test_full_refresh_and_selection(tmp_path, project):
    con = _warehouse(tmp_path, "w")
    add_bars(con, "AAA", 0, 10)
    build_models(con, project, show=False)
    results = build_models(con, project, select="bars_5m", full_refresh=True, show=False)
    assert [(r.model, r.mode, r.reason) for r in results] == [("bars_5m", "full", "--full-refresh")]
    # feat_5m was not selected: it may have read rows that changed, so its next build is a full one.
    assert "feat_5m" not in _runs(con)
    results = {r.model: r for r in build_models(con, project, select="feat_5m", show=False)}
    assert (results["feat_5m"].mode, results["feat_5m"].reason) == ("full", "first build")


def test_selected_model_needs_its_parents_built(tmp_path, project):
    con = _warehouse(tmp_path, "w")
    with pytest.raises(ModelError, match=r"sql/features/feat_5m.sql: reads model bars_5m, which is not built yet"):
        build_models(con, project, select="feat_5m", show=False)


def test_unknown_table_is_an_error_naming_the_file(tmp_path):
    sql_dir = write_project(tmp_path, {"bars/x.sql": "-- x: reads nothing real\nSELECT * FROM raw.nope"})
    con = connect(tmp_path / "w.duckdb")
    with pytest.raises(ModelError, match=r"^sql/bars/x.sql: reads unknown table raw.nope$"):
        build_models(con, sql_dir, show=False)


def test_a_view_cannot_read_the_build_window(tmp_path):
    sql_dir = write_project(tmp_path, {"v.sql": "-- v: bad\n-- materialized: view\nSELECT * FROM build_window"})
    with pytest.raises(ModelError, match="sql/v.sql: a view cannot read build_window"):
        build_models(connect(tmp_path / "w.duckdb"), sql_dir, show=False)


def test_a_stored_hugeint_is_refused_because_parquet_would_round_it(tmp_path):
    big = 17417008666666669  # > 2^53: as a Parquet DOUBLE it reads back as ...668
    sql_dir = write_project(tmp_path, {"m.sql": f"-- m: x\n-- materialized: table\nSELECT {big}::HUGEINT AS n"})
    con = connect(tmp_path / "w.duckdb")
    with pytest.raises(ModelError, match=r"^sql/m.sql: column n is HUGEINT, .* cast it to DECIMAL\(38, 0\)"):
        build_models(con, sql_dir, show=False)
    (sql_dir / "m.sql").write_text(f"-- m: x\n-- materialized: table\nSELECT {big}::DECIMAL(38, 0) AS n")
    build_models(con, sql_dir, show=False)
    con.execute("CALL ducklake_flush_inlined_data(current_database())")  # one row: out of the catalog, into Parquet
    assert con.execute("SELECT n::VARCHAR FROM m").fetchall() == [(str(big),)]


def test_failing_model_rolls_back_the_whole_build(tmp_path, project):
    con = _warehouse(tmp_path, "w")
    add_bars(con, "AAA", 0, 10)
    build_models(con, project, show=False)
    runs_before = _runs(con)
    rows_before = table_rows(con, "bars_5m")
    add_bars(con, "AAA", 10, 10)
    (project / "zz").mkdir()
    (project / "zz" / "broken.sql").write_text(
        "-- broken: fails at run time\nSELECT CAST(symbol AS INTEGER) AS n FROM feat_5m"
    )
    with pytest.raises(ModelError, match=r"^sql/zz/broken.sql: Conversion Error"):
        build_models(con, project, show=False)
    assert table_rows(con, "bars_5m") == rows_before  # bars_5m's increment was undone
    assert _runs(con) == runs_before
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'broken'").fetchone()[0] == 0
    (project / "zz" / "broken.sql").unlink()
    assert _modes(build_models(con, project, show=False))["bars_5m"] == "incremental"


def test_switching_between_view_and_table(tmp_path):
    sql_dir = write_project(tmp_path, {"m.sql": "-- m: x\n-- materialized: view\nSELECT 1 AS x"})
    con = connect(tmp_path / "w.duckdb")
    build_models(con, sql_dir, show=False)
    (sql_dir / "m.sql").write_text("-- m: x\n-- materialized: table\nSELECT 2 AS x")
    build_models(con, sql_dir, show=False)
    assert con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'm'").fetchall() == [
        ("BASE TABLE",)
    ]
    assert con.execute("SELECT x FROM m").fetchall() == [(2,)]


def test_macros_run_before_models(tmp_path):
    sql_dir = write_project(
        tmp_path,
        {
            "macros/double.sql": "-- double: a macro\nCREATE OR REPLACE MACRO double_it(x) AS x * 2;",
            "m.sql": "-- m: uses the macro\nSELECT double_it(21) AS x",
        },
    )
    con = connect(tmp_path / "w.duckdb")
    assert [r.model for r in build_models(con, sql_dir, show=False)] == ["m"]
    assert con.execute("SELECT x FROM m").fetchall() == [(42,)]


def test_show_prints_a_summary(tmp_path, project, capsys):
    con = _warehouse(tmp_path, "w")
    add_bars(con, "AAA", 0, 10)
    build_models(con, project, show=True)
    out = capsys.readouterr().out
    assert "built 4 models" in out
    assert any("bars_5m" in line and "incremental" in line and "full" in line for line in out.splitlines())
