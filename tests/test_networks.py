"""The networks: the long-term checkpoint loads strictly into the users' own class; sizes; load round trip."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from barstore.networks import (
    SEQUENCE_SIZES,
    LongTermModel,
    SequenceModel,
    checkpoint_entries,
    load_network,
    network_for,
)
from barstore.specs import MODELS


class UsersLSTMModel(nn.Module):
    """The users' existing long-term model, as their loader defines it (not imported from barstore)."""

    def __init__(self, input_size, hidden_size, num_layers, output_size):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True, dropout=0.2)
        self.layer_norm = nn.LayerNorm(hidden_size)
        self.fc = nn.Linear(hidden_size, output_size)
        self.activation = nn.Tanh()

    def forward(self, x):
        out, _ = self.lstm(x)
        out = self.layer_norm(out[:, -1, :])
        return self.activation(self.fc(out))


def users_loader(path) -> UsersLSTMModel:
    """How the users load a checkpoint: the class from the stored sizes, the state dict strictly."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model = UsersLSTMModel(
        checkpoint["input_size"], checkpoint["hidden_size"], checkpoint["num_layers"], checkpoint["output_size"]
    )
    model.load_state_dict(checkpoint["model_state_dict"], strict=True)
    return model.eval()


def test_longterm_checkpoint_loads_strictly_into_the_users_class(tmp_path):
    torch.manual_seed(1)
    network = network_for(MODELS["longterm_multitf"])
    entries = checkpoint_entries(network)
    assert (entries["input_size"], entries["hidden_size"], entries["num_layers"], entries["output_size"]) == (
        26,
        128,
        3,
        32,
    )
    assert {k.split(".")[0] for k in entries["model_state_dict"]} == {"lstm", "layer_norm", "fc"}
    torch.save(entries, tmp_path / "model.pt")
    theirs = users_loader(tmp_path / "model.pt")
    x = torch.randn(3, 365, 26)
    network.eval()
    with torch.no_grad():
        ours = network(x)
        assert torch.equal(theirs(x), ours.embedding)
    assert ours.embedding.shape == (3, 32) and ours.ret is None and ours.logit.shape == (3,)
    assert ours.embedding.abs().max() < 1  # tanh


def test_longterm_architecture_is_exactly_the_design():
    encoder = network_for(MODELS["longterm_multitf"]).encoder
    lstm = encoder.lstm
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.batch_first, lstm.dropout) == (
        26,
        128,
        3,
        True,
        0.2,
    )
    assert encoder.layer_norm.normalized_shape == (128,)
    assert (encoder.fc.in_features, encoder.fc.out_features) == (128, 32)
    assert isinstance(encoder.activation, nn.Tanh)
    assert [name for name, _ in encoder.named_children()] == ["lstm", "layer_norm", "fc", "activation"]
    with pytest.raises(ValueError, match="fixed"):
        network_for(MODELS["longterm_multitf"], hidden_size=8)


@pytest.mark.parametrize("model", sorted(SEQUENCE_SIZES))
def test_sequence_models_take_their_inputs_and_give_two_heads(model):
    spec = MODELS[model]
    network = network_for(spec)
    hidden, layers = SEQUENCE_SIZES[model]
    assert isinstance(network, SequenceModel)
    assert (network.lstm.input_size, network.lstm.hidden_size, network.lstm.num_layers) == (
        spec.n_features,
        hidden,
        layers,
    )
    out = network.eval()(torch.randn(2, 7, spec.n_features))
    assert out.ret.shape == (2,) and out.logit.shape == (2,) and out.embedding is None


@pytest.mark.parametrize("model", ["seq500_hourly", "longterm_multitf"])
def test_load_network_restores_the_same_function(model, tmp_path):
    torch.manual_seed(2)
    spec = MODELS[model]
    network = network_for(spec).eval()
    torch.save(checkpoint_entries(network), tmp_path / "model.pt")
    loaded = load_network(torch.load(tmp_path / "model.pt", weights_only=True))
    assert type(loaded) is type(network) and not loaded.training
    x = torch.randn(2, 9, spec.n_features)
    with torch.no_grad():
        for a, b in zip(network(x), loaded(x), strict=True):
            assert (a is None and b is None) or torch.equal(a, b)
    if isinstance(loaded, LongTermModel):
        assert torch.equal(loaded.direction_head.linear.weight, network.direction_head.linear.weight)


def test_unknown_architecture_is_refused():
    entries = checkpoint_entries(network_for(MODELS["seq300_minute"]))
    with pytest.raises(ValueError, match="architecture"):
        load_network(entries | {"architecture": "transformer"})
    with pytest.raises(RuntimeError):  # strict: a missing head is an error, not a silently random one
        state = dict(entries["model_state_dict"])
        state.pop("direction_head.weight")
        load_network(entries | {"model_state_dict": state})
