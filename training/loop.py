"""The fit loop: shuffled mini-batches, AdamW, early stopping on the validation loss, best weights restored.

Deterministic on the CPU: the batch order comes from a generator seeded with `seed`, dropout from torch's global
RNG seeded inside `seeded(seed)` (and restored afterwards, so training leaves the caller's RNG as it was), and
each batch is gathered from the float64 matrix by index in the same order (training.batches: the matrix held
whole, or memory-mapped shards). Same data + same seed gives the same weights, bit for bit, from either.

Loss: binary cross-entropy of the direction logit against "return > 0", plus, for the models with a return
head, the Huber loss of the standardized predicted return (Huber rather than squared error: crypto returns
have fat tails, and a squared error lets a few crash minutes set the gradient).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F

from barstore.networks import infer

from .batches import TrainingBatches

if TYPE_CHECKING:
    from rich.console import Console

    from barstore.inputs import InputPipeline
    from barstore.networks import Outputs

    from .config import TrainingConfig


class Samples(NamedTuple):
    ends: torch.Tensor  # int64 matrix row of each window's last step
    returns: torch.Tensor  # float64 forward return (the label)


@dataclass(frozen=True)
class LabelScale:
    """Mean and std of the training returns: the return head predicts (return - mean) / std."""

    mean: float
    std: float

    @classmethod
    def fit(cls, returns: torch.Tensor) -> LabelScale:
        std = float(returns.std(correction=0)) if len(returns) > 1 else 0.0
        return cls(float(returns.mean()), std if std > 0 else 1.0)


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0  # wall clock of the epochs (training and validation passes)
    samples_per_second: float = 0.0  # training windows per second of the training passes


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """torch's global RNG (CPU, and the CUDA device in use) seeded with `seed`, restored on exit."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def loss_of(out: Outputs, returns: torch.Tensor, scale: LabelScale, config: TrainingConfig) -> torch.Tensor:
    up = (returns > 0).to(out.logit.dtype)
    loss = config.direction_loss_weight * F.binary_cross_entropy_with_logits(out.logit, up)
    if out.ret is not None:
        target = ((returns - scale.mean) / scale.std).to(out.ret.dtype)
        loss = loss + config.return_loss_weight * F.huber_loss(out.ret, target, delta=1.0)
    return loss


def fit(
    network: torch.nn.Module,
    inputs: InputPipeline,
    matrix,  # the float64 matrix (a tensor), or shard rows that read their own windows (training.batches)
    train: Samples,
    validation: Samples,
    scale: LabelScale,
    config: TrainingConfig,
    epochs: int,
    seed: int,
    device: torch.device,
    console: Console,
) -> History:
    """Train `network` (in place) for at most `epochs`, stopping after `config.patience` epochs without a lower
    validation loss; the network ends with the weights of its best validation epoch."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    network.to(device)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    order_rng = torch.Generator().manual_seed(seed)
    history, best_loss, best_state, stale = History(), math.inf, None, 0
    train_seconds, started = 0.0, time.perf_counter()
    with seeded(seed, device):
        for epoch in range(1, epochs + 1):
            network.train()
            batches = torch.randperm(len(train.ends), generator=order_rng).split(config.batch_size)
            total, epoch_start = 0.0, time.perf_counter()
            with Progress(
                TextColumn(f"epoch {epoch}/{epochs}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("batches"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
                disable=not console.is_terminal,
            ) as bar:
                task = bar.add_task("train", total=len(batches))
                for windows, returns in TrainingBatches(matrix, inputs.steps, train, batches):
                    loss = loss_of(network(inputs.prepare(windows, device)), returns.to(device), scale, config)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
                    optimizer.step()
                    total += float(loss.detach()) * len(returns)
                    bar.advance(task)
            train_seconds += time.perf_counter() - epoch_start
            history.train_loss.append(total / len(train.ends))
            out = infer(network, inputs, matrix, validation.ends, device, config.eval_batch_size)
            history.val_loss.append(float(loss_of(out, validation.returns, scale, config)))
            improved = history.val_loss[-1] < best_loss
            if improved:
                best_loss, history.best_epoch, stale = history.val_loss[-1], epoch, 0
                best_state = copy.deepcopy(network.state_dict())
            else:
                stale += 1
            console.print(
                f"epoch {epoch}/{epochs}  train loss {history.train_loss[-1]:.5f}  "
                f"val loss {history.val_loss[-1]:.5f}{'  (best)' if improved else ''}",
                highlight=False,
                soft_wrap=True,
            )
            if stale >= config.patience and epoch < epochs:
                history.stopped_early = True
                console.print(
                    f"early stop: no lower validation loss for {stale} epochs; keeping epoch {history.best_epoch}",
                    highlight=False,
                    soft_wrap=True,
                )
                break
    if best_state is not None:
        network.load_state_dict(best_state)
    history.seconds = time.perf_counter() - started
    history.samples_per_second = len(history.train_loss) * len(train.ends) / max(train_seconds, 1e-9)
    return history
