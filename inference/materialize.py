"""`barstore materialize`: scalar features (Feast materialize) and model windows (inference) to the online store."""

from __future__ import annotations

from rich.console import Console

from barstore.errors import BarstoreError
from barstore.feature_store import open_store
from barstore.home import Workspace
from barstore.times import parse_utc_or_now
from barstore.warehouse import connect

SHOW_WITHOUT = 5  # symbols without a window listed per model, with the reason


def materialize_all(
    ws: Workspace,
    online: str = "sqlite",
    as_of: str | None = None,
    incremental: bool = False,
    store=None,
    show: bool = True,
):
    """Scalar features and model windows as of `as_of` (default now) to the online store; `store`: a Feast store
    already open on it (a long-running process keeps one), `show`: print per-model counts."""
    from .windows import materialize_windows

    console = Console(stderr=True, quiet=not show)
    end = parse_utc_or_now(as_of, "--as-of")
    con = connect(ws.warehouse, read_only=True)
    try:
        store = store or open_store(ws, online)
        views = [v for v in store.list_feature_views() if not v.name.endswith("_window")]  # windows: below
        if not views:
            raise BarstoreError("the Feast registry is empty: run `barstore apply` first")
        with console.status("materializing scalar features"):
            if incremental:
                store.materialize_incremental(end_date=end, feature_views=[v.name for v in views])
            else:
                # only a view's latest row per symbol is served, and rows older than its ttl are not:
                # reading two ttls back is enough and spares Feast the whole history
                for view in views:
                    store.materialize(start_date=end - 2 * view.ttl, end_date=end, feature_views=[view.name])
        with console.status("materializing model windows"):
            report = materialize_windows(store, con, as_of=end)
        for model, r in report.items():
            console.print(f"{model}: {r['windows']} windows online; without a window: {len(r['without'])} symbols")
            for symbol, why in list(r["without"].items())[:SHOW_WITHOUT]:
                console.print(f"  {symbol}: {why}", highlight=False)
            if len(r["without"]) > SHOW_WITHOUT:
                console.print(f"  ... and {len(r['without']) - SHOW_WITHOUT} more")
        return report
    finally:
        con.close()
