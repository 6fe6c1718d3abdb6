"""The `barstore` command line. Heavy libraries (Feast, torch, GX, even DuckDB) load inside commands
so that `barstore --help` stays fast."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from .options import Engine, EngineOpt, HomeOpt, MasterOpt, PartitionsOpt

app = typer.Typer(
    help="barstore: bars in DuckDB -> SQL feature models -> Feast -> LSTM training and prediction.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Label(str, Enum):
    start = "start"
    end = "end"


class BadRows(str, Enum):
    fail = "fail"
    quarantine = "quarantine"


class Prices(str, Enum):
    raw = "raw"
    adjusted = "adjusted"


class OutsideSession(str, Enum):
    refuse = "refuse"
    keep = "keep"


# Kept here (not imported from barstore.ingest.presets) so that --help needs no DuckDB; a test keeps them equal.
PRESET_NAMES = ("yahoo", "tradestation", "firstrate")


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def _run(fn):
    """Run a command body; user errors print plainly and exit non-zero."""
    from ..errors import BarstoreError

    try:
        return fn()
    except BarstoreError as err:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(err.exit_code) from None


_project_dir: list[str | None] = [None]  # --project-dir, set by the app's callback for the command it runs


@app.callback()
def _options(
    project_dir: str | None = typer.Option(
        None,
        "--project-dir",
        envvar="BARSTORE_PROJECT_DIR",
        help="The project (sql/, feature_repo/, barstore_project.toml); default: the working directory or above.",
    ),
):
    _project_dir[0] = project_dir


def _workspace(home):
    from ..home import resolve_home

    return resolve_home(home, _project_dir[0])


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="CSV, Parquet or JSON files."),
    symbol: str | None = typer.Option(None, help="Symbol of the bars (optional when the file has a symbol column)."),
    timeframe: str = typer.Option(..., help="Bar timeframe: 1m, 5m, 15m, 1h, 4h, 1d."),
    tz: str | None = typer.Option(None, help="Zone of naive timestamps, e.g. America/New_York."),
    calendar: str | None = typer.Option(
        None,
        help="Session calendar of new symbols: us_rth, cme_globex, cme_rth, fx_24x5, crypto_24x7, or your own "
        "(barstore calendar list).",
    ),
    label: Label | None = typer.Option(
        None, help="Whether timestamps mark each bar's start or end (default: the preset's, else start)."
    ),
    contract: str | None = typer.Option(None, help="Futures contract, e.g. ENQ.H24 (needs --root)."),
    root: str | None = typer.Option(None, help="Futures root of --contract, e.g. NQ: its continuous series."),
    on_bad_rows: BadRows = typer.Option(
        BadRows.fail, help="fail: refuse the file; quarantine: store bad rows in raw.rejected_bars."
    ),
    replace: bool = typer.Option(False, help="Overwrite existing bars whose values differ."),
    preset: str | None = typer.Option(
        None, help=f"Vendor layout: {', '.join(PRESET_NAMES)} (columns, header, and zone/label where fixed)."
    ),
    column: list[str] | None = typer.Option(
        None,
        "--column",
        help="ROLE=COLUMN, repeatable; roles ts, open, high, low, close, volume, symbol, adj_close. "
        "ts=Date+Time joins a date and a time column, volume=Up+Down sums columns.",
    ),
    header: bool | None = typer.Option(
        None, "--header/--no-header", help="CSV: whether the first line names the columns (default: yes)."
    ),
    names: str | None = typer.Option(None, help="CSV column names, comma-separated (a headerless file's)."),
    ts_format: str | None = typer.Option(
        None, "--ts-format", help="strptime format of the timestamp text, e.g. '%m/%d/%Y %H:%M'."
    ),
    prices: Prices | None = typer.Option(
        None,
        help="For files with an adj_close column (required there): raw = open/high/low/close as in the file; "
        "adjusted = scaled by adj_close/close (dividends included).",
    ),
    outside_session: OutsideSession = typer.Option(
        OutsideSession.refuse,
        help="Intraday bars outside every session of the calendar: refuse = bad rows (see --on-bad-rows); "
        "keep = store them (they join the trading day they are stamped on).",
    ),
    home: str | None = HomeOpt,
):
    """Validate bar files and load them into raw.bars (one transaction per invocation)."""

    def body():
        from ..ingest import IngestOptions, ingest_files
        from ..ingest.mapping import parse_column_options
        from ..warehouse import connect

        ws = _workspace(home)
        opts = IngestOptions(
            symbol=symbol,
            timeframe=timeframe,
            tz=tz,
            calendar=calendar,
            label=label.value if label else None,
            contract=contract,
            root=root,
            on_bad_rows=on_bad_rows.value,
            replace=replace,
            preset=preset,
            columns=parse_column_options(column or []),
            header=header,
            names=tuple(n.strip() for n in names.split(",")) if names else None,
            ts_format=ts_format,
            prices=prices.value if prices else None,
            outside_session=outside_session.value,
        )
        con = connect(ws.warehouse)
        report = ingest_files(con, paths, opts)
        report.print()

    _run(body)


@app.command()
def build(
    select: str | None = typer.Option(None, "--select", "-s", help="dbt-like selector: name, name+, +name, folder/."),
    full_refresh: bool = typer.Option(False, help="Rebuild incremental models from scratch."),
    engine: Engine = EngineOpt,
    master: str | None = MasterOpt,
    partitions: int | None = PartitionsOpt,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print the warehouse's memory and thread settings."),
    home: str | None = HomeOpt,
):
    """Build the SQL models in dependency order, in one commit (readers see the state before until it lands);
    with --engine spark, Spark tasks build shards of symbols, each with DuckDB and the same models."""

    def body():
        from ..warehouse import connect
        from ..warehouse_settings import warehouse_settings

        ws = _workspace(home)
        settings = warehouse_settings(home=ws.home, project_dir=ws.project_dir)
        if verbose:
            print("warehouse settings ([warehouse] in barstore_project.toml): " + "; ".join(settings.lines()))
        con = connect(ws.warehouse, settings=settings)
        if engine is Engine.spark:
            from ..spark.build import build_with_spark
            from ..spark.settings import spark_settings

            spark = spark_settings(ws.project_dir).with_options(master, partitions)
            build_with_spark(con, ws.sql_dir, spark, select=select, full_refresh=full_refresh, show=True)
        else:
            from ..transform.runner import build_models

            build_models(con, ws.sql_dir, select=select, full_refresh=full_refresh, show=True)

    _run(body)


@app.command()
def dag(home: str | None = HomeOpt):
    """Print the model graph (inferred from the tables each query reads)."""

    def body():
        from ..transform.dag import print_dag
        from ..transform.project import load_project

        print_dag(load_project(_workspace(home).sql_dir))

    _run(body)


@app.command()
def lineage(
    target: str = typer.Argument(..., help="MODEL.COLUMN, e.g. bars_1d.close"),
    home: str | None = HomeOpt,
):
    """Column-level lineage of a model column down to raw.bars columns."""

    def body():
        from ..transform.lineage import print_lineage
        from ..transform.project import load_project
        from ..warehouse import connect

        ws = _workspace(home)
        print_lineage(load_project(ws.sql_dir), target, con=connect(ws.warehouse, read_only=True))

    _run(body)


@app.command()
def roll(
    root: str = typer.Argument(..., help="Futures root, e.g. NQ."),
    back_adjust: bool | None = typer.Option(
        None, "--back-adjust/--no-back-adjust", help="Additive back-adjustment of the continuous series."
    ),
    offset_days: int | None = typer.Option(
        None, "--offset-days", help="Fixed-date roll: this many calendar days before expiry (default 8)."
    ),
    home: str | None = HomeOpt,
):
    """Show or change a futures root's roll settings (they apply at the next `barstore build`)."""

    def body():
        from ..contracts import set_roll_config
        from ..warehouse import connect

        cfg = set_roll_config(connect(_workspace(home).warehouse), root, back_adjust, offset_days)
        print(f"{cfg.root}: back_adjust={cfg.back_adjust}, roll_offset_days={cfg.roll_offset_days}")

    _run(body)


