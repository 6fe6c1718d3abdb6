"""What the user asked for (`barstore ingest` options), checked before any file is read."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ..errors import BarstoreError, IngestError
from ..timeframes import seconds
from ..warehouse import calendar_names
from .timestamps import check_zone


@dataclass
class IngestOptions:
    symbol: str | None = None
    timeframe: str = "1m"
    tz: str | None = None
    calendar: str | None = None
    label: str = "start"  # or "end": timestamps mark the bar's end and are shifted back one timeframe
    contract: str | None = None
    root: str | None = None
    on_bad_rows: str = "fail"  # or "quarantine"
    replace: bool = False


def validate(con: duckdb.DuckDBPyConnection, opts: IngestOptions) -> None:
    """Raise IngestError for an impossible combination."""
    try:
        seconds(opts.timeframe)
    except BarstoreError as err:
        raise IngestError(str(err)) from None
    if opts.label not in ("start", "end"):
        raise IngestError(f"unknown label {opts.label!r}; use start or end")
    if opts.on_bad_rows not in ("fail", "quarantine"):
        raise IngestError(f"unknown on_bad_rows {opts.on_bad_rows!r}; use fail or quarantine")
    if bool(opts.contract) != bool(opts.root):
        raise IngestError("--contract and --root go together, e.g. --contract ENQ.H24 --root NQ")
    if opts.contract and opts.symbol and opts.symbol != opts.contract:
        raise IngestError(
            f"--symbol {opts.symbol} differs from --contract {opts.contract}; bars are stored "
            "under the contract, so pass only --contract"
        )
    if opts.calendar is not None:
        names = calendar_names(con)
        if opts.calendar not in names:
            raise IngestError(f"unknown calendar {opts.calendar!r}; use one of {', '.join(names)}")
    if opts.tz is not None:
        check_zone(con, opts.tz)
