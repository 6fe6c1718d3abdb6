"""Column-level lineage through chained models down to raw.* columns."""

from __future__ import annotations

import pytest
from rich.console import Console

from barstore.errors import ModelError
from barstore.transform.lineage import column_lineage, print_lineage, source_columns
from barstore.transform.project import load_project
from barstore.warehouse import connect

from .model_fixtures import RESAMPLE_PROJECT, write_project

STAR_STAGING = dict(
    RESAMPLE_PROJECT,
    **{"staging/stg_bars.sql": "-- stg_bars: every bar\n-- materialized: view\nSELECT * FROM raw.bars\n"},
)


@pytest.fixture
def project(tmp_path):
    return load_project(write_project(tmp_path, STAR_STAGING))


def test_leaf_columns_through_three_models(project):
    # SELECT * over raw.bars expands from the raw schema; feat_5m's f.* over bars_5m from its SQL.
    assert source_columns(project, "volume_by_symbol.volume") == {"raw.bars.volume"}
    assert source_columns(project, "feat_5m.ts") == {"raw.bars.ts"}
    # last(close ORDER BY ts), then a window partitioned by symbol and ordered by ts
    assert source_columns(project, "feat_5m.close_mean_15m") == {"raw.bars.close", "raw.bars.ts", "raw.bars.symbol"}
    assert source_columns(project, "bars_5m.n_bars") == set()  # count(*) reads no column


def test_tree_has_one_level_per_model(project):
    tree = column_lineage(project, "feat_5m.close")
    assert tree.name == "feat_5m.close"
    [bars] = tree.children
    assert bars.name == "bars_5m.close"
    assert sorted(c.name for c in bars.children) == ["stg_bars.close", "stg_bars.ts"]
    assert [leaf.name for c in bars.children for leaf in c.children] in (
        ["raw.bars.close", "raw.bars.ts"],
        ["raw.bars.ts", "raw.bars.close"],
    )
    console = Console(record=True, width=120)
    print_lineage(project, "feat_5m.close", console=console)
    text = console.export_text()
    assert text.splitlines()[0] == "feat_5m.close" and "└── bars_5m.close" in text and "raw.bars.close" in text


@pytest.mark.parametrize(
    "target, message",
    [
        ("feat_5m", "must be MODEL.COLUMN"),
        ("nope.close", "no model named 'nope'"),
        ("feat_5m.nope", "sql/features/feat_5m.sql: cannot trace column 'nope'"),
    ],
)
def test_bad_targets(project, target, message):
    with pytest.raises(ModelError, match=message):
        source_columns(project, target)


def test_star_over_an_unknown_source_says_what_is_missing(tmp_path):
    sql_dir = write_project(tmp_path, {"ext.sql": "-- ext: x\nSELECT * FROM other.thing"})
    project = load_project(sql_dir)
    with pytest.raises(ModelError, match=r"the columns of other.thing are unknown.*list the columns explicitly"):
        source_columns(project, "ext.x")
    # With a warehouse that has the table, its columns are known.
    con = connect(tmp_path / "w.duckdb")
    con.execute("CREATE SCHEMA other; CREATE TABLE other.thing (x INT, y INT)")
    assert source_columns(project, "ext.x", con) == {"other.thing.x"}
