"""One writer at a time: a lock file beside the catalog, held for each write transaction.

Readers never take it (they read the last snapshot). A second writer waits up to `[warehouse] writer_wait` and is
then refused, naming the holder. The holder writes its PID and command into the file and empties it when done: a
file found non-empty on acquiring means the last writer died mid-write, so its unreferenced Parquet files are
deleted before the next write starts.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from .errors import WarehouseLocked

POLL_SECONDS = 0.2

_held: dict[Path, int] = {}  # lock path -> depth, for a process that nests writes (an ingest that registers)
_guard = threading.RLock()  # flock is per process: threads of one process take turns here


def lock_path(catalog: Path) -> Path:
    return catalog.parent / f"{catalog.stem}.lock"


@contextmanager
def writer_lock(catalog: Path, wait: float, on_wait=None) -> Iterator[bool]:
    """Hold the warehouse's write lock; yields True when the previous writer died mid-write."""
    path = lock_path(catalog)
    with _guard:
        if _held.get(path):
            _held[path] += 1
            try:
                yield False
            finally:
                _held[path] -= 1
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _acquire(fd, path, wait, on_wait)
            crashed = bool(os.pread(fd, 4096, 0).strip())
            _write(fd, f"{os.getpid()} {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {' '.join(_command())}\n")
            _held[path] = 1
            try:
                yield crashed
            finally:
                _held.pop(path, None)
                _write(fd, "")
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def say_waiting(message: str) -> None:
    """The usual `on_wait`: a line on stderr, so that a command that waits says why."""
    print(message, file=sys.stderr, flush=True)


def _command() -> list[str]:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return [name, *sys.argv[1:3]]


def _write(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode(), 0)
    os.fsync(fd)


def _acquire(fd: int, path: Path, wait: float, on_wait) -> None:
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
        if time.monotonic() >= deadline:
            raise WarehouseLocked(
                f"another write to the warehouse is in progress ({_describe(holder)}); waited {wait:g} s "
                f"([warehouse] writer_wait). Readers (barstore sql, train, Feast) are not blocked; run this write "
                f"again when that one has finished, or stop it ({path} names it)."
            )
        if not told and on_wait is not None:
            on_wait(f"waiting for the warehouse's writer ({_describe(holder)}), up to {wait:g} s")
            told = True
        time.sleep(POLL_SECONDS)


def _describe(holder: str) -> str:
    pid, _, rest = holder.partition(" ")
    started, _, command = rest.partition(" ")
    if not pid.isdigit():
        return holder
    return f"process {pid}, `{command}`, since {started}" if command else f"process {pid}"
