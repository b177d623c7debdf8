"""Coding-schemes study (S4): the Langevin sampler against a known Gaussian posterior, the lazy
kernel against its closed forms, the coding measures on hand-computed cases and hand-made
populations, and the posterior file contract (the diagnostics: test_coding_diagnostics.py;
the criteria: test_claims.py)."""

import h5py
import numpy as np
import pytest
import torch

from layerinfo.coding import kernels, posterior, schemes, study, tasks
from layerinfo.coding.langevin import (
    Network,
    autograd_potential,
    hidden_activity,
    langevin_chain,
    langevin_sample,
    marginal_potential,
    marginal_potential_grad,
    phi,
    readout_prior_variance,
    sample_prior,
    sample_readout,
)
from layerinfo.coding.units import chain_schedule
from layerinfo.workflow.config import ConfigError, check_coding, coding_run_config, coding_runs


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)  # later tests in this process keep their own setting


# --- sampler -------------------------------------------------------------------------------


def test_langevin_recovers_bayesian_linear_regression_posterior():
    """U = (beta/2)|X t - y|^2 + |t|^2/(2 s2) at temperature T has the Gaussian posterior
    N(mu, Sigma), Sigma = T (beta X'X + I/s2)^-1, mu = beta Sigma X'y / T. Tolerance: the mean within
    0.1 posterior standard deviations and the covariance within 0.1 of the largest variance
    (Monte-Carlo error of ~2000 effective samples plus the O(eta) discretisation bias)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.standard_normal(20)
    beta, s2, temperature = 2.0, 1.0, 0.5
    precision = beta * x.T @ x + np.eye(3) / s2
    cov = temperature * np.linalg.inv(precision)
    mean = np.linalg.solve(precision, beta * x.T @ y)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def potential(params):
        (t,) = params
        return 0.5 * beta * ((xt @ t - yt) ** 2).sum() + (t ** 2).sum() / (2 * s2)

    def potential_and_grad(params):  # the same potential, gradient by hand (fast)
        (t,) = params
        return potential(params), [beta * xt.T @ (xt @ t - yt) + t / s2]

    theta = torch.zeros(3, dtype=torch.float64)
    u, grad = autograd_potential(potential)([theta + 0.3])
    assert torch.allclose(grad[0], potential_and_grad([theta + 0.3])[1][0])
    draws = langevin_chain(potential_and_grad, [theta], step_size=2e-3, temperature=temperature, n_steps=40_000,
                           burn_in=2_000, thin=10, generator=torch.Generator().manual_seed(3))
    samples = np.stack([d[0] for d in draws])
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(samples.mean(0) - mean) < 0.1 * sd), (samples.mean(0), mean)
    assert np.allclose(np.cov(samples.T), cov, atol=0.1 * cov.diagonal().max()), (np.cov(samples.T), cov)


def test_feature_learning_network_interpolates_the_toy_task_and_lazy_readout_stays_at_prior():
    x, labels, _, _ = tasks.orthonormal_task(24, 20, 8, rng=np.random.default_rng(0))
    y = tasks.one_hot(labels, 3)
    chain = langevin_sample(x, y, nonlinearity="sigmoid", scaling="feature", width=40, beta=1e4,
                            sigma_a2=readout_prior_variance(1.0, 20, "feature"), step_size=1e-2, n_steps=600,
                            burn_in=300, thin=60, generator=torch.Generator().manual_seed(0))
    # zero temperature: the data are interpolated; the kernel aligns with the labels
    assert chain.trace_mse[-5:].max() < 1e-3
    assert chain.trace_alignment[-1] > 0.9
    assert chain.readout.shape == (5, 40, 3) and chain.hidden[0].shape == (5, 40, 24)
    lazy = langevin_sample(x, y, nonlinearity="sigmoid", scaling="lazy", width=40, beta=1e4, sigma_a2=1.0,
                           step_size=1e-2, n_steps=600, burn_in=300, thin=60,
                           generator=torch.Generator().manual_seed(0))
    # the hidden weights keep their prior variance (1) to within sampling error
    assert lazy.trace_weight2[-1] == pytest.approx(1.0, abs=0.1)
    # and they move: under the prior alone Langevin is an Ornstein-Uhlenbeck process, so kept samples
    # 240 steps of 0.01 apart differ by 2 (1 - exp(-2.4)) = 1.82 in mean square (1.81 measured; a
    # frozen sampler, step 1e-12, gives 5e-10 and kept its prior variance all the same)
    first, last = np.asarray(lazy.hidden[0][0]), np.asarray(lazy.hidden[0][-1])
    assert np.mean((first - last) ** 2) == pytest.approx(2 * (1 - np.exp(-0.01 * 240)), rel=0.15)


def _tiny_net(depth=2, nonlinearity="relu", seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(6, 5, generator=g, dtype=torch.float64)
    y = torch.eye(3, dtype=torch.float64)[torch.tensor([0, 0, 1, 1, 2, 2])]
    net = sample_prior(5, 7, depth, 3, 1.0, 0.5, g)
    return x, y, net


@pytest.mark.parametrize("nonlinearity", ["linear", "sigmoid", "relu", "erf"])
@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_hand_written_gradient_matches_autograd(nonlinearity, gamma):
    x, y, net = _tiny_net(2, nonlinearity)
    kw = dict(nonlinearity=nonlinearity, gamma=gamma, beta=50.0, sigma_w2=1.3, sigma_a2=0.2)
    u, grads = marginal_potential_grad(net.hidden, x, y, **kw)
    u_ref, grads_ref = autograd_potential(lambda ps: marginal_potential(ps, x, y, **kw))(net.hidden)
    assert float(u) == pytest.approx(float(u_ref), rel=1e-12)
    for g, r in zip(grads, grads_ref):
        assert torch.allclose(g, r, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_marginal_potential_integrates_the_readout_out(gamma):
    """-log int exp(-U_joint(W, a)) da for the Gaussian readout: U_joint(W, a*) + (m/2) log det H
    (H the per-output Hessian in a) up to a constant; differences between two W must match U(W)."""
    beta, sigma_w2, sigma_a2 = 30.0, 1.0, 0.3

    def by_integral(net, x, y):
        h = hidden_activity(net, x, "sigmoid")[-1]
        n = h.shape[1]
        beta_eff = beta * n ** (2 * gamma - 1)
        g = h / n ** gamma
        hess = beta_eff * g.T @ g + torch.eye(n, dtype=h.dtype) / sigma_a2
        a_star = torch.linalg.solve(hess, beta_eff * g.T @ y)
        joint = (0.5 * beta_eff * ((g @ a_star - y) ** 2).sum() + (a_star ** 2).sum() / (2 * sigma_a2)
                 + sum((w ** 2).sum() for w in net.hidden) / (2 * sigma_w2))
        # (the integral's constants, -(N m / 2) log(2 pi) and the normalisations, are the same for both W)
        return float(joint + 0.5 * y.shape[1] * torch.logdet(hess))

    x, y, one = _tiny_net(1, "sigmoid", seed=1)
    _, _, two = _tiny_net(1, "sigmoid", seed=2)
    kw = dict(nonlinearity="sigmoid", gamma=gamma, beta=beta, sigma_w2=sigma_w2, sigma_a2=sigma_a2)
    u1, u2 = (float(marginal_potential(n.hidden, x, y, **kw)) for n in (one, two))
    assert u1 - u2 == pytest.approx(by_integral(one, x, y) - by_integral(two, x, y), rel=1e-9)


def test_readout_draws_follow_their_gaussian_conditional():
    x, y, net = _tiny_net(1, "relu", seed=3)
    h = hidden_activity(net, x, "relu")[-1]
    n, gamma, beta, sigma_a2 = h.shape[1], 1.0, 4.0, 0.5
    g = h / n ** gamma
    beta_eff = beta * n ** (2 * gamma - 1)
    cov = torch.linalg.inv(beta_eff * g.T @ g + torch.eye(n, dtype=h.dtype) / sigma_a2)
    mean = cov @ (beta_eff * g.T @ y)
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_readout(h, y, gamma=gamma, beta=beta, sigma_a2=sigma_a2, generator=gen)
                         for _ in range(4000)])
    sd = cov.diagonal().sqrt()[:, None]
    assert torch.all((draws.mean(0) - mean).abs() < 0.1 * sd)  # Monte-Carlo error ~0.016 sd
    emp = torch.cov(draws[:, :, 0].T)
    assert torch.allclose(emp, cov, atol=0.1 * float(cov.diagonal().max()))


def test_sigmoid_runs_from_zero_to_one():
    z = torch.tensor([-50.0, 0.0, 50.0], dtype=torch.float64)
    assert phi("sigmoid", z).tolist() == pytest.approx([0.0, 0.5, 1.0])
    # slope 1/2 at the origin
    eps = torch.tensor(1e-6, dtype=torch.float64)
    assert float((phi("sigmoid", eps) - 0.5) / eps) == pytest.approx(0.5, rel=1e-4)


def test_sampler_refuses_bad_arguments():
    x, y = np.zeros((4, 3)), np.zeros((4, 2))
    with pytest.raises(ValueError, match="nonlinearity"):
        langevin_sample(x, y, nonlinearity="tanh", scaling="lazy", width=4)
    with pytest.raises(ValueError, match="scaling"):
        langevin_sample(x, y, nonlinearity="sigmoid", scaling="mean", width=4)
    with pytest.raises(ValueError, match="depth"):
        langevin_sample(x, y, nonlinearity="erf", scaling="lazy", width=4, depth=4)
    with pytest.raises(ValueError, match="burn_in"):
        langevin_sample(x, y, nonlinearity="erf", scaling="lazy", width=4, n_steps=10, burn_in=10)


def test_readout_prior_variance_scales_with_p_only_in_the_feature_scaling():
    assert readout_prior_variance(2.0, 50, "feature") == pytest.approx(2.0 / 50)
    assert readout_prior_variance(2.0, 50, "feature", scale_with_p=False) == 2.0
    assert readout_prior_variance(2.0, 50, "lazy") == 2.0


# --- closed-form kernels ---------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("nonlinearity", ["linear", "sigmoid", "relu", "erf"])
def test_lazy_kernel_at_large_width_matches_closed_form(nonlinearity, depth):
    """(1/N) sum_i phi_i(x) phi_i(x') with prior weights: within 5 standard errors of the mean
    over the N neurons (the standard error estimated from the same neurons)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 8)) * np.array([[0.5], [1.0], [1.5], [1.0], [2.0]])
    theory = kernels.nngp_kernel(x, x, nonlinearity, depth, 1.3)
    if depth == 1:  # independent neurons: the standard error over the N neurons is exact
        width = 40_000
        net = sample_prior(8, width, 1, 1, 1.3, 1.0, torch.Generator().manual_seed(2))
        h = hidden_activity(net, torch.tensor(x), nonlinearity)[-1].numpy()  # (5, N)
        products = h[:, None, :] * h[None, :, :]
        empirical, sem = products.mean(-1), products.std(-1) / np.sqrt(width)
        assert np.all(np.abs(empirical - theory) < 5 * sem + 1e-12), np.abs(empirical - theory) / sem
    else:  # neurons share the finite first layer: average independent networks, allow an O(1/N) bias
        gen = torch.Generator().manual_seed(2)
        ks = []
        for _ in range(12):
            net = sample_prior(8, 1500, depth, 1, 1.3, 1.0, gen)
            h = hidden_activity(net, torch.tensor(x), nonlinearity)[-1].numpy()
            ks.append(h @ h.T / h.shape[1])
        ks = np.array(ks)
        sem = ks.std(0, ddof=1) / np.sqrt(len(ks))
        assert np.all(np.abs(ks.mean(0) - theory) < 5 * sem + 0.01 * np.abs(theory).max()), (ks.mean(0), theory)


