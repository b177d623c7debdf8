"""Study S3: mean-field theory against closed forms, random networks against theory."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from layerinfo.isometry import meanfield as mf
from layerinfo.isometry.networks import (
    gaussian_channel_bits,
    jacobian_singular_values,
    layer_outputs,
    linearised_information,
    random_layers,
    spectrum_statistics,
)
from layerinfo.isometry.study import (
    mean_field_information,
    sigma_w_values,
    training_runs,
)


@pytest.mark.parametrize("sigma_w,sigma_b", [(0.5, 1.0), (0.9, 0.3), (0.2, 2.0)])
def test_linear_fixed_point_closed_form(sigma_w, sigma_b):
    # q = sigma_w^2 q + sigma_b^2  ->  q* = sigma_b^2 / (1 - sigma_w^2)
    q = mf.fixed_point_q("linear", sigma_w, sigma_b)
    assert q == pytest.approx(sigma_b**2 / (1 - sigma_w**2), rel=1e-10)
    assert mf.chi_1("linear", sigma_w, q) == pytest.approx(sigma_w**2, rel=1e-12)


@pytest.mark.parametrize("sigma_w,sigma_b", [(1.0, 0.5), (1.3, 0.1), (0.5, 1.0)])
def test_relu_fixed_point_closed_form(sigma_w, sigma_b):
    # E[relu(sqrt(q) z)^2] = q / 2  ->  q* = sigma_b^2 / (1 - sigma_w^2 / 2); chi_1 = sigma_w^2 / 2
    q = mf.fixed_point_q("relu", sigma_w, sigma_b)
    assert q == pytest.approx(sigma_b**2 / (1 - sigma_w**2 / 2), rel=1e-10)
    assert mf.chi_1("relu", sigma_w, q) == pytest.approx(sigma_w**2 / 2, rel=1e-12)


def test_growing_maps_have_no_finite_fixed_point():
    assert mf.fixed_point_q("linear", 1.5, 0.1) == math.inf
    assert mf.fixed_point_q("relu", 1.0, 0.0) == 0.0  # sigma_w^2 / 2 < 1 without bias decays to 0
    assert mf.fixed_point_q("relu", math.sqrt(2.0), 0.0, q0=0.7) == pytest.approx(0.7)  # every q is fixed


def test_tanh_critical_point_without_bias():
    # q* = 0 for sigma_w <= 1 and chi_1 = sigma_w^2 tanh'(0)^2: critical at sigma_w = 1
    q = mf.fixed_point_q("tanh", 1.0, 0.0)
    assert q == 0.0
    assert mf.chi_1("tanh", 1.0, q) == pytest.approx(1.0, abs=1e-12)
    assert mf.critical_sigma_w("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)
    assert mf.phase_point("tanh", 0.9, 0.0)["phase"] == "ordered"
    assert mf.phase_point("tanh", 1.5, 0.0)["phase"] == "chaotic"


def test_known_critical_points():
    assert mf.critical_sigma_w("relu", 0.0) == pytest.approx(math.sqrt(2.0), rel=1e-8)
    assert mf.critical_sigma_w("linear", 0.3) == pytest.approx(1.0, rel=1e-8)
    # erf'(0) = 2 / sqrt(pi): chi_1 = 4 sigma_w^2 / pi at q* = 0
    assert mf.critical_sigma_w("erf", 0.0) == pytest.approx(math.sqrt(math.pi) / 2, abs=1e-6)
    # with a bias the critical sigma_w of tanh moves up (Poole et al. 2016, Fig. 2)
    assert 1.0 < mf.critical_sigma_w("tanh", 0.05) < mf.critical_sigma_w("tanh", 0.3)


@pytest.mark.parametrize("q", [0.05, 0.5, 2.0, 30.0])
def test_hard_tanh_length_map_against_closed_form(q):
    a = 1 / math.sqrt(q)
    exact = q * ((2 * norm.cdf(a) - 1) - 2 * a * norm.pdf(a)) + 2 * (1 - norm.cdf(a))
    assert mf.length_map(q, "hard_tanh", 1.0, 0.0) == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("phi", ["tanh", "erf", "hard_tanh", "relu"])
def test_chi_q_is_the_slope_of_the_length_map(phi):
    q, h = 0.7, 1e-6
    slope = (mf.length_map(q + h, phi, 1.4, 0.2) - mf.length_map(q - h, phi, 1.4, 0.2)) / (2 * h)
    assert mf.chi_q(phi, 1.4, q) == pytest.approx(slope, rel=1e-6)


def test_correlation_fixed_point():
    # chaotic tanh with a bias: a stable c* < 1 that the map returns
    point = mf.phase_point("tanh", 2.0, 0.3)
    c, q = point["c_star"], point["q_star"]
    assert 0.0 < c < 1.0
    assert mf.correlation_map(c, "tanh", 2.0, 0.3, q) == pytest.approx(c, abs=1e-9)
    assert point["chi_c"] < 1.0 and point["xi_c"] > 0
    # ordered phase: c* = 1 and chi_c = chi_1 < 1; odd phi without bias: c* = 0 when chaotic
    ordered = mf.phase_point("tanh", 0.8, 0.3)
    assert ordered["c_star"] == 1.0 and ordered["chi_c"] == pytest.approx(ordered["chi_1"], rel=1e-9)
    assert mf.phase_point("tanh", 2.0, 0.0)["c_star"] == 0.0
    assert mf.correlation_map(1.0, "tanh", 2.0, 0.3, q) == pytest.approx(1.0, abs=1e-9)


def test_depth_scale():
    assert mf.depth_scale(math.exp(-1 / 3.0)) == pytest.approx(3.0)
    assert mf.depth_scale(1.0) == math.inf
    assert math.isnan(mf.depth_scale(1.2))


def test_unknown_nonlinearity_is_refused():
    with pytest.raises(ValueError, match="allowed: tanh, hard_tanh, erf, linear, relu"):
        mf.length_map(1.0, "gelu", 1.0, 0.0)


def test_orthogonal_weights_are_scaled_isometries():
    g = torch.Generator().manual_seed(0)
    (w, _), = random_layers(1, 24, "orthogonal", 1.7, 0.0, g)
    assert torch.allclose(w.T @ w, 1.7**2 * torch.eye(24, dtype=torch.float64), atol=1e-12)


def test_deep_linear_orthogonal_jacobian_singular_values_equal_gain_to_depth():
    g = torch.Generator().manual_seed(1)
    layers = random_layers(16, 32, "orthogonal", 1.1, 0.3, g)
    x = torch.randn(32, generator=g, dtype=torch.float64)
    spectra = jacobian_singular_values(layers, "linear", x, [4, 16])
    assert torch.allclose(spectra[4], torch.full((32,), 1.1**4, dtype=torch.float64), rtol=1e-10)
    assert torch.allclose(spectra[16], torch.full((32,), 1.1**16, dtype=torch.float64), rtol=1e-10)


def test_jacobian_matches_autograd():
    g = torch.Generator().manual_seed(2)
    layers = random_layers(5, 8, "gaussian", 1.3, 0.2, g)
    x = torch.randn(8, generator=g, dtype=torch.float64)
    jac = torch.func.jacrev(lambda v: layer_outputs(layers, "tanh", v[None], [5])[5][0])(x)
    expected = torch.linalg.svdvals(jac)
    assert torch.allclose(jacobian_singular_values(layers, "tanh", x, [5])[5], expected, rtol=1e-10)


def test_monte_carlo_layer_lengths_follow_the_length_map():
    # Width 2000, 8 inputs: each q^l estimate has relative std ~ sqrt(2 / 16000) ~ 1.1%; allow 5%.
    phi, sigma_w, sigma_b, width, depth = "tanh", 1.5, 0.3, 2000, 8
    g = torch.Generator().manual_seed(3)
    layers = random_layers(depth, width, "gaussian", sigma_w, sigma_b, g)
    x = torch.randn(8, width, generator=g, dtype=torch.float64)  # per-unit variance 1 -> q^1 = sigma_w^2 + sigma_b^2
    a, measured = x, []
    fn = torch.tanh
    for w, b in layers:
        h = a @ w.T + b
        measured.append(float((h**2).mean()))
        a = fn(h)
    theory = mf.length_trajectory(phi, sigma_w, sigma_b, sigma_w**2 + sigma_b**2, depth)
    np.testing.assert_allclose(measured, theory, rtol=0.05)


def test_gaussian_channel_two_by_two_by_hand():
    # One linear layer W = [[1, 1], [0, 1]]: W W^T = [[2, 1], [1, 1]]; with input_std = noise_std,
    # det(I + W W^T) = det([[3, 1], [1, 2]]) = 5, so I = 1/2 log2 5 bits.
    w = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    layers = [(w, torch.zeros(2, dtype=torch.float64))]
    value = linearised_information(layers, "linear", torch.zeros(2, dtype=torch.float64), 0.3, 0.3, [1])[1]
    assert value == pytest.approx(0.5 * math.log2(5.0), rel=1e-12)
    assert gaussian_channel_bits(np.ones(4), 3.0) == pytest.approx(4 * 0.5 * math.log2(4.0))


def test_mean_field_information_is_exact_for_orthogonal_linear_networks():
    g = torch.Generator().manual_seed(4)
    layers = random_layers(6, 10, "orthogonal", 0.9, 0.0, g)
    linear = linearised_information(layers, "linear", torch.zeros(10, dtype=torch.float64), 0.5, 0.2, [1, 3, 6])
    theory = mean_field_information("linear", 0.9, 0.0, 10, 0.5, 0.2, [1, 3, 6])
    for depth in (1, 3, 6):
        assert linear[depth] == pytest.approx(theory[depth], rel=1e-10)
        assert theory[depth] == pytest.approx(5 * math.log2(1 + (0.5 / 0.2) ** 2 * 0.9 ** (2 * depth)), rel=1e-12)


def test_isometry_maximises_the_linear_channel_at_equal_power():
    # Jensen: among spectra with the same mean squared singular value, the flat one carries most.
    flat = gaussian_channel_bits(np.ones(8), 2.0)
    spread = gaussian_channel_bits(np.sqrt([0.1, 0.5, 1.0, 1.0, 1.0, 1.2, 1.6, 1.6]), 2.0)
    assert flat > spread


def test_spectrum_statistics_by_hand():
    stats = spectrum_statistics([2.0, 1.0, 0.5])
    assert stats["mean_sq_singular"] == pytest.approx((4 + 1 + 0.25) / 3)
    assert stats["condition_number"] == pytest.approx(4.0)
    assert stats["median_singular"] == 1.0


def test_critical_keyword_and_training_runs():
    values = sigma_w_values([0.8, "critical"], "tanh", 0.0)
    assert values[0] == (0.8, False) and values[1][1] and values[1][0] == pytest.approx(1.0, abs=1e-6)
    section = {
        "nonlinearity": "tanh",
        "sigma_b": 0.0,
        "training": {
            "dataset": {"name": "digits"}, "depth": 3, "width": 5, "seeds": [0, 1],
            "initialisations": {"o": {"scheme": "orthogonal", "sigma_w": "critical"},
                                "g": {"scheme": "gaussian", "sigma_w": 2.0}},
            "optimisation": {"optimizer": "sgd", "learning_rate": 0.1, "batch_size": 8, "epochs": 1},
            "snapshots": {"count": 2},
        },
    }
    runs = training_runs(section)
    assert [r["run"] for r in runs] == ["tanh-o-s0", "tanh-o-s1", "tanh-g-s0", "tanh-g-s1"]
    assert runs[0]["initialisation"]["gain"] == pytest.approx(1.0, abs=1e-6)
    assert runs[2]["initialisation"] == {"name": "g", "scheme": "gaussian", "sigma_w": 2.0, "sigma_b": 0.0}
    assert runs[0]["architecture"]["hidden_widths"] == [5, 5, 5]
