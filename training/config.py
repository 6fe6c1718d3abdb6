"""Training settings: plain values with defaults, overridable in barstore_project.toml:

    [training]
    batch_size = 64
    learning_rate = 0.001
    max_epochs = 20

Network sizes are not settings: they belong to each model (barstore/networks.py), and a checkpoint records them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING

from barstore.errors import BarstoreError
from barstore.splits import DEFAULT_SHARES

if TYPE_CHECKING:
    from barstore.home import Workspace


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
    # train, validation, test shares of the samples by time: train_model has the validation gate cut (and check)
    # the splits with these
    split_shares: tuple[float, float, float] = DEFAULT_SHARES
    normalizer_max_samples: int = 20_000  # training windows the input statistics are fit on, evenly spread

    def as_dict(self) -> dict:
        out = asdict(self)
        out["split_shares"] = list(self.split_shares)
        return out


def config_from(values: dict) -> TrainingConfig:
    """The defaults with `values` (a [training] table) applied; a BarstoreError for unknown keys or bad types."""
    known = {f.name: f for f in fields(TrainingConfig)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise BarstoreError(f"[training] has unknown settings {unknown}; the settings are {sorted(known)}")
    default = TrainingConfig()
    changes = {}
    for key, value in values.items():
        expected = getattr(default, key)
        if key == "split_shares":
            if not isinstance(value, (list, tuple)) or len(value) != 3:
                raise BarstoreError(f"[training] split_shares must be three numbers (got {value!r})")
            value = tuple(float(v) for v in value)
        elif isinstance(expected, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif type(value) is not type(expected):
            raise BarstoreError(f"[training] {key} must be a {type(expected).__name__} (got {value!r})")
        changes[key] = value
    config = replace(default, **changes)
    if min(config.batch_size, config.eval_batch_size, config.max_epochs, config.patience) < 1:
        raise BarstoreError("[training] batch sizes, max_epochs and patience must be at least 1")
    return config


def load_config(ws: Workspace) -> TrainingConfig:
    """The project's [training] settings; the defaults when the workspace has no project."""
    from barstore.project import settings

    try:
        project_dir = ws.project_dir
    except BarstoreError:
        return TrainingConfig()
    return config_from(settings(project_dir, "training"))
