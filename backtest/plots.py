"""Equity curves: one PNG per instrument, one line per strategy, the fold starts marked (matplotlib, Agg)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd


def equity_curves(curves: dict[str, pd.Series], fold_starts: list[datetime], title: str, path: Path) -> Path:
    """Plot each strategy's compounded equity (1 = the start) against decision time and save it to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    try:
        for label, curve in curves.items():
            ax.plot(curve.index, curve.to_numpy(), label=label, linewidth=1.2 if "filter" not in label else 0.9)
        for start in fold_starts:
            ax.axvline(pd.Timestamp(start), color="grey", linestyle=":", linewidth=0.8)
        ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_title(title)
        ax.set_ylabel("equity (1 = start, after costs)")
        ax.set_xlabel("decision time (UTC)")
        if curves:
            ax.legend(fontsize=7, loc="upper left", ncol=2)
        else:
            ax.text(0.5, 0.5, "no strategy available", transform=ax.transAxes, ha="center")
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
