"""`barstore demo`: a workspace built end to end, as a list of stages that later features append to.

Each stage is a function of the shared `DemoRun`; it may return a one-line result, add hints for the user
and leave data for later stages in `run.state`. After the stages, a summary shows what the warehouse holds.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..calendars import BUILTIN
from ..errors import BarstoreError
from ..home import Workspace
from ..synthetic import DEMO_TIMEFRAME, DemoFile, write_demo_files
from ..timeframes import TIMEFRAMES
from ..warehouse import connect

MODEL_TABLES = tuple(f"bars_{tf}" for tf in TIMEFRAMES)
DEFAULT_CALENDAR = "crypto_24x7"
_CALENDAR_ZONES = {name: cal.tz for name, cal in BUILTIN.items()}

# File-name words that reveal a user file's calendar or timeframe (see input_files_from_paths).
_CALENDAR_WORDS = {
    "rth": "us_rth",
    "equity": "us_rth",
    "equities": "us_rth",
    "stocks": "us_rth",
    "globex": "cme_globex",
    "cme": "cme_globex",
    "futures": "cme_globex",
    "es": "cme_globex",
    "nq": "cme_globex",
}
_TIMEFRAME_WORDS = {
    "1m": "1m",
    "1min": "1m",
    "5m": "5m",
    "5min": "5m",
    "15m": "15m",
    "15min": "15m",
    "1h": "1h",
    "1hour": "1h",
    "60min": "1h",
    "hourly": "1h",
    "4h": "4h",
    "4hour": "4h",
    "1d": "1d",
    "1day": "1d",
    "daily": "1d",
}


@dataclass
class DemoRun:
    """What the stages share: the workspace, the console, the bar files and an open warehouse."""

    ws: Workspace
    console: Console
    user_files: list[Path]
    days: int
    n_symbols: int
    epochs: int = 1
    max_samples: int = 1000
    inputs: list[DemoFile] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # hand-over between stages added later
    _con: Any = None

    @property
    def con(self):
        if self._con is None:
            self._con = connect(self.ws.warehouse)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


@dataclass(frozen=True)
class Stage:
    title: str
    run: Callable[[DemoRun], str | None]
    # rich allows one live display at a time: stages that draw their own progress get no spinner.
    spinner: bool = True


def _stage_files(run: DemoRun) -> str:
    if run.user_files:
        run.inputs = input_files_from_paths(run.user_files)
        return f"{len(run.inputs)} user file(s): " + ", ".join(
            f"{f.path.name} ({f.symbol or 'symbol column'}, {f.timeframe}, {f.calendar})" for f in run.inputs
        )
    if run.days < 1 or run.n_symbols < 1:
        raise BarstoreError(f"--days and --symbols must be at least 1 (got {run.days} and {run.n_symbols})")
    out_dir = run.ws.home / "demo_data"
    run.inputs = write_demo_files(out_dir, run.days, run.n_symbols)
    import pyarrow.parquet as pq

    rows = sum(pq.read_metadata(f.path).num_rows for f in run.inputs)
    return f"{len(run.inputs)} synthetic symbols, {run.days} days, {rows:,} one-minute bars in {out_dir}"


def _stage_ingest(run: DemoRun) -> str:
    from ..ingest import IngestOptions, ingest_files

    before = _count(run, "raw.bars")
    groups: dict[tuple, list[Path]] = {}
    for f in run.inputs:
        groups.setdefault((f.symbol, f.timeframe, f.calendar), []).append(f.path)
    for (symbol, timeframe, calendar), paths in groups.items():
        # Synthetic timestamps are UTC-aware; user files may be naive: read them in their calendar's zone.
        tz = _CALENDAR_ZONES[calendar] if run.user_files else None
        opts = IngestOptions(symbol=symbol, timeframe=timeframe, calendar=calendar, tz=tz)
        ingest_files(run.con, paths, opts, progress=True).print()
    after = _count(run, "raw.bars")
    return f"raw.bars: {after:,} rows ({after - before:+,} this run)"


def _stage_build(run: DemoRun) -> None:
    from ..transform.runner import build_models

    build_models(run.con, run.ws.sql_dir, show=True)


def _stage_feast(run: DemoRun) -> str:
    from ..feature_store import apply

    names = apply(run.ws)
    return f"{len(names)} Feast objects registered in {run.ws.home / 'feast'}"


def _stage_train(run: DemoRun) -> str:
    """Each model through the validation gate, then briefly trained; a model whose data fails the gate is shown
    with its failed expectations and not trained (the demo goes on: it shows what exists)."""
    from expectations.gate import ValidationFailed
    from training.run import train_model

    from ..feature_store import open_store
    from ..specs import MODELS
    from ..windows.selection import Selection

    store = open_store(run.ws)
    selection = Selection(max_samples=run.max_samples)
    done = []
    for name, spec in MODELS.items():
        run.console.rule(f"{name}: validate, then train ({run.epochs} epoch(s), at most {run.max_samples:,} samples)")
        try:
            result = train_model(
                run.ws,
                spec,
                selection,
                epochs=run.epochs,
                seed=0,
                device="cpu",
                console=run.console,
                store=store,
                con=run.con,
            )
        except ValidationFailed as failed:
            run.console.print(failed.report.table())
            run.console.print(f"[yellow]{name} not trained[/]: its data failed validation ({failed.report.docs_path})")
            done.append(f"{name} failed the gate")
            continue
        test = result.metrics["test"]["accuracy"]
        done.append(f"{name} test accuracy {test['value']:.1%} (n={test['n']:,})")
    run.hints.append(f"barstore models{_home_flag(run.ws)}   (the runs and their test figures)")
    return "; ".join(done)


def _stage_online(run: DemoRun) -> str:
    from inference import materialize_windows

    from ..feature_store import open_store

    report = materialize_windows(open_store(run.ws), run.con)
    symbol = run.con.execute("SELECT min(symbol) FROM raw.symbols").fetchone()[0]
    run.hints.append(
        f"barstore window {symbol} seq300_minute{_home_flag(run.ws)}   (the online window a prediction uses)"
    )
    return "online windows: " + ", ".join(f"{m} {r['windows']}" for m, r in report.items())


def _stage_chart(run: DemoRun) -> str:
    from ..plots import daily_features_chart

    row = run.con.execute(
        "SELECT symbol FROM features_1d GROUP BY symbol ORDER BY count(*) DESC, symbol LIMIT 1"
    ).fetchone()
    if row is None:
        return "no daily features to chart"
    symbol = row[0]
    path = daily_features_chart(run.con, symbol, run.ws.reports_dir / f"features_{symbol}.png")
    return f"chart of {symbol}'s daily features: {path}"


def _stage_predict(run: DemoRun) -> str:
    """Each symbol's ensemble decision from its online windows, as `barstore predict` prints it. The bars are
    historical, so "now" is each symbol's last minute close (the time its windows are current at)."""
    from inference.predict import open_predictor

    from .serving import print_report

    predictor = open_predictor(run.ws)
    ends = run.con.execute(
        "SELECT symbol, max(ts_close) FROM bars_1m WHERE is_complete GROUP BY symbol ORDER BY symbol"
    ).fetchall()
    decided = []
    for symbol, end in ends:
        try:
            report = predictor.predict([symbol], as_of=end)
        except BarstoreError as err:  # a model without a run or window: say so, go on with the others
            run.console.print(f"[yellow]{symbol}[/]: {err}", soft_wrap=True)
            decided.append(f"{symbol} no prediction")
            continue
        print_report(report)
        decided.append(f"{symbol} {report.predictions[0].decision.action.value.upper()}")
        run.hints.append(
            f"barstore predict {symbol} --as-of {end:%Y-%m-%dT%H:%M}{_home_flag(run.ws)}   (or barstore serve)"
        )
    return "; ".join(decided)


