"""Activation registry and network structure."""

import math

import pytest
import torch

from layerinfo.models import ACTIVATIONS, MLP, get_activation

REQUIRED = ["tanh", "relu", "elu", "softplus", "softplus_centred", "swish", "abs", "sigmoid", "softsign", "linear"]


def test_required_activations_present():
    assert set(REQUIRED) <= set(ACTIVATIONS)


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if ACTIVATIONS[n].fn is not None])
def test_activation_ranges_hold(name):
    act = get_activation(name)
    x = torch.linspace(-30, 30, 20001, dtype=torch.float64)
    y = act.fn(x)
    assert y.min().item() >= act.lower - 1e-12
    assert y.max().item() <= act.upper + 1e-12
    if math.isfinite(act.lower) and name != "softsign":
        # the stated bound is the infimum: reached or approached within 1e-3 on this grid
        # (softsign approaches -1 only like 1/x)
        assert y.min().item() == pytest.approx(act.lower, abs=1e-3)


def test_centred_softplus_passes_through_origin():
    assert get_activation("softplus_centred").fn(torch.zeros(1)).item() == pytest.approx(0.0, abs=1e-7)


def test_unknown_activation_lists_allowed():
    with pytest.raises(ValueError, match="allowed: tanh, relu"):
        get_activation("gelu")


def test_mlp_layers_and_softmax_output():
    model = MLP(12, [10, 7, 5, 4, 3], 2, "relu")
    logits, layers = model.forward_layers(torch.randn(6, 12))
    assert [l.shape[1] for l in layers] == [10, 7, 5, 4, 3, 2]
    assert torch.allclose(layers[-1].sum(dim=1), torch.ones(6))
    x = torch.randn(6, 12)
    assert torch.equal(model.forward_layers(x)[0], model(x))
    assert [s["units"] for s in model.layer_specs()] == [10, 7, 5, 4, 3, 2]
    assert model.layer_specs()[-1]["activation"] == "softmax"
