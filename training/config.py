"""Training settings: plain values with defaults, overridable in barstore_project.toml:

    [training]
    batch_size = 64
    learning_rate = 0.001
    max_epochs = 20

Network sizes are not settings: they belong to each model (barstore/networks.py), and a checkpoint records them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from barstore.errors import BarstoreError
from barstore.settings_tables import Integer, Number, Numbers, load
from barstore.splits import DEFAULT_SHARES

if TYPE_CHECKING:
    from barstore.home import Workspace

SECTION = "training"
RULES = {
    "batch_size": Integer(ge=1),
    "eval_batch_size": Integer(ge=1),
    "learning_rate": Number(ge=0),
    "weight_decay": Number(ge=0),
    "grad_clip": Number(ge=0),
    "max_epochs": Integer(ge=1),
    "patience": Integer(ge=1),
    "return_loss_weight": Number(ge=0),
    "direction_loss_weight": Number(ge=0),
    "split_shares": Numbers(3),  # as barstore.splits.SPLIT_SHARES, the rule project_shares reads the key by
    "normalizer_max_samples": Integer(ge=1),
}


@dataclass(frozen=True)
class TrainingConfig:
    batch_size: int = 64  # small batches: more updates per epoch on a few thousand overlapping windows
    eval_batch_size: int = 256  # validation/test/prediction batches (no gradients, so larger is fine)
    learning_rate: float = 1e-3  # AdamW
    weight_decay: float = 1e-4
    grad_clip: float = 1.0  # max gradient norm: LSTMs on fat-tailed returns see rare huge gradients
    max_epochs: int = 20  # when --epochs is not given
    patience: int = 3  # epochs without a lower validation loss before stopping
    return_loss_weight: float = 1.0  # Huber loss on the standardized forward return (minute/hourly models)
    direction_loss_weight: float = 1.0  # binary cross-entropy of up vs not up
    # train, validation, test shares of the samples by time: train_model (training/run.py) cuts the splits with
    # these once (barstore.windows.selection.selected_data), the validation gate checks that data, then the fit
    # uses it
    split_shares: tuple[float, float, float] = DEFAULT_SHARES
    normalizer_max_samples: int = 20_000  # training windows the input statistics are fit on, evenly spread

    @classmethod
    def from_project(cls, project_dir: str | Path) -> TrainingConfig:
        """The project's `[training]` table over the defaults."""
        return load(cls, project_dir, SECTION, RULES)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["split_shares"] = list(self.split_shares)
        return out


def load_config(ws: Workspace) -> TrainingConfig:
    """The project's [training] settings; the defaults when the workspace has no project."""
    try:
        project_dir = ws.project_dir
    except BarstoreError:
        return TrainingConfig()
    return TrainingConfig.from_project(project_dir)
