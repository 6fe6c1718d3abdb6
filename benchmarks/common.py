"""Shared bits of the benchmark scripts: where the data is, the machine line, a stopwatch."""

from __future__ import annotations

import os
import platform
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
DATA = PROJECT_DIR.parent / "shared" / "data"
BINANCE = DATA / "binance_usdm_perp_1min_2025-05_2025-06.parquet"


def machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{date.today()} · {platform.machine()} · {os.cpu_count()} cores · {mem_gib:.0f} GiB · "
        f"Python {platform.python_version()}"
    )


@contextmanager
def stopwatch(results: dict, name: str):
    start = time.perf_counter()
    yield
    results[name] = time.perf_counter() - start


def require_data() -> None:
    if not BINANCE.exists():
        raise SystemExit(f"benchmark needs {BINANCE} (the shared real bars)")