DEMO_BACKTEST_DAYS = 5  # the walk-forward test span the demo decides over: enough to show it, quick to run


def _stage_backtest(run: DemoRun) -> str:
    """One walk-forward fold over the last days: every model retrained through the gate on what came before, the
    ensembles and baselines deciding every hourly close, as `barstore backtest` does (with its report)."""
    from datetime import timedelta

    from backtest.run import BacktestSettings, run_backtest

    last = run.con.execute("SELECT max(ts_close) FROM features_1h").fetchone()[0]
    if last is None:
        return "no hourly bars to decide on"
    settings = BacktestSettings(
        folds=1,
        epochs=run.epochs,
        max_samples=run.max_samples,
        since=last - timedelta(days=DEMO_BACKTEST_DAYS),
        bootstrap_reps=200,
    )
    result = run_backtest(run.ws, settings, console=run.console)
    pooled = {
        name: entry["pooled"]["total_return_pct"]
        for name, entry in result.results["strategies"].items()
        if entry["pooled"] is not None and name in ("three_model", "four_model", "gbm_baseline", "buy_and_hold")
    }
    run.hints.append(f"barstore backtest --folds 3{_home_flag(run.ws)}   (walk-forward over the later half)")
    returns = ", ".join(f"{name} {value:+.2f}%" for name, value in pooled.items())
    return f"{returns or 'no strategy available'}; report: {result.out / 'report.md'}"


