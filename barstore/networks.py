"""The networks of the five models, sized once here, and their checkpoint form; shared by training and prediction.

- `longterm_multitf` keeps the users' architecture exactly, `LongTermEncoder`:
  LSTM(26, 128, num_layers=3, batch_first=True, dropout=0.2) -> LayerNorm(128) -> Linear(128, 32) -> Tanh,
  the 32-d trend embedding. Its checkpoint `model_state_dict` holds only those four modules (lstm, layer_norm,
  fc, activation), so the users' loader, which builds that class from input_size, hidden_size, num_layers and
  output_size, loads it with strict=True. The direction label (close 5 trading days later > close now) trains it
  through a `DirectionHead` stored apart, under `direction_head_state_dict`.
- The minute and hourly models are a `SequenceModel`: an LSTM encoder, LayerNorm on its last step, and two linear
  heads on that state: the forward return (standardized by the training labels' mean and std) and the logit of
  P(up). One encoder for both heads: the direction is a coarse view of the return, so each head regularizes the
  other's features.

Sizes (`SEQUENCE_SIZES`, hidden units x layers) are set for a 2-core CPU, where an LSTM costs time linear in
steps x layers x hidden^2. Measured here, one AdamW step at batch 64, float32: LSTM(20, 64, 2) trains ~83
samples/s over 300 steps and ~68 over 500; over 800 steps 64 units drop to ~44/s, 48 units keep ~69/s;
LSTM(26, 64, 2) over 500 hourly steps ~62/s. So every sequence model trains at ~60-80 samples/s: an epoch of
10,000 windows in 2-3 minutes. Bigger encoders would not buy much: the samples of one symbol overlap heavily
(a window moves one step), so the effective sample count is far below the window count, and a 50k-parameter
network already has room to overfit it. The long-term LSTM(26, 128, 3) runs at ~14 samples/s (fixed by design;
it has a few hundred daily windows per symbol).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import nn

if TYPE_CHECKING:
    from .inputs import InputPipeline
    from .specs import ModelSpec

LONGTERM_MODEL = "longterm_multitf"
LONGTERM_SIZES = {"input_size": 26, "hidden_size": 128, "num_layers": 3, "output_size": 32}
DROPOUT = 0.2  # between LSTM layers, as in the long-term design

SEQUENCE_SIZES = {  # model -> (hidden_size, num_layers); see the module docstring
    "seq300_minute": (64, 2),
    "seq500_minute": (64, 2),
    "seq800_minute": (48, 2),
    "seq500_hourly": (64, 2),
}

LONGTERM_ARCHITECTURE = "longterm_encoder"
SEQUENCE_ARCHITECTURE = "sequence_two_heads"


class Outputs(NamedTuple):
    ret: torch.Tensor | None  # standardized forward return (None: the long-term model predicts no return)
    logit: torch.Tensor  # log-odds of up
    embedding: torch.Tensor | None = None  # the long-term 32-d trend embedding


class LongTermEncoder(nn.Module):
    """The users' long-term network, attribute for attribute: its state dict is what their loader expects."""

    def __init__(
        self,
        input_size: int = 26,
        hidden_size: int = 128,
        num_layers: int = 3,
        output_size: int = 32,
        dropout: float = DROPOUT,
    ):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout)
        self.layer_norm = nn.LayerNorm(hidden_size)
        self.fc = nn.Linear(hidden_size, output_size)
        self.activation = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.activation(self.fc(self.layer_norm(out[:, -1])))


class DirectionHead(nn.Module):
    """Logit of P(up) from the embedding: one linear layer, so the direction must be (nearly) linear in the
    embedding, as the original rule "sign of the embedding's sum" assumes."""

    def __init__(self, embedding_size: int = 32):
        super().__init__()
        self.linear = nn.Linear(embedding_size, 1)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.linear(embedding).squeeze(-1)


class LongTermModel(nn.Module):
    """Encoder + direction head, trained together; saved as two state dicts."""

    def __init__(self, encoder: LongTermEncoder, direction_head: DirectionHead):
        super().__init__()
        self.encoder = encoder
        self.direction_head = direction_head

    def forward(self, x: torch.Tensor) -> Outputs:
        embedding = self.encoder(x)
        return Outputs(None, self.direction_head(embedding), embedding)