def test_closed_form_kernels_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]) * np.sqrt(2)  # |x|^2/N0 = 1, 1, 2
    k_lin = kernels.nngp_kernel(x, x, "linear")
    assert k_lin[0, 1] == pytest.approx(0.0) and k_lin[2, 2] == pytest.approx(2.0)
    k_relu = kernels.nngp_kernel(x, x, "relu")
    # orthogonal inputs of unit variance: (1/2pi)(sin(pi/2) + 0) ; equal inputs: k/2
    assert k_relu[0, 1] == pytest.approx(1 / (2 * np.pi))
    assert k_relu[0, 0] == pytest.approx(0.5)
    k_sig = kernels.nngp_kernel(x, x, "sigmoid")
    # orthogonal inputs: independent units of mean 1/2; equal inputs: 1/4 + arcsin(2c^2/(1+2c^2))/(2 pi)
    assert k_sig[0, 1] == pytest.approx(0.25)
    assert k_sig[0, 0] == pytest.approx(0.25 + np.arcsin((np.pi / 2) / (1 + np.pi / 2)) / (2 * np.pi))
    k_erf = kernels.nngp_kernel(x, x, "erf")
    assert k_erf[0, 0] == pytest.approx(2 / np.pi * np.arcsin(2 / 3))
    assert k_erf[0, 1] == pytest.approx(0.0)
    # depth 2, ReLU, sigma_w2 = 2: layer 1 has k11 = 2 |x|^2/N0 = 2 and E[relu^2] = k11/2 = 1;
    # layer 2 has k11 = 2 * 1 and E[relu^2] = 1; orthogonal inputs: k12 = 2 / (2 pi) at layer 2
    k2 = kernels.nngp_kernel(x[:2], x[:2], "relu", depth=2, sigma_w2=2.0)
    assert k2[0, 0] == pytest.approx(1.0)
    cos = (2 / np.pi) / 2.0  # layer-2 k12 = 2 * E1[relu relu] = 2 * 2 / (2 pi), over k11 = 2
    t = np.arccos(cos)
    assert k2[0, 1] == pytest.approx(2.0 * (np.sin(t) + (np.pi - t) * cos) / (2 * np.pi))