def _stage_spark(run: DemoRun) -> str:
    """The same models built again by Spark (local[2], a shard per symbol) into a copy of the warehouse, and
    compared with the local build table by table, as `barstore build --engine spark` would build them."""
    import shutil

    from ..lake import copy_lake
    from ..spark.build import build_with_spark
    from ..spark.compare import differing_tables
    from ..spark.settings import spark_settings

    copy = run.ws.home / "spark_demo"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    copy_lake(run.ws.warehouse, copy / run.ws.warehouse.name)
    con = connect(copy / run.ws.warehouse.name)
    started = time.perf_counter()
    try:
        settings = spark_settings(run.ws.project_dir).with_options("local[2]", None)
        build = build_with_spark(con, run.ws.sql_dir, settings, full_refresh=True, show=False)
        seconds = time.perf_counter() - started
        compared = differing_tables(con, run.ws.warehouse)
    finally:
        con.close()
    unequal = {t: d for t, (d, _) in compared.items() if d}
    rows = sum(n for _, n in compared.values())
    run.hints.append(f"barstore build --engine spark --master local[2]{_home_flag(run.ws)}   (shards of symbols)")
    if unequal:
        raise BarstoreError(f"the Spark build differs from the local one: {unequal}")
    return (
        f"{build.partitions} shards in {seconds:.1f} s (Spark's start included): {len(compared)} tables, "
        f"{rows:,} rows, equal to the local build row for row"
    )


def _stage_spark_dataset(run: DemoRun) -> str:
    """seq300_minute's training set written by Spark tasks as shards by symbol, ready for a GPU machine to train on
    with `barstore train seq300_minute --from DIR` (the same weights as training here with the same seed)."""
    import shutil

    from ..spark.dataset import export_dataset_spark
    from ..spark.settings import spark_settings
    from ..specs import MODELS
    from ..windows.selection import Selection

    out = run.ws.home / "sets" / "seq300_minute"
    shutil.rmtree(out, ignore_errors=True)
    settings = spark_settings(run.ws.project_dir).with_options("local[2]", None)
    manifest = export_dataset_spark(
        run.ws, MODELS["seq300_minute"], Selection(max_samples=run.max_samples), out, settings
    )
    run.hints.append(
        f"barstore train seq300_minute --from {out} --epochs 1{_home_flag(run.ws)}   (train from the shards)"
    )
    return f"{len(manifest['shards'])} shards, {manifest['samples']:,} samples in {out}"


STAGES: list[Stage] = [
    Stage("prepare bar files", _stage_files),
    Stage("ingest into raw.bars", _stage_ingest, spinner=False),
    Stage("build SQL models", _stage_build, spinner=False),
    Stage("register Feast feature repo", _stage_feast),
    Stage("chart daily features", _stage_chart),
    Stage("validate and train the five models", _stage_train, spinner=False),
    Stage("materialize online windows", _stage_online),
    Stage("predict every symbol (the five models, the ensemble)", _stage_predict, spinner=False),
    Stage(
        f"backtest the last {DEMO_BACKTEST_DAYS} days walk-forward (models retrained)", _stage_backtest, spinner=False
    ),
    Stage("build the same models on Spark and compare", _stage_spark),
    Stage("write a training set as shards by symbol on Spark", _stage_spark_dataset),
]


