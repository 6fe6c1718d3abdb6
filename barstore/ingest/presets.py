"""Vendor presets for `barstore ingest --preset`: how a vendor's file lays out its columns, whether it has a
header, and the zone/label where the vendor fixes them. Explicit options (--column, --names, --no-header,
--tz, --label, --ts-format) override what a preset says.

A preset lists, per role, alternative column specs tried in order; the first whose columns the file has wins.
`A+B` joins a date and a time column (ts) or sums numeric columns (volume), as in `--column`."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import IngestError


@dataclass(frozen=True)
class Preset:
    name: str
    doc: str
    columns: dict[str, tuple[str, ...]]  # role -> alternative specs, first match wins
    header: bool = True
    names: tuple[str, ...] | None = None  # column names of a headerless file
    tz: str | None = None  # zone of naive timestamps, when the vendor fixes it
    label: str | None = None  # "start"/"end", when the vendor fixes it
    ts_formats: tuple[str, ...] = ()  # strptime formats of the (joined) timestamp text


YAHOO = Preset(
    name="yahoo",
    doc=(
        "Yahoo Finance CSV download: Date,Open,High,Low,Close,Adj Close,Volume, one row per trading day, the date "
        "in ISO form with no time (the exchange's local trading day, so no --tz is needed for daily bars). "
        "Open/high/low/close are split-adjusted; Adj Close is also dividend-adjusted, so --prices raw|adjusted "
        "must say which to store. Rows Yahoo writes as 'null' are bad rows."
    ),
    columns={
        "ts": ("Date",),
        "open": ("Open",),
        "high": ("High",),
        "low": ("Low",),
        "close": ("Close",),
        "adj_close": ("Adj Close",),
        "volume": ("Volume",),
    },
)

TRADESTATION = Preset(
    name="tradestation",
    doc=(
        'TradeStation chart export: "Date","Time","Open","High","Low","Close","Up","Down" with dates MM/DD/YYYY '
        "and times HH:MM. Volume is Up + Down (up-tick plus down-tick volume); exports that carry TotalVolume or "
        "Vol use that column instead (OI, open interest, is ignored). TradeStation stamps each bar with its "
        "CLOSING time, so the preset reads bars as end-labelled. The zone is the chart's time-zone setting "
        "(exchange or the PC's local zone), which the file does not record: pass --tz."
    ),
    columns={
        "ts": ("Date+Time",),
        "open": ("Open",),
        "high": ("High",),
        "low": ("Low",),
        "close": ("Close",),
        "volume": ("TotalVolume", "Up+Down", "Vol", "Volume"),
    },
    label="end",
    ts_formats=("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S"),
)

FIRSTRATE = Preset(
    name="firstrate",
    doc=(
        "FirstRate Data CSV: no header row, columns timestamp,open,high,low,close,volume, timestamps "
        "YYYY-MM-DD HH:MM:SS (or YYYY-MM-DD for daily files) in US/Eastern wall-clock time, bars labelled by "
        "their START."
    ),
    columns={
        "ts": ("timestamp",),
        "open": ("open",),
        "high": ("high",),
        "low": ("low",),
        "close": ("close",),
        "volume": ("volume",),
    },
    header=False,
    names=("timestamp", "open", "high", "low", "close", "volume"),
    tz="America/New_York",
    label="start",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (YAHOO, TRADESTATION, FIRSTRATE)}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name.strip().lower()]
    except KeyError:
        raise IngestError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}") from None