def test_gp_expected_training_error_limits():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 10))
    y = tasks.one_hot(np.array([0, 1, 2, 0, 1, 2, 0, 0]), 3)
    k = kernels.nngp_kernel(x, x, "relu")
    # no noise: the posterior interpolates with zero variance at the data
    assert kernels.gp_expected_train_mse(k, y, 1.0, 1e-12) == pytest.approx(0.0, abs=1e-8)
    # a vanishing prior: f = 0, the error is the targets' mean square
    assert kernels.gp_expected_train_mse(k, y, 1e-12, 0.1) == pytest.approx(np.mean(y ** 2))
    # one input, kernel k, prior s, noise v: mean error (v/(s k + v))^2 y^2 + s k v / (s k + v)
    one = kernels.gp_expected_train_mse(np.array([[2.0]]), np.array([[1.0]]), 0.5, 0.25)
    assert one == pytest.approx((0.25 / 1.25) ** 2 + 1.0 * 0.25 / 1.25)


def test_interpolating_gp_reproduces_the_training_targets():
    x, labels, xt, _ = tasks.orthonormal_task(12, 9, 4, rng=np.random.default_rng(0))
    y = tasks.one_hot(labels, 3)
    k = kernels.nngp_kernel(x, x, "relu")
    assert np.allclose(kernels.gp_interpolate(k, k, y), y, atol=1e-6)
    # linear kernel on orthonormal inputs is the identity: the prediction is the overlap with each input
    lin = kernels.gp_interpolate(kernels.nngp_kernel(x, x, "linear"), kernels.nngp_kernel(xt, x, "linear"), y)
    assert np.allclose(lin, (xt @ x.T / 12) @ y)
    with pytest.raises(ValueError, match="jitter"):
        kernels.gp_interpolate(k, k, y, jitter=-1.0)


