"""A transient progress display on stderr for long ingests (only when stderr is a terminal)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


class FileProgress:
    def __init__(self, progress, task):
        self._progress, self._task = progress, task

    def file(self, path: Path) -> None:
        self.stage(path, "reading")

    def stage(self, path: Path, what: str) -> None:
        self._progress.update(self._task, description=f"{path.name}: {what}")

    def done(self) -> None:
        self._progress.advance(self._task)


@contextmanager
def file_progress(enabled: bool, n_files: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not (enabled and console.is_terminal),
    ) as progress:
        yield FileProgress(progress, progress.add_task("ingest", total=n_files))
