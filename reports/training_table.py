"""The README's table of test results from a workspace's newest run of each model (its metrics.json).

python reports/training_table.py .barstore-real > reports/training_results.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from training.metrics import format_figure

CLAIMS = {"longterm_multitf": "> 55 % on the 5-day direction"}  # the original plan's only per-model claim


def main(home: Path) -> None:
    print(
        "Made by `bash reports/train_real_data.sh DATA_DIR HOME` then `python reports/training_table.py HOME`. "
        "Intervals: block bootstrap over the test split's label periods (the number of periods beside each; none "
        "below 20).\n"
    )
    print(
        "| model | symbols | train / val / test samples | test period | test accuracy [95% CI] | "
        "majority baseline [95% CI] | test AUC [95% CI] | test IC [95% CI] | epochs | plan's claim |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    # every interval: a block bootstrap over the test split's label periods (training/dependence.py)
    for folder in sorted((home / "models").iterdir()):
        m = json.loads(sorted(folder.glob("*/metrics.json"))[-1].read_text())
        s, t, period = m["samples"], m["test"], m["periods"]["test"]
        print(
            f"| {m['model']} | {', '.join(m['symbols'])} | {s['train']:,} / {s['validation']:,} / {s['test']:,} | "
            f"{period['first'][:10]} .. {period['last'][:10]} | {format_figure(t['accuracy'])} | "
            f"{format_figure(t['majority_accuracy'])} | {format_figure(t['auc'], 'num')} | "
            f"{format_figure(t['ic'], 'signed')} | {m['epochs_run']} (best {m['best_epoch']}) | "
            f"{CLAIMS.get(m['model'], '-')} |"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".barstore-real"))