def test_gp_prediction_interpolates_without_noise():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 10))
    y = tasks.one_hot(np.array([0, 1, 2, 0, 1, 2]), 3)
    k = kernels.nngp_kernel(x, x, "erf")
    assert np.allclose(kernels.gp_predict(k, k, y, 1.0, 0.0), y, atol=1e-8)


# --- coding measures and the classifier --------------------------------------------------------


def test_codes_by_hand():
    # one sample, three neurons, three classes; population max |r| = 2
    r = np.array([[[2.0, 0.2, 1.5], [0.1, 0.1, 0.1], [-2.0, 1.2, 0.0]]])
    codes = schemes.neuron_codes(r, threshold=0.5)
    assert codes.tolist() == [[0b101, 0, 0b010]]
    assert schemes.code_label(0b101) == "{0,2}" and schemes.code_label(0) == "{}"
    stats = schemes.code_statistics(codes, 3)
    assert stats["code_fraction"] == pytest.approx(2 / 3) and stats["n_codes"] == 2
    assert stats["effective_codes"] == pytest.approx(2.0)
    freq = schemes.code_frequencies(codes)
    assert freq["fraction"].sum() == pytest.approx(1.0) and len(freq) == 3


def test_class_responses_average_each_class():
    act = np.arange(12, dtype=float).reshape(1, 4, 3)  # 4 inputs, 3 neurons
    labels = np.array([0, 0, 1, 1])
    r = schemes.class_responses(act, labels, 2)
    assert r[0, :, 0].tolist() == [1.5, 2.5, 3.5] and r[0, :, 1].tolist() == [7.5, 8.5, 9.5]


def test_bimodality_coefficient_reference_values():
    rng = np.random.default_rng(0)
    assert schemes.bimodality_coefficient(rng.standard_normal(200_000)) == pytest.approx(1 / 3, abs=0.01)
    assert schemes.bimodality_coefficient(rng.uniform(size=200_000)) == pytest.approx(5 / 9, abs=0.01)
    two = np.concatenate([rng.normal(-1, 0.1, 5000), rng.normal(1, 0.1, 5000)])
    assert schemes.bimodality_coefficient(two) > 0.9


def test_kernel_alignment_by_hand():
    labels = np.array([0, 0, 1, 2, 2, 2])
    y = tasks.one_hot(labels, 3)
    assert kernels.kernel_alignment(3.0 * y @ y.T, labels, 3) == pytest.approx(1.0)
    # the identity (lazy linear kernel on orthonormal inputs): |HY|^2 / (sqrt(P - 1) |HYY'H|)
    h = np.eye(6) - 1 / 6
    hy = h @ y
    expected = np.trace(hy.T @ hy) / (np.sqrt(5) * np.linalg.norm(hy @ hy.T))
    assert kernels.kernel_alignment(np.eye(6), labels, 3) == pytest.approx(expected)


def test_eta_squared_binary_fraction_and_drift_by_hand():
    labels = np.array([0, 0, 1, 1])
    act = np.array([[[1.0, 0.0, 1.0], [1.0, 0.0, -1.0], [3.0, 0.0, 1.0], [3.0, 0.0, -1.0]]])
    per, pop = schemes.eta_squared(act, labels, 2)
    # neuron 0: all variance between classes; neuron 1: constant (NaN); neuron 2: all within
    assert per[0, 0] == pytest.approx(1.0) and np.isnan(per[0, 1]) and per[0, 2] == pytest.approx(0.0)
    assert pop[0] == pytest.approx(1.0 / 2.0)  # between 1 + 0 over total 1 + 1
    r = np.array([[[0.0, 1.0], [0.95, 0.5]]])
    assert schemes.binary_fraction(r, (0.0, 1.0), 0.1) == pytest.approx(3 / 4)
    assert np.isnan(schemes.binary_fraction(r, None))
    resp = np.stack([np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]), np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])])
    assert schemes.drift(resp) == pytest.approx(0.0)  # neuron 0 keeps its code (+1), neuron 1 flips (-1)
    assert schemes.drift(resp[[0, 0]]) == pytest.approx(1.0)


