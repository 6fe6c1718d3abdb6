"""`barstore calendar list|add`: the session calendars symbols follow."""

from __future__ import annotations

from pathlib import Path

import typer

from . import _run, _workspace
from .options import HomeOpt


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Session calendars: the built-in ones and your own files of sessions.")
    app.add_typer(group, name="calendar")

    @group.command("list")
    def list_(home: str | None = HomeOpt):
        """Every calendar: zone, where its sessions come from, the days they cover, and the symbols using it."""

        def body():
            from rich.console import Console
            from rich.table import Table

            from ..calendar_files import list_calendars
            from ..warehouse import connect

            con = connect(_workspace(home).warehouse, read_only=True)
            table = Table("calendar", "zone", "source", "sessions cover", "sessions", "symbols", "description")
            for name, tz, source, first, last, n, symbols, description in list_calendars(con):
                span = f"{first} .. {last}" if first else "(none yet: written by the first ingest)"
                table.add_row(name, tz, source, span, f"{n:,}", str(symbols), description)
            Console().print(table)

        _run(body)

    @group.command("add")
    def add(
        name: str = typer.Argument(..., help="Name of the calendar, e.g. lse_rth."),
        sessions: Path = typer.Argument(..., help="CSV file: trading_day, session_start, session_end (a header)."),
        tz: str = typer.Option(..., help="Zone of the calendar (its daily bars' dates; naive times in the file)."),
        description: str | None = typer.Option(None, help="What the calendar is."),
        replace: bool = typer.Option(False, help="Replace the sessions of an existing calendar of this name."),
        home: str | None = HomeOpt,
    ):
        """Add a calendar from a file of sessions (days missing between its first and last are closed); symbols
        then use it with `barstore ingest --calendar NAME`."""

        def body():
            from ..calendar_files import add_calendar
            from ..warehouse import connect

            con = connect(_workspace(home).warehouse)
            n = add_calendar(con, name, sessions, tz, description, replace)
            print(f"calendar {name}: {n:,} sessions from {sessions}")
            if replace:
                print("Symbols already built on it keep their old trading days until `barstore build --full-refresh`.")

        _run(body)
