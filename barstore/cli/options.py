"""Options several commands share: the workspace and the sample selection of `validate`, `train`, `backtest`."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

HomeOpt = typer.Option(None, "--home", envvar="BARSTORE_HOME", help="Workspace folder (default ./.barstore).")
SymbolsOpt = typer.Option(None, "--symbols", help="Comma-separated symbols (default: every symbol with windows).")
SinceOpt = typer.Option(None, "--since", help="First decision time, UTC ISO (e.g. 2025-05-10 or 2025-05-10T12:00).")
UntilOpt = typer.Option(None, "--until", help="Last decision time, UTC ISO.")
StrideOpt = typer.Option(1, "--stride", help="Keep every N-th step of each symbol.")
MaxSamplesOpt = typer.Option(None, "--max-samples", help="Keep at most N samples, spread evenly in time.")


def parse_time(text: str | None, option: str) -> datetime | None:
    """An ISO time as UTC (naive times are UTC); a BarstoreError naming the option otherwise."""
    from ..errors import BarstoreError

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BarstoreError(f"{option} {text!r} is not an ISO time such as 2025-06-01T12:00") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def selection(symbols: str | None, since: str | None, until: str | None, stride: int, max_samples: int | None):
    from ..windows.selection import Selection

    names = tuple(s.strip() for s in symbols.split(",") if s.strip()) if symbols else None
    return Selection(names or None, parse_time(since, "--since"), parse_time(until, "--until"), stride, max_samples)
