"""Study S3: the noisy channel's estimators against exact values, and the theory rows."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from layerinfo.isometry import freeprob as fp
from layerinfo.isometry import meanfield as mf
from layerinfo.isometry.channel import (
    channel_draws,
    channel_jacobian,
    check_noise_mode,
    decoding_bound,
    estimate_all,
    exact_linearised_bits,
    kt_bounds,
)
from layerinfo.isometry.networks import gaussian_channel_bits, jacobian_singular_values, random_layers
from layerinfo.isometry.study import channel_cell, mean_field_snr


def _mixture(means, sigma, draws, seed):
    """Draws (n, draws, d) of Y = mu_X + N(0, sigma^2 I)."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.as_tensor(np.asarray(means, dtype=np.float64))
    return mu[:, None, :] + sigma * torch.randn(mu.shape[0], draws, mu.shape[1], generator=g, dtype=torch.float64)


def _two_gaussians_bits(delta, sigma):
    """Exact I(X; Y) for X uniform on {0, delta}, Y = X + N(0, sigma^2), by 1-D quadrature."""
    def p(y):
        return 0.5 * (norm.pdf(y, 0, sigma) + norm.pdf(y, delta, sigma))

    h_y = integrate.quad(lambda y: -p(y) * math.log(p(y)) if p(y) > 0 else 0.0,
                         -12 * sigma, delta + 12 * sigma, limit=200)[0]
    h_noise = 0.5 * math.log(2 * math.pi * math.e * sigma**2)
    return (h_y - h_noise) / math.log(2.0)


@pytest.mark.parametrize("delta", [1.0, 2.5])
def test_two_inputs_against_exact_information(delta):
    exact = _two_gaussians_bits(delta, 1.0)
    y = _mixture([[0.0, 0.0], [delta, 0.0]], 1.0, 8000, seed=1)
    # The shared-covariance Gaussian decoder is the Bayes decoder here: the bound is tight.
    assert decoding_bound(y[:, :4000], y[:, 4000:]) == pytest.approx(exact, abs=0.02)
    upper, lower = kt_bounds(y)
    assert lower - 0.01 <= exact <= upper + 0.01
    assert lower < upper


def test_far_apart_inputs_carry_log2_n():
    n = 16
    y = _mixture(40.0 * np.eye(n), 1.0, 24, seed=2)
    results = estimate_all(y, 12, torch.Generator().manual_seed(0))
    for name, (value, floor) in results.items():
        assert value == pytest.approx(math.log2(n), abs=1e-6), name
        assert floor < 1.0, name


def test_identical_inputs_carry_nothing_within_the_floor():
    y = _mixture(np.zeros((32, 6)), 1.0, 32, seed=3)
    results = estimate_all(y, 16, torch.Generator().manual_seed(0))
    for name, (value, floor) in results.items():
        assert abs(value - floor) < 0.15, (name, value, floor)
        assert value < 0.6, name
    assert results["decoding"][0] < 0.05


@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("sigma_w", [0.8, 1.0, 2.0])
def test_lower_bounds_below_upper_on_every_network(init, sigma_w):
    cell = channel_cell("tanh", sigma_w, 0.05, 0.05, 8)
    g = torch.Generator().manual_seed(5)
    layers = random_layers(8, 8, init, sigma_w, 0.05, g)
    x = math.sqrt(cell["input_variance"]) * torch.randn(32, 8, generator=g, dtype=torch.float64)
    for mode in ("per_layer_relative", "output_fixed"):
        draws = channel_draws(layers, "tanh", x, [2, 8], mode, 32, g, cell["noise_variances"], 0.5)
        for depth, y in draws.items():
            r = estimate_all(y, 16, g)
            assert r["kt_lower"][0] <= r["kt_upper"][0] + 1e-12
            # the decoding lower bound never passes the upper bound (closest here: 0.018 bits below
            # it, at log2(32) = 5 bits where both saturate)
            assert r["decoding"][0] <= r["kt_upper"][0] + 1e-9, (r["decoding"][0], r["kt_upper"][0])
            assert r["kt_upper"][0] <= math.log2(32) + 1e-9 and r["decoding"][0] <= math.log2(32) + 1e-9