def test_readout_branches_and_outliers_by_hand():
    rng = np.random.default_rng(0)
    centres = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0]])
    group = np.repeat([0, 1, 2], [100, 60, 40])
    clustered = (centres[group] + 0.05 * rng.standard_normal((200, 3)))[None]
    fit = schemes.readout_branches(clustered)
    assert fit["n_branches"] == 3 and fit["branch_shares"] == pytest.approx([0.5, 0.3, 0.2])
    assert schemes.readout_branches(rng.standard_normal((1, 300, 3)))["n_branches"] == 1
    # two outliers among 50 small readouts (|a| > 52^(1/4) x median); the outliers alone carry
    # the centred fit, the bulk's constant activity only an offset
    readout = 0.01 * np.ones((1, 52, 2))
    readout[0, :2] = [[10.0, 0.0], [0.0, 10.0]]
    act = np.full((1, 4, 52), 0.5)
    act[0, :, :2] = 0.0
    act[0, :2, 0] = act[0, 2:, 1] = 52 / 10.0
    y = np.array([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    labels = np.array([0, 0, 1, 1])
    resp = schemes.class_responses(act, labels, 2)
    out = schemes.outlier_measures(readout, act, resp, y, gamma=1.0, threshold=0.5)
    assert out["n_outliers"] == 2 and out["outliers_per_class"] == [1.0, 1.0]
    assert out["outlier_single_class_fraction"] == 1.0 and out["bulk_code_fraction"] == 0.0
    assert out["outlier_output_share"] == pytest.approx(1.0)
    assert out["max_readout_over_sqrt_n"] == pytest.approx(10 / np.sqrt(52))
    assert out["outlier_activity_over_sqrt_n"] == pytest.approx(5.2 / np.sqrt(52))
    # the threshold scales as N^(1/4): a readout 3x the median is an outlier among 16 neurons
    # (16^(1/4) = 2) but not among 10 000 (10)
    for n, expected in ((16, True), (10_000, False)):
        a = np.ones((1, n, 1))
        a[0, 0] = 3.0
        assert schemes.outlier_mask(a)[0, 0] == expected


def test_pattern_multiplicity_and_normalised_binary_fraction_by_hand():
    codes = np.array([[0b001, 0b001, 0b001, 0b010, 0, 0b011], [0b001, 0b010, 0b100, 0, 0, 0]])
    got = schemes.pattern_measures(codes)
    # sample 0: 3 patterns held by 5 coding neurons (most shared: 3 of 6); sample 1: 3 patterns, 3 neurons
    assert got["n_patterns"] == 3 and got["pattern_multiplicity"] == pytest.approx((5 / 3 + 1) / 2)
    assert got["max_pattern_share"] == pytest.approx((3 / 6 + 1 / 6) / 2)
    assert np.isnan(schemes.pattern_measures(np.zeros((1, 4), int))["pattern_multiplicity"])
    r = np.array([[[1.0, 0.0], [-0.5, 0.95]]])  # |r| / max: 1, 0, 0.5, 0.95
    assert schemes.normalised_binary_fraction(r, 0.1) == pytest.approx(3 / 4)


def _population(kind, rng, n=200, p=60, c=3, gamma=1.0):
    """Hand-made last layers: activity (S, P, N), readout (S, N, c), labels, value range."""
    labels = np.repeat(np.arange(c), [p // 2, p // 4, p - p // 2 - p // 4])
    y = tasks.one_hot(labels, c)
    if kind == "none":  # random features, Gaussian readouts
        act = rng.standard_normal((1, p, n))
        return act, rng.standard_normal((1, n, c)), labels, None
    if kind == "analog":  # graded class-driven responses, Gaussian readouts
        tuning = rng.standard_normal((n, c))
        act = tuning[:, labels].T[None] + 0.1 * rng.standard_normal((1, p, n))
        return act, rng.standard_normal((1, n, c)), labels, None
    if kind == "redundant":  # on/off patterns shared by groups, readout branch per pattern
        patterns = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], float)
        group = rng.integers(0, len(patterns), n)
        act = patterns[group][:, labels].T[None] + 0.01 * rng.standard_normal((1, p, n))
        readout = (2 * patterns[group] - 1)[None] + 0.05 * rng.standard_normal((1, n, c))
        return np.clip(act, 0, 1), readout, labels, (0.0, 1.0)
    # sparse: one outlier per class carries the output, a small random bulk
    act = 0.05 * np.abs(rng.standard_normal((1, p, n)))
    readout = 0.01 * rng.standard_normal((1, n, c))
    for k in range(c):
        act[0, :, k] = 5.0 * y[:, k]
        readout[0, k, k] = n ** gamma / 5.0
    return act, readout, labels, None


def _measures(act, readout, labels, value_range, c=3):
    y = tasks.one_hot(labels, c)
    resp = schemes.class_responses(act, labels, c)
    return {**schemes.outlier_measures(readout, act, resp, y, 1.0, 0.5),
            **schemes.pattern_measures(schemes.neuron_codes(resp, 0.5)),
            **schemes.readout_statistics(readout),
            "normalised_binary_fraction": schemes.normalised_binary_fraction(resp),
            "binary_fraction": schemes.binary_fraction(resp, value_range)}


def test_hand_made_populations_have_their_schemes_signatures():
    """The measures the criteria read, on populations built to each scheme's definition."""
    rng = np.random.default_rng(0)
    sparse = _measures(*_population("sparse", rng))
    assert sparse["n_outliers"] == 3 and sparse["outliers_per_class"] == [1.0, 1.0, 1.0]
    assert sparse["outlier_single_class_fraction"] == 1 and sparse["bulk_code_fraction"] == 0
    assert sparse["outlier_output_share"] > 0.99
    redundant = _measures(*_population("redundant", rng))
    assert redundant["binary_fraction"] > 0.95 and redundant["n_patterns"] == 4
    assert redundant["pattern_multiplicity"] == pytest.approx(50, rel=0.2)
    analog = _measures(*_population("analog", rng))
    assert abs(analog["readout_excess_kurtosis"]) < 0.5 and analog["normalised_binary_fraction"] < 0.5
    assert analog["n_outliers"] <= 2  # Gaussian readouts: hardly any beyond 200^(1/4) x the median


# --- tasks and files -------------------------------------------------------------------------


def test_orthonormal_toy_task():
    x, labels, xt, lt = tasks.orthonormal_task(80, 60, 50, rng=np.random.default_rng(0))
    assert np.allclose(x @ x.T / 80, np.eye(60))  # mutually orthogonal, |x|^2 = N0
    assert np.bincount(labels).tolist() == [30, 15, 15] and np.all(np.diff(labels) >= 0)  # sorted blocks
    assert np.allclose(np.sum(xt ** 2, 1), 80)
    overlap = np.max(xt @ x.T / 80, axis=1)
    # test_noise 1: overlap (1 + c) / sqrt(2 + 2c) with c ~ N(0, 1/N0): 1/sqrt(2), sd 0.04 per input
    # (measured mean 0.709, sd 0.032); test_noise 0.5 would give 0.89, 2 would give 0.45
    assert abs(overlap.mean() - 1 / np.sqrt(2)) < 0.015 and np.all(np.abs(overlap - 1 / np.sqrt(2)) < 0.15)
    assert np.array_equal(labels[np.argmax(xt @ x.T, 1)], lt)
    with pytest.raises(ValueError, match="n_inputs must be >= n_train"):
        tasks.orthonormal_task(30, 60, 10)


def test_noisy_means_task_proportions_and_orthogonal_means():
    x, labels, _, lt = tasks.orthogonal_classes(20, 64, 32, 0.0, rng=np.random.default_rng(0))
    assert np.bincount(labels).tolist() == [32, 16, 16] and np.bincount(lt).tolist() == [16, 8, 8]
    means = np.stack([x[labels == c][0] for c in range(3)])
    assert np.allclose(means @ means.T, 20 * np.eye(3))
    with pytest.raises(ValueError, match="proportions"):
        tasks.orthogonal_classes(20, 10, 10, 0.1, proportions=(0.5, 0.6))


def test_dataset_subset_is_class_balanced():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), [50, 10, 30, 20])
    inputs = rng.standard_normal((110, 5))
    x, l, xt, lt = tasks.dataset_task(inputs, labels, 20, 30, np.random.default_rng(1), normalise="features")
    assert np.bincount(l).tolist() == [5, 5, 5, 5] and len(lt) == 30
    assert np.allclose(x.mean(0), 0) and np.allclose(x.std(0), 1)
    # the same subset, each input scaled to |x|^2 = N0 and nothing centred
    y, l2, yt, lt2 = tasks.dataset_task(inputs, labels, 20, 30, np.random.default_rng(1))
    assert (l2 == l).all() and (lt2 == lt).all()
    assert np.allclose((y ** 2).sum(1), 5) and np.allclose((yt ** 2).sum(1), 5)
    # each row keeps its direction: it is one of the dataset's inputs rescaled
    unit = inputs / np.linalg.norm(inputs, axis=1, keepdims=True)
    assert np.allclose(np.abs(y / np.sqrt(5) @ unit.T).max(1), 1.0)
    with pytest.raises(ValueError, match="normalise must be one of length, features"):
        tasks.dataset_task(inputs, labels, 20, 30, rng, normalise="zscore")