def run_demo(
    ws: Workspace,
    files: list[Path],
    days: int,
    n_symbols: int,
    stages: Sequence[Stage] | None = None,
    epochs: int = 1,
    max_samples: int = 1000,
) -> None:
    """Build a workspace end to end and summarise it.

    Without `files`, `n_symbols` synthetic symbols with `days` days of 1-minute bars are written to
    `<home>/demo_data` (the same bars every run, so a second run ingests nothing new). With `files`, those
    are ingested instead, guessed as described in `input_files_from_paths`; use `barstore ingest` for files
    that need other options (END-labelled bars, futures contracts, quarantining bad rows)."""
    stages = STAGES if stages is None else stages
    # Logs and test runners get a fixed width that fits the tables instead of rich's 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    run = DemoRun(
        ws=ws,
        console=console,
        user_files=[Path(f) for f in files],
        days=days,
        n_symbols=n_symbols,
        epochs=epochs,
        max_samples=max_samples,
    )
    started = time.perf_counter()
    try:
        for number, stage in enumerate(stages, 1):
            _run_stage(run, stage, f"[{number}/{len(stages)}]")
        summarise(run, time.perf_counter() - started)
    finally:
        run.close()


def _run_stage(run: DemoRun, stage: Stage, step: str) -> None:
    console = run.console
    t0 = time.perf_counter()
    if stage.spinner:
        with console.status(f"{step} {stage.title} ..."):
            result = stage.run(run)
    else:
        console.print(f"[bold]{step} {stage.title}[/] ...")
        result = stage.run(run)
    detail = f": {result}" if result else ""
    console.print(
        f"[green]done[/] {step} {stage.title}{detail} [dim]({time.perf_counter() - t0:.1f} s)[/]", soft_wrap=True
    )


def input_files_from_paths(paths: list[Path]) -> list[DemoFile]:
    """How the demo reads user files, kept deliberately simple:

    - symbol: the file's `symbol` column when it has one, else the file name up to the first `_` or `.`,
      in capitals (`nq_1min_2023.csv` -> NQ);
    - timeframe: a word of the file name such as 1min, 5m, 1hour, hourly, daily (words split on `_`, `-`
      and `.`); 1m when there is none;
    - calendar: us_rth when the name has rth, equity, equities or stocks; cme_globex for globex, cme,
      futures, es or nq (checked after the us_rth words, so es_1min_rth is us_rth); else crypto_24x7;
    - timestamps: bar START; naive timestamps are read in the calendar's zone (UTC for crypto_24x7).
    """
    out = []
    for path in paths:
        path = Path(path)
        words = [w for w in re.split(r"[_\-.\s]+", path.stem.lower()) if w]
        timeframe = next((_TIMEFRAME_WORDS[w] for w in words if w in _TIMEFRAME_WORDS), DEMO_TIMEFRAME)
        named = {_CALENDAR_WORDS.get(w) for w in words}
        calendar = next((c for c in ("us_rth", "cme_globex") if c in named), DEFAULT_CALENDAR)
        symbol = None if _has_symbol_column(path) else (words[0].upper() if words else path.stem.upper())
        out.append(DemoFile(path, symbol, calendar, timeframe))
    return out


def _has_symbol_column(path: Path) -> bool:
    """Whether the file names its symbols itself; unreadable files are left for ingest to report."""
    import duckdb

    from ..ingest.columns import ALIASES

    readers = {".parquet": "read_parquet", ".pq": "read_parquet", ".csv": "read_csv"}
    reader = readers.get(path.suffix.lower(), "read_json_auto")
    try:
        names = duckdb.sql(f"SELECT * FROM {reader}(?) LIMIT 0", params=[str(path)]).columns
    except duckdb.Error:
        return False
    return any(n.strip().lower() in ALIASES["symbol"] for n in names)


# --- summary ------------------------------------------------------------------------------------


def _count(run: DemoRun, table: str) -> int:
    return run.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _main_tables(run: DemoRun) -> set[str]:
    """The tables and views the SQL models built (schema main)."""
    return {
        r[0]
        for r in run.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }


def row_counts(run: DemoRun, tables: set[str]) -> Table:
    """Rows per symbol in raw.bars and in each bar model that exists."""
    sources = ["raw.bars"] + [m for m in MODEL_TABLES if m in tables]
    counts: dict[str, dict[str, int]] = {}
    for table in sources:
        for symbol, n in run.con.execute(f"SELECT symbol, count(*) FROM {table} GROUP BY symbol").fetchall():
            counts.setdefault(symbol, {})[table] = n
    grid = Table(title="rows per symbol", title_justify="left")
    grid.add_column("symbol")
    for table in sources:
        grid.add_column(table, justify="right")
    for symbol in sorted(counts):
        grid.add_row(symbol, *(f"{counts[symbol].get(table, 0):,}" for table in sources))
    return grid


