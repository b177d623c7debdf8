"""Initialisation properties: orthogonality, isometry of deep linear nets, scales, seeding."""

import math

import pytest
import torch
from scipy.stats import norm
from torch import nn

from layerinfo.init import init_linear, init_network
from layerinfo.models import MLP


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("gain", [0.5, 1.0, 1.7])
def test_orthogonal_square_is_scaled_isometry(gain):
    lin = nn.Linear(64, 64)
    init_linear(lin, "orthogonal", _gen(), gain=gain)
    w = lin.weight.double()
    assert torch.allclose(w.T @ w, gain**2 * torch.eye(64, dtype=torch.float64), atol=1e-5)
    assert torch.count_nonzero(lin.bias) == 0


def test_orthogonal_rectangular_rows_or_columns_orthonormal():
    wide = nn.Linear(20, 5)  # weight (5, 20): orthonormal rows
    init_linear(wide, "orthogonal", _gen(), gain=2.0)
    assert torch.allclose(wide.weight @ wide.weight.T, 4.0 * torch.eye(5), atol=1e-5)
    tall = nn.Linear(5, 20)  # weight (20, 5): orthonormal columns
    init_linear(tall, "orthogonal", _gen(), gain=2.0)
    assert torch.allclose(tall.weight.T @ tall.weight, 4.0 * torch.eye(5), atol=1e-5)


def test_deep_linear_orthogonal_net_has_all_singular_values_gain_to_the_depth():
    gain, width, hidden = 1.3, 16, [16, 16, 16]
    model = MLP(width, hidden, width, "linear").double()
    init_network(list(model.linears), "orthogonal", seed=4, gain=gain)
    x = torch.zeros(width, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: model(v[None])[0], x)
    s = torch.linalg.svdvals(jac)
    depth = len(model.linears)
    assert torch.allclose(s, torch.full_like(s, gain**depth), rtol=1e-10)


def test_truncated_normal_bounds_and_std():
    lin = nn.Linear(400, 2000)
    init_linear(lin, "truncated_normal", _gen(1), gain=2.0, bias=0.1)
    std = 2.0 / math.sqrt(400)
    w = lin.weight.double()
    assert w.abs().max() <= 2 * std + 1e-7
    # standard deviation of N(0, std^2) truncated to +-2 std
    factor = math.sqrt(1 - 2 * 2 * norm.pdf(2) / (norm.cdf(2) - norm.cdf(-2)))
    assert w.std().item() == pytest.approx(std * factor, rel=0.01)
    assert torch.all(lin.bias == 0.1)


def test_gaussian_scales():
    lin = nn.Linear(500, 2000)
    init_linear(lin, "gaussian", _gen(2), sigma_w=1.5, sigma_b=0.3)
    assert lin.weight.std().item() == pytest.approx(1.5 / math.sqrt(500), rel=0.01)
    assert lin.bias.std().item() == pytest.approx(0.3, rel=0.05)


def test_same_seed_same_weights_different_seed_different():
    a, b, c = (MLP(12, [10, 7], 2, "tanh") for _ in range(3))
    init_network(list(a.linears), "truncated_normal", seed=5)
    init_network(list(b.linears), "truncated_normal", seed=5)
    init_network(list(c.linears), "truncated_normal", seed=6)
    for la, lb, lc in zip(a.linears, b.linears, c.linears):
        assert torch.equal(la.weight, lb.weight)
        assert not torch.equal(la.weight, lc.weight)


def test_unknown_scheme_and_parameter_list_the_allowed_ones():
    lin = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="allowed: truncated_normal, gaussian, orthogonal"):
        init_linear(lin, "xavier", _gen())
    with pytest.raises(ValueError, match="allowed: sigma_w, sigma_b"):
        init_linear(lin, "gaussian", _gen(), gain=1.0)