def test_length_normalised_images_can_be_interpolated_by_a_linear_map_centred_ones_cannot():
    """The zero-temperature premise for a linear network: one-hot targets Y = X W exactly needs
    the P inputs independent; centring makes them dependent and Y has a non-zero mean."""
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(5), 8)
    inputs = rng.uniform(0, 1, size=(40, 30))  # positive "pixels", like images
    y_onehot = tasks.one_hot(np.repeat(np.arange(5), 3), 5)
    for normalise, fits in (("length", True), ("features", False)):
        x, l, _, _ = tasks.dataset_task(inputs, labels, 15, 5, np.random.default_rng(0), normalise=normalise)
        w, *_ = np.linalg.lstsq(x, y_onehot, rcond=None)
        residual = np.mean((x @ w - y_onehot) ** 2)
        assert (residual < 1e-20) == fits, (normalise, residual)
    # centred: the best linear fit leaves at least the targets' mean, (1/C)^2 per output
    assert residual >= np.mean(y_onehot.mean(0) ** 2) - 1e-12


TINY = {
    "coding": {
        "seed": 0, "nonlinearities": ["relu"], "scalings": ["feature"],
        "tasks": {"toy": {"kind": "orthonormal", "n_inputs": 16, "n_train": 12, "n_test": 8, "test_noise": 1.0,
                          "proportions": [0.5, 0.25, 0.25], "depth": 2}},
        "network": {"width": 8, "width_scan": {"factors": [2], "nonlinearities": ["relu"], "scalings": ["feature"],
                                               "tasks": ["toy"]}},
        "prior": {"sigma_w2": 1.0, "sigma_a2": 1.0, "readout_scale_with_p": True},
        "sampler": {"beta": 1e4, "step_size": 1e-2, "n_steps": 60, "burn_in": 20, "thin": 20, "n_chains": 2},
    }
}


