"""`barstore demo` end to end on a small synthetic workspace, through the real CLI."""

import importlib
import re

import pytest
from typer.testing import CliRunner

from barstore.synthetic import demo_specs, write_demo_files
from barstore.warehouse import connect


def _unimportable(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except ImportError as err:
        return f"{module} ({err})"
    return None


_MISSING = [m for m in map(_unimportable, ("barstore.ingest", "barstore.transform.runner")) if m]
pytestmark = pytest.mark.skipif(bool(_MISSING), reason=f"the demo needs {', '.join(_MISSING)}, not importable yet")

DAYS = 10  # 2024-01-01 (Mon) .. 01-10: 10 crypto days, 8 weekdays of which New Year's Day is a holiday
EXPECTED_ROWS = {"SYN_BTC": 10 * 1440, "SYN_ES": 7 * 1380, "SYN_SPY": 7 * 390}


def run_demo_cli(home, *args):
    from barstore.cli import app

    return CliRunner().invoke(app, ["demo", "--home", str(home), "--days", str(DAYS), "--symbols", "3", *args])


def stages_through(title: str) -> list:
    """The demo's stages up to and including the one titled `title`."""
    from barstore.cli.demo import STAGES

    titles = [s.title for s in STAGES]
    return STAGES[: titles.index(title) + 1]


def raw_counts(home) -> dict[str, int]:
    with connect(home / "warehouse.ducklake", read_only=True) as con:
        return dict(con.execute("SELECT symbol, count(*) FROM raw.bars GROUP BY symbol").fetchall())


SPARK_STAGES = ("build the same models on Spark and compare", "write a training set as shards by symbol on Spark")


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    """The demo through the CLI, every stage but the two Spark ones (2-3 minutes of a 2-core machine: what they
    run, the Spark build compared with the local one and a set written as shards, is tested in
    test_spark_build.py and test_dataset_shards.py)."""
    from barstore.cli import demo

    home = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "STAGES", [s for s in demo.STAGES if s.title not in SPARK_STAGES])
        result = run_demo_cli(home)
    assert result.exit_code == 0, result.output
    return home, result.output


def test_the_demo_ends_with_its_spark_stages():
    from barstore.cli.demo import STAGES

    assert tuple(s.title for s in STAGES[-2:]) == SPARK_STAGES


def test_demo_builds_the_warehouse(demo_home):
    home, output = demo_home
    assert f"warehouse: {home / 'warehouse.ducklake'}" in output
    assert raw_counts(home) == EXPECTED_ROWS
    assert "try: barstore sql" in output
    with connect(home / "warehouse.ducklake", read_only=True) as con:
        daily = dict(con.execute("SELECT symbol, count(*) FROM bars_1d GROUP BY symbol").fetchall())
        hourly_btc = con.execute("SELECT count(*) FROM bars_1h WHERE symbol = 'SYN_BTC'").fetchone()[0]
    assert daily == {"SYN_BTC": 10, "SYN_ES": 7, "SYN_SPY": 7}
    assert hourly_btc == 10 * 24
    assert "SYN_ES" in output and "bars_1d" in output


def test_demo_trains_what_passes_the_gate_and_shows_what_fails(demo_home):
    """10 days are enough for the two shorter minute models' gate, not for the others: the demo trains the first,
    and shows the failed expectations of the rest without training them."""
    home, output = demo_home
    trained = {p.parent.parent.name for p in (home / "models").glob("*/*/model.pt")}
    assert trained == {"seq300_minute", "seq500_minute"}
    for model in ("seq800_minute", "seq500_hourly", "longterm_multitf"):
        assert f"{model} not trained: its data failed validation" in output
        assert (home / "reports" / "validation" / model / "index.html").exists()
    assert "observed 0, expected >= 200" in output  # the long-term model's sample minimum, with the count
    # the later stages ran too: the online windows, the predictions and the walk-forward backtest with its report
    assert re.search(r"done \[\d+/\d+\] backtest the last", output), output
    assert (home / "reports" / "backtest" / "report.md").exists()


def test_demo_twice_is_a_no_op(demo_home, monkeypatch):
    """`barstore demo` again on the same home (through the CLI) ingests nothing and finds every model built. What
    this checks ends at the warehouse and the registry: the stages after them (training, serving, the backtest,
    Spark) are left out of the second run; the module's first run goes through all of them."""
    from barstore.cli import demo

    home, _ = demo_home
    monkeypatch.setattr(demo, "STAGES", stages_through("register Feast feature repo"))
    again = run_demo_cli(home)
    assert again.exit_code == 0, again.output
    assert "(+0 this run)" in again.output
    assert raw_counts(home) == EXPECTED_ROWS
    assert "done [4/4] register Feast feature repo" in again.output and "[5/" not in again.output
    for model in ("resampled_bars", "indicators", "volume_profile_day"):  # the incremental models: nothing new
        assert f"done {model}: up to date" in again.output, again.output


def test_demo_on_user_files(tmp_path):
    # Files named like the real data: calendar and timeframe come from the name, symbol from the column.
    made = write_demo_files(tmp_path / "in", days=3, n_symbols=3)
    renamed = []
    for f, name in zip(made, ["btc_1min.parquet", "es_1min_globex.parquet", "spy_1min_rth.parquet"]):
        renamed.append(f.path.rename(tmp_path / "in" / name))
    from barstore.cli.demo import run_demo
    from barstore.home import resolve_home

    home = tmp_path / "home"
    # what this checks ends at the warehouse (the module's demo runs every stage)
    run_demo(resolve_home(home), renamed, days=0, n_symbols=0, stages=stages_through("build SQL models"))
    assert raw_counts(home) == {"SYN_BTC": 3 * 1440, "SYN_ES": 2 * 1380, "SYN_SPY": 2 * 390}
    with connect(home / "warehouse.ducklake", read_only=True) as con:
        calendars = dict(con.execute("SELECT symbol, calendar FROM raw.symbols").fetchall())
    assert calendars == {spec.symbol: spec.calendar for spec in demo_specs(3)}
    assert not (home / "demo_data").exists()


def test_user_file_guesses(tmp_path):
    from barstore.cli.demo import input_files_from_paths

    no_symbol = tmp_path / "es_1min_rth_2020-01.csv"
    no_symbol.write_text("ts_et,open,high,low,close,volume\n2020-01-02 09:31,1,1,1,1,1\n")
    hourly = tmp_path / "lean_us_equity_1hour_1998-2021.csv"
    hourly.write_text("symbol,ts,open,high,low,close,volume\nSPY,2020-01-02 14:00,1,1,1,1,1\n")
    plain = tmp_path / "btcusdt.csv"
    plain.write_text("ts,open,high,low,close,volume\n2020-01-02 00:00,1,1,1,1,1\n")
    guessed = [(f.symbol, f.timeframe, f.calendar) for f in input_files_from_paths([no_symbol, hourly, plain])]
    assert guessed == [("ES", "1m", "us_rth"), (None, "1h", "us_rth"), ("BTCUSDT", "1m", "crypto_24x7")]


def test_demo_draws_the_feature_chart(tmp_path):
    """The chart stage writes a real PNG of a symbol's daily features (45 days: the module's 10 are too few)."""
    from barstore.cli.demo import run_demo
    from barstore.home import resolve_home

    run_demo(resolve_home(tmp_path), [], days=45, n_symbols=1, stages=stages_through("chart daily features"))
    charts = list((tmp_path / "reports").glob("features_*.png"))
    assert len(charts) == 1 and charts[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert charts[0].stat().st_size > 20_000