def latest_daily_bars(run: DemoRun, tables: set[str], per_symbol: int = 2) -> Table | None:
    """The last complete daily bars of each symbol (all latest bars if the model has no is_complete)."""
    if "bars_1d" not in tables:
        return None
    available = [r[0] for r in run.con.execute("DESCRIBE bars_1d").fetchall()]
    shown = [c for c in ("symbol", "trading_day", "ts", "open", "high", "low", "close", "volume") if c in available]
    where = "WHERE is_complete" if "is_complete" in available else ""
    rows = run.con.execute(
        f"SELECT {', '.join(shown)} FROM bars_1d {where} "
        f"QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY ts DESC) <= {per_symbol} "
        "ORDER BY symbol, ts"
    ).fetchall()
    grid = Table(title="latest complete daily bars (bars_1d; ts = session start, UTC)", title_justify="left")
    for c in shown:
        grid.add_column(c, justify="right" if c in ("open", "high", "low", "close", "volume") else "left")
    for row in rows:
        grid.add_row(*(_cell(c, v) for c, v in zip(shown, row)))
    return grid


def latest_daily_features(run: DemoRun, tables: set[str]) -> list[Table]:
    """Each symbol's last complete day: its indicators, and its 30-day volume profile (two tables, so that both
    fit a 120-column terminal)."""
    if "features_1d" not in tables:
        return []
    parts = [("latest daily indicators (features_1d)", ["rsi_14", "macd", "atr_14", "bb_pctb_20", "ma_50", "cvd"], "")]
    if "volume_profile_1d" in tables:
        parts.append(
            (
                "latest 30-day volume profile (volume_profile_1d)",
                ["poc", "vah", "val", "close_vs_poc"],
                "JOIN volume_profile_1d p USING (symbol, ts)",
            )
        )
    grids = []
    for title, features, join in parts:
        columns = ["symbol", "trading_day", "close", *features]
        rows = run.con.execute(
            f"SELECT f.symbol, f.trading_day, f.close, {', '.join(features)} FROM features_1d f {join} "
            "QUALIFY row_number() OVER (PARTITION BY f.symbol ORDER BY f.ts DESC) = 1 ORDER BY 1"
        ).fetchall()
        grid = Table(title=title, title_justify="left")
        for c in columns:
            grid.add_column(c, justify="left" if c in ("symbol", "trading_day") else "right")
        for row in rows:
            grid.add_row(*(_cell(c, v) for c, v in zip(columns, row)))
        grids.append(grid)
    return grids


def _cell(column: str, value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if column in ("volume", "cvd"):
            return f"{value:,.0f}"
        return f"{value:.4f}" if column.startswith("close_vs_") else f"{value:.2f}"
    if hasattr(value, "hour"):
        return value.strftime("%Y-%m-%d %H:%M")
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _home_flag(ws: Workspace) -> str:
    default = (Path.cwd() / ".barstore").resolve()
    return "" if ws.home == default else f" --home {ws.home}"


def summarise(run: DemoRun, seconds: float) -> None:
    console = run.console
    console.rule("summary")
    console.print(f"warehouse: {run.ws.warehouse}", soft_wrap=True)
    tables = _main_tables(run)
    console.print(row_counts(run, tables))
    for table in (latest_daily_bars(run, tables), *latest_daily_features(run, tables)):
        if table is not None:
            console.print(table)
    console.print(f"total time: {seconds:.1f} s")
    flag = _home_flag(run.ws)
    examples = [
        "SELECT symbol, count(*) AS bars, min(ts), max(ts) FROM raw.bars GROUP BY symbol",
        "SELECT * FROM bars_1h WHERE symbol = 'SYN_BTC' ORDER BY ts DESC LIMIT 10"
        if not run.user_files
        else "SELECT * FROM bars_1h ORDER BY ts DESC LIMIT 10",
        "SELECT symbol, ts, rsi_14, macd, cvd, vwap_session FROM features_1m ORDER BY ts DESC LIMIT 10",
        "SELECT * FROM longterm_inputs ORDER BY ts DESC LIMIT 5",
    ]
    for query in examples:
        console.print(f'try: barstore sql{flag} "{query}"', soft_wrap=True)
    for hint in run.hints:
        console.print(f"try: {hint}", soft_wrap=True)