def test_width_scans_and_the_burn_in_rule():
    assert coding_runs(TINY) == [("toy", "relu", "feature", 8), ("toy", "relu", "feature", 16)]
    two = {"coding": {**TINY["coding"], "scalings": ["feature", "lazy"],
                      "network": {"width": 8, "width_scan": [
                          {"factors": [2, 4], "nonlinearities": ["relu"], "scalings": ["feature"], "tasks": ["toy"]},
                          {"factors": [4], "nonlinearities": ["relu"], "scalings": ["lazy", "feature"],
                           "tasks": ["toy"]}]}}}
    assert coding_runs(two) == [("toy", "relu", "feature", 8), ("toy", "relu", "feature", 16),
                                ("toy", "relu", "feature", 32), ("toy", "relu", "lazy", 8), ("toy", "relu", "lazy", 32)]
    # steps, burn-in and thinning in proportion to N (burn-in 15 N from 1500 at N = 100)
    sampler = {"n_steps": 2000, "burn_in": 1500, "thin": 25, "beta": 1e6}
    assert chain_schedule(sampler, 400, 100) == {**sampler, "n_steps": 8000, "burn_in": 6000, "thin": 100,
                                                 "reference_width": 100}
    assert chain_schedule({**sampler, "scale_with_width": False}, 400, 100) == {**sampler, "reference_width": 100}
    assert coding_run_config(TINY, "toy", "relu", "feature", 16)["sampler"]["burn_in"] == 40


def test_posterior_file_round_trip_and_refusals(tmp_path):
    run = coding_run_config(TINY, "toy", "relu", "feature")
    path = posterior.sample_run(run, tmp_path / "posterior.h5")
    assert not list(tmp_path.glob(".*tmp*"))  # written under a temporary name, then renamed
    post = posterior.read_posterior(path)
    assert post.config == run and len(post.chains) == 2
    with h5py.File(path) as f:
        assert f.attrs["format"] == "layerinfo-posterior" and f.attrs["format_version"] == 3
        assert {"config_hash", "seed", "package_version", "torch_version", "device"} <= set(f.attrs)
    assert [w.shape for w in post.chains[0]["hidden"]] == [(2, 8, 16), (2, 8, 8)]
    assert post.outputs(0, post.data["x_test"]).shape == (2, 8, 3)
    # the per-neuron traces at every thin step, burn-in included; the kept ones are the samples
    chain = post.chains[0]
    assert chain["trace_step"].tolist() == [20, 40, 60] and chain["trace_readout"].shape == (3, 8, 3)
    assert chain["trace_response"].shape == (3, 8, 3) and chain["trace_zmax"].shape == (3, 8)
    assert np.allclose(chain["trace_readout"][1:], chain["readout"], atol=1e-6)
    last = post.layers(0, post.data["x_train"])[-1][-1]
    labels = post.data["labels_train"]
    assert np.allclose(chain["trace_response"][-1][:, 0], last[labels == 0].mean(0), atol=1e-5)
    # same seed, same samples
    again = posterior.read_posterior(posterior.sample_run(run, tmp_path / "again.h5"))
    assert np.array_equal(again.chains[1]["readout"], post.chains[1]["readout"])
    row, layers, per_class, codes, diagnostics = study.run_measures(path, 0.5)
    assert row["n_chains"] == 2 and row["depth"] == 2
    assert not row["converged"] and "2 chains" in row["convergence_reason"]  # R-hat needs 4
    assert all(not r["converged"] for r in layers) and len(diagnostics) == 9
    assert [r["layer"] for r in layers] == [1, 2] and row["train_mse"] < 0.05  # width 8 < P: no exact fit
    assert row["test_mse"] == pytest.approx(row["test_bias2"] + row["test_variance"])
    assert set(per_class["model"]) == {"network", "gp_lazy"}
    assert codes["neuron_fraction"].sum() == pytest.approx(1.0)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(posterior.PosteriorFileError, match="posterior.h5.*format_version 99"):
        posterior.read_posterior(path)
    with h5py.File(path, "a") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(posterior.PosteriorFileError, match="posterior.h5.*not a layerinfo posterior"):
        posterior.read_posterior(path)
    with pytest.raises(posterior.PosteriorFileError, match="does not exist"):
        posterior.read_posterior(tmp_path / "missing.h5")