def test_noisy_length_map_matches_monte_carlo():
    phi, sigma_w, sigma_b, eps, depth, width = "tanh", 1.3, 0.05, 0.1, 6, 2000
    cell = channel_cell(phi, sigma_w, sigma_b, eps, depth)
    g = torch.Generator().manual_seed(7)
    layers = random_layers(depth, width, "gaussian", sigma_w, sigma_b, g)
    x = math.sqrt(cell["input_variance"]) * torch.randn(4, width, generator=g, dtype=torch.float64)
    draws = channel_draws(layers, phi, x, range(1, depth + 1), "per_layer_relative", 8, g, cell["noise_variances"])
    measured = [float((draws[d] ** 2).mean()) for d in range(1, depth + 1)]
    np.testing.assert_allclose(measured, cell["q_noisy"], rtol=0.05)
    # q^l includes its own noise: q^l = s^l / (1 - eps)
    s2 = mf.length_map(cell["q_noisy"][0], phi, sigma_w, sigma_b)
    assert cell["q_noisy"][1] == pytest.approx(s2 / (1 - eps), rel=1e-12)


def test_linear_orthogonal_linearisation_is_exact():
    # Linear orthogonal net, sigma_w = 1: noise of every layer arrives unchanged, C^L = L v I,
    # so I = d/2 log2(1 + v_x / (L v)) and the mean-field snr is the same.
    depth, width, eps = 5, 6, 0.05
    cell = channel_cell("linear", 1.0, 0.0, eps, depth)
    g = torch.Generator().manual_seed(3)
    layers = random_layers(depth, width, "orthogonal", 1.0, 0.0, g)
    x0 = torch.zeros(width, dtype=torch.float64)
    s, cov, jac = channel_jacobian(layers, "linear", x0, [depth], "per_layer_relative", cell["noise_variances"])[depth]
    v = cell["noise_variances"]
    np.testing.assert_allclose(cov.numpy(), np.sum(v) * np.eye(width), atol=1e-12)
    expected = width / 2 * math.log2(1 + cell["input_variance"] / np.sum(v))
    assert exact_linearised_bits(jac, cov, cell["input_variance"]) == pytest.approx(expected, rel=1e-10)
    snr = mean_field_snr(cell, "per_layer_relative", depth, 1.0)["snr"]
    assert gaussian_channel_bits(s, snr) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
def test_classic_mean_field_bounds_the_linearised_channel_by_jensen(init):
    # 1/2 sum log2(1 + snr s_i^2) <= N/2 log2(1 + snr mean s_i^2), equality only for a flat spectrum.
    g = torch.Generator().manual_seed(11)
    sigma_w = mf.critical_sigma_w("tanh", 0.05)
    layers = random_layers(16, 32, init, sigma_w, 0.05, g)
    x = 0.2 * torch.randn(32, generator=g, dtype=torch.float64)
    s = jacobian_singular_values(layers, "tanh", x, [16])[16].numpy()
    for snr in (0.1, 1.0, 10.0):
        linear = gaussian_channel_bits(s, snr)
        assert fp.classic_bits(snr, 32, float(np.mean(s**2))) > linear
    flat_layers = random_layers(16, 32, "orthogonal", 1.0, 0.0, g)
    s = jacobian_singular_values(flat_layers, "linear", x, [16])[16].numpy()
    assert fp.classic_bits(2.0, 32, float(np.mean(s**2))) == pytest.approx(gaussian_channel_bits(s, 2.0), rel=1e-10)


def _monte_carlo_spectrum(phi, init, sigma_w, sigma_b, depth, width, reps, seed):
    q = mf.fixed_point_q(phi, sigma_w, sigma_b) if phi != "linear" else 1.0
    variance = max(q - sigma_b**2, 0.0) / sigma_w**2
    g = torch.Generator().manual_seed(seed)
    lam = []
    for _ in range(reps):
        layers = random_layers(depth, width, init, sigma_w, sigma_b, g)
        x = math.sqrt(variance) * torch.randn(width, generator=g, dtype=torch.float64)
        lam.append(jacobian_singular_values(layers, phi, x, [depth])[depth].numpy() ** 2)
    return q, np.concatenate(lam)


