"""Activation registry and network structure."""

import math

import pytest
import torch

from layerinfo.models import ACTIVATIONS, MLP, MLPEnsemble, get_activation

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


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_ensemble_forward_equals_each_member(name):
    """Feature-major ensemble: layer l of member k is ``layers[l][k].T``; equal to the member's own
    MLP forward within 1e-6, for each member's own samples and for samples shared by all."""
    torch.manual_seed(1)
    members = [MLP(12, [10, 7, 5], 2, name) for _ in range(3)]
    if name == "prelu":
        for k, m in enumerate(members):
            for nl in m.nonlinearities:
                nl.weight.data.fill_(0.1 * (k + 1))  # distinct learnable slopes
    ensemble = MLPEnsemble(members)
    assert [tuple(w.shape) for w in ensemble.weights] == [(3, 10, 12), (3, 7, 10), (3, 5, 7), (3, 2, 5)]
    assert [tuple(b.shape) for b in ensemble.biases] == [(3, 10, 1), (3, 7, 1), (3, 5, 1), (3, 2, 1)]
    own = torch.randn(3, 12, 20)
    shared = torch.randn(12, 20)
    with torch.no_grad():
        for x in (own, shared):
            logits, layers = ensemble.forward_layers(x)
            assert logits.shape == (3, 2, 20) and [t.shape[1] for t in layers] == [10, 7, 5, 2]
            for k, m in enumerate(members):
                ref_logits, ref_layers = m.forward_layers((x[k] if x.dim() == 3 else x).T)
                torch.testing.assert_close(logits[k].T, ref_logits, rtol=0, atol=1e-6)
                for got, ref in zip(layers, ref_layers):
                    torch.testing.assert_close(got[k].T, ref, rtol=0, atol=1e-6)
            torch.testing.assert_close(ensemble(x), logits, rtol=0, atol=0)
    if name == "linear":
        torch.testing.assert_close(layers[0][0].T, members[0].linears[0](shared.T).detach(), rtol=0, atol=1e-6)