@pytest.mark.parametrize("edit,key", [
    (lambda c: c["sampler"].update(burn_in=60), "coding.sampler.burn_in"),
    (lambda c: c["sampler"].update(thin=50), "coding.sampler.thin"),
    (lambda c: c["tasks"]["toy"].update(proportions=[0.5, 0.25, 0.5]), "coding.tasks.toy.proportions"),
    (lambda c: c["tasks"]["toy"].update(n_inputs=10), "coding.tasks.toy.n_inputs"),
    (lambda c: c["network"]["width_scan"].update(tasks=["mnist"]), "coding.network.width_scan.tasks"),
])
def test_cross_key_checks_name_the_key(edit, key):
    import copy

    section = copy.deepcopy(TINY["coding"])
    check_coding(section)
    edit(section)
    with pytest.raises(ConfigError, match=f"invalid config key '{key}'"):
        check_coding(section)


@pytest.mark.parametrize("nonlinearity", ["linear", "sigmoid", "relu", "erf"])
def test_numpy_forward_pass_matches_the_samplers(nonlinearity):
    from layerinfo.coding.units import layer_activities

    rng = np.random.default_rng(5)
    x = rng.normal(size=(7, 6))
    samples = [[rng.normal(size=(9, 6)), rng.normal(size=(9, 9))] for _ in range(3)]
    stacked = [np.stack([s[l] for s in samples]) for l in range(2)]
    got = layer_activities(stacked, x, nonlinearity)
    for k, sample in enumerate(samples):
        net = Network([torch.as_tensor(w) for w in sample], None)
        want = hidden_activity(net, torch.as_tensor(x), nonlinearity)
        for l in range(2):
            np.testing.assert_allclose(got[l][k], want[l].numpy(), rtol=1e-12, atol=1e-14)


def test_drift_figure_shows_the_drift_statistic_of_the_table(tmp_path):
    from layerinfo.coding import plots

    run = coding_run_config(TINY, "toy", "relu", "feature")
    post = posterior.read_posterior(posterior.sample_run(run, tmp_path / "posterior.h5"))
    _, layers, _, _, _ = study.run_measures(tmp_path / "posterior.h5", 0.5)
    fig = plots.drift_figure([post])
    title = fig.axes[0].get_title()
    assert title.endswith(f"drift statistic {layers[-1]['drift']:.2f}"), (title, layers[-1]["drift"])
    # one point per neuron and class of chain 0
    assert len(fig.axes[0].collections[0].get_offsets()) == 8 * 3
    plots.plt.close(fig)


def test_kernels_figure_shows_every_layer_with_the_tables_alignments(tmp_path):
    from layerinfo.coding import plots

    run = coding_run_config(TINY, "toy", "relu", "feature")
    post = posterior.read_posterior(posterior.sample_run(run, tmp_path / "posterior.h5"))
    _, layers, _, _, _ = study.run_measures(tmp_path / "posterior.h5", 0.5)
    fig = plots.kernels_figure([post])
    titles = [ax.get_title() for ax in fig.axes]
    # depth 2, one scaling: per layer the sampled kernel, then the closed form of that layer
    assert len(titles) == 4
    for l, layer in enumerate(layers):
        sampled, closed = titles[2 * l], titles[2 * l + 1]
        assert sampled.startswith(f"relu, layer {l + 1}, feature") and "closed form" in closed
        assert sampled.endswith(f"alignment {layer['kernel_alignment']:.2f}"), (sampled, layer)
        assert closed.endswith(f"alignment {layer['kernel_alignment_gp']:.2f}"), (closed, layer)
    plots.plt.close(fig)


def test_a_linear_network_that_cannot_interpolate_is_warned_about(tmp_path, caplog):
    import copy
    import logging

    config = copy.deepcopy(TINY)
    config["coding"]["nonlinearities"] = ["linear"]
    config["coding"]["tasks"] = {"means": {"kind": "noisy_means", "n_inputs": 6, "n_train": 12, "n_test": 4,
                                           "noise": 0.5, "proportions": [0.5, 0.25, 0.25], "depth": 1}}
    config["coding"]["network"]["width_scan"]["tasks"] = ["means"]
    run = coding_run_config(config, "means", "linear", "feature")
    with caplog.at_level(logging.WARNING, logger="layerinfo.coding.posterior"):
        posterior.sample_run(run, tmp_path / "posterior.h5")
    assert "cannot interpolate P = 12 training inputs that span only 6 dimensions (input dimension N0 = 6)" \
        in caplog.text
    caplog.clear()
    run = coding_run_config(TINY, "toy", "relu", "feature")  # N0 = 16 >= P = 12, and not linear
    with caplog.at_level(logging.WARNING, logger="layerinfo.coding.posterior"):
        posterior.sample_run(run, tmp_path / "other.h5")
    assert "cannot interpolate" not in caplog.text