@app.command()
def migrate(home: str | None = HomeOpt):
    """Move a warehouse of the single-file layout (warehouse.duckdb) into the snapshot store."""

    def body():
        from ..migrate import migrate_home

        ws = _workspace(home)
        done = migrate_home(ws.home, ws.warehouse)
        for name, n in done.rows.items():
            print(f"{name}: {n:,} rows")
        print(f"read with {done.exporter}; the old file is kept as {done.backup} (delete it when satisfied).")
        print("Run `barstore build` next: the SQL models are rebuilt from the migrated bars.")

    _run(body)


@app.command()
def sql(
    query: str = typer.Argument(..., help="A SQL query over the warehouse (models by plain name)."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    home: str | None = HomeOpt,
):
    """Run a read-only SQL query on the warehouse."""

    def body():
        from ..query import run_query

        run_query(_workspace(home).warehouse, query, format.value, output)

    _run(body)


class Online(str, Enum):
    sqlite = "sqlite"
    redis = "redis"


OnlineOpt = typer.Option(Online.sqlite, "--online", help="Online store: sqlite (embedded) or redis ($BARSTORE_REDIS).")


@app.command()
def apply(online: Online = OnlineOpt, home: str | None = HomeOpt):
    """Register feature_repo/ (entity, feature views, feature services) in the workspace's Feast registry."""

    def body():
        from ..feature_store import apply as feast_apply

        names = feast_apply(_workspace(home), online.value)
        print(f"registered {len(names)} Feast objects: {', '.join(names)}")

    _run(body)


@app.command()
def materialize(
    incremental: bool = typer.Option(False, help="Only rows since the last materialization (scalar views)."),
    as_of: str | None = typer.Option(None, help="Materialize as of this UTC time (default: now)."),
    online: Online = OnlineOpt,
    home: str | None = HomeOpt,
):
    """Write the latest scalar features and every model's latest window per symbol to the online store."""

    def body():
        from inference.materialize import materialize_all

        materialize_all(_workspace(home), online.value, as_of=as_of, incremental=incremental)

    _run(body)


@app.command()
def window(
    symbol: str = typer.Argument(..., help="Symbol, e.g. BTCUSDT."),
    model: str = typer.Argument(
        ..., help="seq300_minute, seq500_minute, seq800_minute, seq500_hourly, longterm_multitf"
    ),
    online: Online = OnlineOpt,
    home: str | None = HomeOpt,
):
    """Show the online window a prediction of MODEL for SYMBOL would use (after `barstore materialize`)."""

    def body():
        from inference.windows import show_window

        from ..feature_store import open_store

        show_window(open_store(_workspace(home), online.value), symbol, model)

    _run(body)


@app.command()
def demo(
    files: list[Path] | None = typer.Argument(None, help="Bar files to use instead of synthetic bars."),
    days: int = typer.Option(
        640, help="Days of synthetic 1-minute bars (the long-term model's gate needs ~620: 200 daily samples)."
    ),
    symbols: int = typer.Option(3, help="Number of synthetic symbols."),
    epochs: int = typer.Option(1, help="Epochs of each model's brief training run."),
    max_samples: int = typer.Option(
        1200, "--max-samples", help="Samples per model's training run (at most; above the gate's 1,000 minimum)."
    ),
    home: str | None = HomeOpt,
):
    """Build a workspace end to end on synthetic bars (or named files), validate and train the five models,
    serve their predictions, and summarise it."""

    def body():
        from .demo import run_demo

        run_demo(
            _workspace(home), files=files or [], days=days, n_symbols=symbols, epochs=epochs, max_samples=max_samples
        )

    _run(body)


def main() -> None:  # pragma: no cover - entry point
    app()


# The later stages' commands are defined beside their options, in one module each; every module imports only
# typer at start-up, so `barstore --help` stays fast.
from . import backtest, calendar, live, serving, training, validation  # noqa: E402

for _stage in (calendar, validation, training, serving, live, backtest):
    _stage.register(app)
