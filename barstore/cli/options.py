"""Options several commands share: the workspace and the sample selection of `validate`, `train`, `backtest`."""

from __future__ import annotations

from enum import Enum

import typer

HomeOpt = typer.Option(None, "--home", envvar="BARSTORE_HOME", help="Workspace folder (default ./.barstore).")
SymbolsOpt = typer.Option(None, "--symbols", help="Comma-separated symbols (default: every symbol with windows).")
SinceOpt = typer.Option(None, "--since", help="First decision time, UTC ISO (e.g. 2025-05-10 or 2025-05-10T12:00).")
UntilOpt = typer.Option(None, "--until", help="Last decision time, UTC ISO.")
StrideOpt = typer.Option(1, "--stride", help="Keep every N-th step of each symbol.")
MaxSamplesOpt = typer.Option(None, "--max-samples", help="Keep at most N samples, spread evenly in time.")
SnapshotOpt = typer.Option(
    None, "--snapshot", help="Read this warehouse snapshot (a run's selection.snapshot) instead of the latest."
)


class Engine(str, Enum):
    local = "local"  # one DuckDB process
    spark = "spark"  # Spark tasks over shards of symbols, each running DuckDB (barstore.spark)


EngineOpt = typer.Option(Engine.local, "--engine", help="local: one DuckDB process; spark: shards of symbols.")
MasterOpt = typer.Option(
    None, "--master", help="Spark master (local[N], spark://host:7077, yarn); default: the project's spark master."
)
PartitionsOpt = typer.Option(
    None, "--partitions", help="Shards of symbols (Spark tasks); default: the project's spark partitions."
)


def parse_time(text: str | None, option: str):
    """An ISO time as UTC (naive times are UTC); a BarstoreError naming the option otherwise."""
    from ..times import parse_utc

    return parse_utc(text, option)


def symbol_list(text: str | None) -> tuple[str, ...] | None:
    """ "A,B, C" -> ("A", "B", "C"); None or blanks -> None."""
    names = tuple(s.strip() for s in text.split(",") if s.strip()) if text else ()
    return names or None


def selection(
    symbols: str | None,
    since: str | None,
    until: str | None,
    stride: int,
    max_samples: int | None,
    snapshot: int | None = None,
):
    from ..windows.selection import Selection

    since_t, until_t = parse_time(since, "--since"), parse_time(until, "--until")
    return Selection(symbol_list(symbols), since_t, until_t, stride, max_samples, snapshot)
