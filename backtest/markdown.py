"""Markdown and JSON helpers the backtest's reports share: tables, UTC times, plain JSON values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    rule = align or "|" + "|".join("---" for _ in header) + "|"
    return "\n".join([row(header), rule, *(row(r) for r in rows)]) + "\n"


def made_by(results: dict) -> str:
    """' Made by `command`.' when the results record the command line that made them."""
    return f" Made by `{results['command']}`." if results.get("command") else ""


def when(iso: str | None) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM[:SS]' UTC."""
    if not iso:
        return "n/a"
    stamp = pd.Timestamp(iso).tz_convert("UTC") if pd.Timestamp(iso).tzinfo else pd.Timestamp(iso)
    return stamp.strftime("%Y-%m-%d %H:%M:%S" if stamp.second or stamp.microsecond else "%Y-%m-%d %H:%M")


def jsonable(value):
    """Plain JSON types: numpy scalars as Python numbers, NaN as None, times as ISO strings (inf kept)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp | np.datetime64):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value
