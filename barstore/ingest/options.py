"""What the user asked for (`barstore ingest` options), checked before any file is read."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import duckdb

from ..errors import BarstoreError, IngestError
from ..timeframes import seconds
from ..warehouse import calendar_names
from .presets import Preset, get_preset
from .timestamps import check_zone

PRICES_CHOICES = {
    "raw": "open/high/low/close as the file has them (Yahoo's are split-adjusted, not dividend-adjusted)",
    "adjusted": "open/high/low/close scaled by adj_close / close, so dividends are included too (volume as is)",
}

OUTSIDE_CHOICES = {
    "refuse": "bars outside every session of the symbol's calendar are bad rows (see --on-bad-rows)",
    "keep": "intraday bars outside the sessions are stored and join the trading day they are stamped on",
}


@dataclass
class IngestOptions:
    symbol: str | None = None
    timeframe: str = "1m"
    tz: str | None = None
    calendar: str | None = None
    label: str | None = None  # "start", or "end": timestamps mark the bar's end and are shifted back one
    # timeframe; None: the preset's label, else start
    contract: str | None = None
    root: str | None = None
    on_bad_rows: str = "fail"  # or "quarantine"
    replace: bool = False
    preset: str | None = None  # a name in presets.PRESETS
    columns: dict[str, str] = field(default_factory=dict)  # role -> column spec (--column ts=Date+Time)
    header: bool | None = None  # CSV: the first line is a header; None: the preset's choice, else True
    names: tuple[str, ...] | None = None  # CSV column names (a headerless file's, or replacing the header)
    ts_format: str | None = None  # strptime format of the timestamp text (e.g. '%m/%d/%Y %H:%M')
    prices: str | None = None  # "raw" or "adjusted"; required for a file with an adj_close column
    outside_session: str = "refuse"  # or "keep": intraday bars outside the calendar's sessions are stored


def apply_preset(opts: IngestOptions) -> tuple[IngestOptions, Preset | None]:
    """The options with the preset's defaults filled in where the user gave none, and the preset."""
    preset = get_preset(opts.preset) if opts.preset else None
    header = opts.header if opts.header is not None else (preset.header if preset else True)
    vendor_names = preset.names if preset and not header else None
    return replace(
        opts,
        label=opts.label or (preset.label if preset else None) or "start",
        tz=opts.tz or (preset.tz if preset else None),
        header=header,
        names=tuple(opts.names) if opts.names else vendor_names,
    ), preset


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
    if opts.outside_session not in OUTSIDE_CHOICES:
        raise IngestError(f"unknown outside_session {opts.outside_session!r}; use {' or '.join(OUTSIDE_CHOICES)}")
    if opts.prices is not None and opts.prices not in PRICES_CHOICES:
        raise IngestError(f"unknown prices {opts.prices!r}; use {' or '.join(PRICES_CHOICES)}")
    if opts.names is not None:
        twice = sorted({n for n in opts.names if list(opts.names).count(n) > 1})
        if twice or not all(n.strip() for n in opts.names):
            raise IngestError(f"--names {','.join(opts.names)}: names must be distinct and non-empty")