@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("phi,sigma_b", [("tanh", 0.05), ("tanh", 0.3), ("linear", 0.0)])
def test_free_probability_moments_against_monte_carlo_spectra(init, phi, sigma_b):
    depth, width = 6, 200
    sigma_w = 1.0 if phi == "linear" else mf.critical_sigma_w(phi, sigma_b)
    # Gaussian products fluctuate from draw to draw (relative ~ sqrt(depth / width) per net).
    q, lam = _monte_carlo_spectrum(phi, init, sigma_w, sigma_b, depth, width, 16, seed=1)
    m1, kappa = fp.spectral_moments(phi, sigma_w, init, [q] * depth, depth)
    assert lam.mean() == pytest.approx(m1, rel=0.06)
    assert lam.var() / lam.mean() ** 2 == pytest.approx(kappa, rel=0.15, abs=1e-6)
    for snr in (0.3, 3.0):
        exact = fp.expected_log1p(snr, phi, sigma_w, init, [q] * depth, depth, method="exact")
        assert exact == pytest.approx(np.mean(np.log1p(snr * lam)), rel=0.07)  # finite width: m_1 ~3% low


def test_second_order_expansion_agrees_where_the_spectrum_is_narrow():
    lengths = [0.005] * 4  # kappa ~ 4 * 8 q^2 ~ 1e-3
    _, kappa = fp.spectral_moments("tanh", 1.0, "orthogonal", lengths, 4)
    assert 0 < kappa < 2e-3
    for snr in (0.5, 5.0):
        exact = fp.expected_log1p(snr, "tanh", 1.0, "orthogonal", lengths, 4, method="exact")
        approx = fp.expected_log1p(snr, "tanh", 1.0, "orthogonal", lengths, 4, method="expansion")
        assert exact == pytest.approx(approx, abs=2e-5)
    # Marchenko–Pastur (one Gaussian layer, linear): E ln(1 + s lambda) has a closed form.
    s = 2.0
    closed = 2 * math.log((1 + math.sqrt(1 + 4 * s)) / 2) - (math.sqrt(1 + 4 * s) - 1) ** 2 / (4 * s)
    assert fp.expected_log1p(s, "linear", 1.0, "gaussian", [], 1, method="exact") == pytest.approx(closed, rel=1e-4)


def test_unsupported_choices_are_refused():
    with pytest.raises(ValueError, match="per_layer_relative, output_fixed"):
        check_noise_mode("gaussian")
    with pytest.raises(ValueError, match="gaussian, orthogonal"):
        fp.spectral_moments("tanh", 1.0, "xavier", [0.1], 1)
    with pytest.raises(ValueError, match="auto, exact, expansion"):
        fp.expected_log1p(1.0, "tanh", 1.0, "gaussian", [0.1], 1, method="series")
    assert math.isnan(fp.expected_log1p(1.0, "relu", 1.4, "gaussian", [0.1], 1))
    with pytest.raises(ValueError, match="at least 2"):
        decoding_bound(torch.zeros(1, 4, 2, dtype=torch.float64), torch.zeros(1, 4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="m_fit"):
        estimate_all(torch.zeros(3, 4, 2, dtype=torch.float64), 4, torch.Generator())


def test_vectorised_critical_line_matches_the_scalar_root():
    sigma_bs = [0.0, 0.05, 0.2, 0.5]
    for phi in ("tanh", "erf", "hard_tanh", "relu", "linear"):
        sigma_w, q = mf.critical_line_many(phi, sigma_bs)
        for sb, sw in zip(sigma_bs, sigma_w):
            assert sw == pytest.approx(mf.critical_sigma_w(phi, sb), abs=1e-8), (phi, sb)