class SequenceModel(nn.Module):
    """LSTM encoder -> LayerNorm of the last step -> return head and direction head."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float = DROPOUT):
        super().__init__()
        self.lstm = nn.LSTM(
            input_size, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
        )
        self.layer_norm = nn.LayerNorm(hidden_size)
        self.return_head = nn.Linear(hidden_size, 1)
        self.direction_head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> Outputs:
        out, _ = self.lstm(x)
        state = self.layer_norm(out[:, -1])
        return Outputs(self.return_head(state).squeeze(-1), self.direction_head(state).squeeze(-1))


def network_for(spec: ModelSpec, hidden_size: int | None = None, num_layers: int | None = None) -> nn.Module:
    """A freshly initialised network for the model (initialised from torch's global RNG: seed it first).
    `hidden_size`/`num_layers` shrink a sequence model for quick experiments; the long-term one is fixed."""
    if spec.name == LONGTERM_MODEL:
        if hidden_size is not None or num_layers is not None:
            raise ValueError("the long-term architecture is fixed: LSTM(26, 128, 3) -> LayerNorm -> Linear(128, 32)")
        if spec.n_features != LONGTERM_SIZES["input_size"]:
            raise ValueError(f"{spec.name} has {spec.n_features} inputs; its architecture takes 26")
        return LongTermModel(LongTermEncoder(**LONGTERM_SIZES), DirectionHead(LONGTERM_SIZES["output_size"]))
    default_hidden, default_layers = SEQUENCE_SIZES[spec.name]
    return SequenceModel(spec.n_features, hidden_size or default_hidden, num_layers or default_layers)


def checkpoint_entries(network: nn.Module) -> dict:
    """The checkpoint keys that describe and restore the network (see `load_network`)."""
    if isinstance(network, LongTermModel):
        enc = network.encoder
        return {
            "architecture": LONGTERM_ARCHITECTURE,
            "model_state_dict": enc.state_dict(),
            "direction_head_state_dict": network.direction_head.state_dict(),
            "input_size": enc.lstm.input_size,
            "hidden_size": enc.lstm.hidden_size,
            "num_layers": enc.lstm.num_layers,
            "output_size": enc.fc.out_features,
            "dropout": enc.lstm.dropout,
        }
    if isinstance(network, SequenceModel):
        return {
            "architecture": SEQUENCE_ARCHITECTURE,
            "model_state_dict": network.state_dict(),
            "input_size": network.lstm.input_size,
            "hidden_size": network.lstm.hidden_size,
            "num_layers": network.lstm.num_layers,
            "output_size": 2,
            "dropout": network.lstm.dropout,
        }
    raise TypeError(f"not a barstore network: {type(network).__name__}")


def load_network(checkpoint: dict) -> nn.Module:
    """The network a checkpoint dict describes, weights loaded strictly, in eval mode, on the CPU."""
    sizes = {k: checkpoint[k] for k in ("input_size", "hidden_size", "num_layers")}
    dropout = checkpoint.get("dropout", DROPOUT)
    architecture = checkpoint.get("architecture")
    if architecture == LONGTERM_ARCHITECTURE:
        encoder = LongTermEncoder(**sizes, output_size=checkpoint["output_size"], dropout=dropout)
        encoder.load_state_dict(checkpoint["model_state_dict"], strict=True)
        head = DirectionHead(checkpoint["output_size"])
        head.load_state_dict(checkpoint["direction_head_state_dict"], strict=True)
        network = LongTermModel(encoder, head)
    elif architecture == SEQUENCE_ARCHITECTURE:
        network = SequenceModel(**sizes, dropout=dropout)
        network.load_state_dict(checkpoint["model_state_dict"], strict=True)
    else:
        raise ValueError(f"unknown network architecture {architecture!r} in the checkpoint")
    return network.eval()


@torch.no_grad()
def infer(
    network: nn.Module, inputs: InputPipeline, matrix, ends, device: str | torch.device = "cpu", batch_size: int = 256
) -> Outputs:
    """The network's outputs for the windows ending at `ends`, batch by batch in eval mode (no dropout),
    concatenated on the CPU as float32."""
    network.eval()
    # no ends still make one empty batch, which the networks pass through: outputs of length 0
    parts = [network(inputs(matrix, batch, device)) for batch in torch.as_tensor(ends).split(batch_size)]

    def joined(field: int) -> torch.Tensor | None:
        return None if parts[0][field] is None else torch.cat([p[field].float().cpu() for p in parts])

    return Outputs(joined(0), joined(1), joined(2))
