"""`barstore models`: the saved runs with their headline test figures, beside the majority-class baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from barstore.checkpoints import list_runs

from .metrics import format_figure

if TYPE_CHECKING:
    from rich.table import Table

    from barstore.home import Workspace

HEADERS = (
    "model",
    "run",
    "trained",
    "test accuracy [95%, label periods]",
    "majority",
    "AUC",
    "IC [95%]",
    "samples train/val/test",
    "epochs",
)


def run_rows(ws: Workspace, model: str | None = None) -> list[tuple[str, ...]]:
    """One row of text per saved run (oldest first within a model), the cells of HEADERS."""
    rows = []
    for run in list_runs(ws, model):
        m = run.metrics()
        test, samples = m.get("test", {}), m.get("samples", {})
        acc = test.get("accuracy", {})
        rows.append(
            (
                run.model,
                run.run_id,
                (m.get("wall_clock", {}).get("created_at") or "")[:16].replace("T", " "),
                format_figure(acc),
                _pct(test.get("majority_accuracy", {}).get("value")),
                _num(test.get("auc", {}).get("value")),
                format_figure(test.get("ic"), "signed"),
                "/".join(str(samples.get(k, "?")) for k in ("train", "validation", "test")),
                f"{m.get('best_epoch', '?')}/{m.get('epochs_run', '?')}",
            )
        )
    return rows


def runs_table(ws: Workspace, model: str | None = None) -> Table:
    from rich.table import Table

    table = Table(title=f"trained runs in {ws.models_dir}")
    for header in HEADERS:
        table.add_column(header, no_wrap=header in ("run", "trained"))
    for row in run_rows(ws, model):
        table.add_row(*row)
    return table


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"
