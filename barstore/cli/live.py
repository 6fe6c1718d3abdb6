"""`barstore live --watch DIR`: the live loop in one warm process. Each bar file dropped into DIR is ingested, the
models are built incrementally, the online store is brought up to date and the file's symbols are predicted;
the process keeps DuckDB, Feast, torch and the loaded runs between files, which separate commands pay anew."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import typer

from . import Online, OnlineOpt, _run, _workspace
from .options import HomeOpt
from .serving import ModeChoice, ModeOpt, TrendFilterChoice, TrendFilterOpt

SUFFIXES = {".csv", ".txt", ".parquet", ".json", ".ndjson"}
DONE, REJECTED = "done", "rejected"  # sub-folders of the watched one


def register(app: typer.Typer) -> None:
    app.command()(live)


def live(
    watch: Path = typer.Option(..., "--watch", help="Folder to watch for new bar files (CSV, Parquet, JSON)."),
    timeframe: str = typer.Option(..., help="Bar timeframe of the files: 1m, 5m, 15m, 1h, 4h, 1d."),
    calendar: str | None = typer.Option(None, help="Session calendar of new symbols (see barstore calendar list)."),
    tz: str | None = typer.Option(None, help="Zone of naive timestamps."),
    preset: str | None = typer.Option(None, help="Vendor layout of the files (see barstore ingest --help)."),
    replay: bool = typer.Option(
        False, help="Predict as of each file's last bar close + 1 s instead of the clock (replaying history)."
    ),
    poll: float = typer.Option(0.2, help="Seconds between looks at the folder."),
    once: bool = typer.Option(False, help="Process the files there now, then exit."),
    mode: ModeChoice | None = ModeOpt,
    trend_filter: TrendFilterChoice | None = TrendFilterOpt,
    online: Online = OnlineOpt,
    home: str | None = HomeOpt,
):
    """Ingest -> build -> materialize -> predict for every file dropped into --watch, in one warm process.

    Write a file under another name (or a dot-name) and rename it into the folder when complete. Processed files
    move to DIR/done/; a refused file moves to DIR/rejected/ beside a NAME.error.txt, and the loop goes on."""

    def body():
        from ..ingest import IngestOptions

        opts = IngestOptions(timeframe=timeframe, calendar=calendar, tz=tz, preset=preset)
        choice = (mode.value if mode else None, trend_filter.value if trend_filter else None)
        loop = LiveLoop(_workspace(home), opts, online.value, replay, choice)
        loop.run(watch, poll, once)

    _run(body)


@dataclass
class Timing:
    ingest: float
    build: float
    materialize: float
    predict: float

    def line(self) -> str:
        total = self.ingest + self.build + self.materialize + self.predict
        return (
            f"{total:.2f} s (ingest {self.ingest:.2f}, build {self.build:.2f}, "
            f"materialize {self.materialize:.2f}, predict {self.predict:.2f})"
        )


class LiveLoop:
    def __init__(
        self, ws, opts, online: str, replay: bool, ensemble_choice: tuple[str | None, str | None] = (None, None)
    ):
        from rich.console import Console

        from inference.ensemble import EnsembleSettings
        from inference.predict import ensemble_for, models_in_use, open_predictor

        from ..warehouse import connect

        self.ws, self.opts, self.online, self.replay = ws, opts, online, replay
        self.console = Console(highlight=False, soft_wrap=True)
        self.con = connect(ws.warehouse)
        ensemble = ensemble_for(EnsembleSettings.from_project(ws.project_dir), *ensemble_choice)
        self.predictor = open_predictor(ws, online, models=models_in_use(ensemble), ensemble=ensemble)
        self.predictor.warm_up()
        self.processed = self.refused = 0

    def run(self, folder: Path, poll: float, once: bool) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.console.print(f"watching {folder} (every {poll:g} s); Ctrl-C stops", style="bold")
        try:
            while True:
                for path in waiting_files(folder):
                    self.handle(path)
                if once:
                    break
                time.sleep(poll)
        except KeyboardInterrupt:
            pass
        finally:
            self.con.close()
        self.console.print(f"stopped: {self.processed} file(s) processed, {self.refused} refused")

    def handle(self, path: Path) -> None:
        from ..errors import BarstoreError

        try:
            timing, lines = self.step(path)
        except BarstoreError as err:
            self.refused += 1
            moved = _move(path, REJECTED)
            moved.with_name(moved.name + ".error.txt").write_text(str(err) + "\n")
            self.console.print(f"[bold red]refused[/] {path.name}: {err}")
            return
        self.processed += 1
        _move(path, DONE)
        self.console.print(f"{path.name}: {timing.line()}")
        for line in lines:
            self.console.print(f"  {line}")

    def step(self, path: Path) -> tuple[Timing, list[str]]:
        """One file through the loop; a refused ingest raises before anything is written."""
        from datetime import timedelta

        from inference.materialize import materialize_all

        from ..errors import BarstoreError
        from ..ingest import ingest_files
        from ..timeframes import seconds
        from ..transform.runner import build_models

        t0 = time.perf_counter()
        report = ingest_files(self.con, [path], self.opts, progress=False)
        t1 = time.perf_counter()
        build_models(self.con, self.ws.sql_dir, show=False)
        t2 = time.perf_counter()
        ends = dict(
            self.con.execute(
                "SELECT symbol, max(max_ts) FROM raw.ingest_log "
                "WHERE batch_id = ? AND rows_inserted + rows_replaced > 0 GROUP BY symbol",
                [report.batch_id],
            ).fetchall()
        )
        bar = timedelta(seconds=seconds(self.opts.timeframe))
        as_of = max(ends.values()) + bar + timedelta(seconds=1) if self.replay and ends else None
        materialize_all(self.ws, self.online, as_of=as_of, incremental=True, store=self.predictor.store, show=False)
        t3 = time.perf_counter()
        lines = []
        for symbol in sorted(ends):
            # replaying history: each symbol as of its own new bar (symbols' files may end days apart)
            own = ends[symbol] + bar + timedelta(seconds=1) if self.replay else None
            try:
                item = self.predictor.predict([symbol], as_of=own).predictions[0]
            except BarstoreError as err:  # a symbol without every window is reported, not fatal
                lines.append(f"{symbol}: no prediction: {err}")
                continue
            d = item.decision
            ends_at = ", ".join(f"{m} {p.window_end:%H:%M}" for m, p in item.models.items())
            lines.append(f"{symbol}: {d.action.value} ({d.reason}); windows end {ends_at}")
        if not ends:
            lines.append("no new bars")
        return Timing(t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3), lines


def waiting_files(folder: Path) -> list[Path]:
    """Bar files in `folder` by arrival (modification time, then name); dot-names and partial files are not yet."""
    found = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith((".", "~"))
    ]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))


def _move(path: Path, sub: str) -> Path:
    target = path.parent / sub / path.name
    target.parent.mkdir(exist_ok=True)
    if target.exists():  # the same name again: keep both
        target = target.with_name(f"{path.stem}.{time.time_ns()}{path.suffix}")
    return path.rename(target)
