"""Coding-schemes study (S4): the Langevin sampler against a known Gaussian posterior, the lazy
kernel against its closed forms, the coding measures on hand-computed cases, the scheme
classifier on hand-made populations, and the posterior file contract."""

import h5py
import numpy as np
import pytest
import torch

from layerinfo.coding import kernels, posterior, schemes, study, tasks
from layerinfo.workflow.config import ConfigError, check_coding, coding_run_config
from layerinfo.coding.langevin import (
    hidden_activity,
    langevin_chain,
    langevin_sample,
    readout_prior_variance,
    sample_prior,
)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


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

    theta = torch.zeros(3, dtype=torch.float64)
    draws = langevin_chain(potential, [theta], step_size=2e-3, temperature=temperature, n_steps=60_000,
                           burn_in=2_000, thin=10, generator=torch.Generator().manual_seed(3))
    samples = np.stack([d[0] for d in draws])
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(samples.mean(0) - mean) < 0.1 * sd), (samples.mean(0), mean)
    assert np.allclose(np.cov(samples.T), cov, atol=0.1 * cov.diagonal().max()), (np.cov(samples.T), cov)


def test_feature_learning_network_fits_the_toy_task_and_lazy_readout_stays_at_prior():
    x, labels, _, _ = tasks.orthogonal_classes(12, 32, 8, 0.1, rng=np.random.default_rng(0))
    y = tasks.one_hot(labels, 3)
    chain = langevin_sample(x, y, nonlinearity="erf", scaling="feature", width=60, beta=10.0,
                            sigma_a2=readout_prior_variance(1.0, 32, "feature"), step_size=2e-3, n_steps=3000,
                            burn_in=1500, thin=150, generator=torch.Generator().manual_seed(0))
    # targets have variance 0.1875 per output: the sampled networks fit them
    assert chain.trace_mse[-5:].mean() < 0.05
    assert chain.readout.shape == (10, 60, 3) and chain.hidden[0].shape == (10, 60, 12)
    lazy = langevin_sample(x, y, nonlinearity="erf", scaling="lazy", width=60, beta=10.0, sigma_a2=1.0,
                           step_size=2e-3, n_steps=3000, burn_in=1500, thin=150,
                           generator=torch.Generator().manual_seed(0))
    # at this width the lazy readout keeps its prior variance (1) to within sampling error
    assert lazy.readout.var() == pytest.approx(1.0, abs=0.25)


def test_sampler_refuses_bad_arguments():
    x, y = np.zeros((4, 3)), np.zeros((4, 2))
    with pytest.raises(ValueError, match="nonlinearity"):
        langevin_sample(x, y, nonlinearity="tanh", scaling="lazy", width=4)
    with pytest.raises(ValueError, match="scaling"):
        langevin_sample(x, y, nonlinearity="erf", scaling="mean", width=4)
    with pytest.raises(ValueError, match="depth"):
        langevin_sample(x, y, nonlinearity="erf", scaling="lazy", width=4, depth=4)
    with pytest.raises(ValueError, match="burn_in"):
        langevin_sample(x, y, nonlinearity="erf", scaling="lazy", width=4, n_steps=10, burn_in=10)


def test_readout_prior_variance_scales_with_p_only_in_the_feature_scaling():
    assert readout_prior_variance(2.0, 50, "feature") == pytest.approx(2.0 / 50)
    assert readout_prior_variance(2.0, 50, "feature", scale_with_p=False) == 2.0
    assert readout_prior_variance(2.0, 50, "lazy") == 2.0


# --- closed-form kernels ---------------------------------------------------------------------


@pytest.mark.parametrize("nonlinearity", ["linear", "erf", "relu"])
def test_lazy_kernel_at_large_width_matches_closed_form(nonlinearity):
    """(1/N) sum_i phi_i(x) phi_i(x') with prior weights: within 5 standard errors of the mean
    over the N neurons (the standard error estimated from the same neurons)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 8)) * np.array([[0.5], [1.0], [1.5], [1.0], [2.0]])
    width = 40_000
    net = sample_prior(8, width, 1, 1, 1.3, 1.0, torch.Generator().manual_seed(2))
    h = hidden_activity(net, torch.tensor(x), nonlinearity)[-1].numpy()  # (5, N)
    products = h[:, None, :] * h[None, :, :]
    empirical, sem = products.mean(-1), products.std(-1) / np.sqrt(width)
    theory = kernels.nngp_kernel(x, x, nonlinearity, 1, 1.3)
    assert np.all(np.abs(empirical - theory) < 5 * sem + 1e-12), np.abs(empirical - theory) / sem


def test_closed_form_kernels_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]) * np.sqrt(2)  # |x|^2/N0 = 1, 1, 2
    k_lin = kernels.nngp_kernel(x, x, "linear")
    assert k_lin[0, 1] == pytest.approx(0.0) and k_lin[2, 2] == pytest.approx(2.0)
    k_relu = kernels.nngp_kernel(x, x, "relu")
    # orthogonal inputs of unit variance: (1/2pi)(sin(pi/2) + 0) ; equal inputs: k/2
    assert k_relu[0, 1] == pytest.approx(1 / (2 * np.pi))
    assert k_relu[0, 0] == pytest.approx(0.5)
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


def test_kernel_alignment_and_rhat():
    labels = np.array([0, 0, 1, 2, 2, 2])
    y = tasks.one_hot(labels, 3)
    assert kernels.kernel_alignment(3.0 * y @ y.T, labels, 3) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    assert schemes.gelman_rubin(rng.standard_normal((4, 2000))) == pytest.approx(1.0, abs=0.01)
    shifted = rng.standard_normal((2, 2000)) + np.array([[0.0], [3.0]])
    assert schemes.gelman_rubin(shifted) > 1.5


def _analog(rng, s=2, n=300, c=3):
    return rng.standard_normal((s, n, c)), rng.standard_normal((s, n, c))


def _redundant(rng, s=2, n=300, c=3):
    patterns = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1]], float)
    group = rng.integers(0, len(patterns), size=(s, n))
    responses = patterns[group] + 0.01 * rng.standard_normal((s, n, c))
    readout = np.sign(rng.standard_normal((s, n, 1))) * 0.8 + 0.05 * rng.standard_normal((s, n, c))
    return readout, responses


def _sparse(rng, s=2, n=300, c=3):
    readout = 0.1 * rng.standard_normal((s, n, c))
    responses = 0.05 * np.abs(rng.standard_normal((s, n, c)))
    outliers = rng.choice(n, size=n // 20, replace=False)
    for k, i in enumerate(outliers):
        readout[:, i, k % c] = 2.0
        responses[:, i, k % c] = 1.0
    return readout, responses


@pytest.mark.parametrize("kind,make", [("analog", _analog), ("redundant", _redundant), ("sparse", _sparse)])
def test_classifier_labels_hand_made_populations(kind, make):
    readout, responses = make(np.random.default_rng(0))
    measures = schemes.population_measures(readout, responses, 3, threshold=0.5)
    assert schemes.classify_scheme(measures) == kind, measures


def test_classifier_refuses_unknown_criteria_and_leaves_the_rest_unclassified():
    with pytest.raises(ValueError, match="unknown criteria"):
        schemes.classify_scheme({}, {"sparsity": 1})
    odd = {"readout_excess_kurtosis": 5.0, "readout_bimodality": 0.4, "code_fraction": 0.9, "code_purity": 0.5}
    assert schemes.classify_scheme(odd) == "unclassified"


# --- tasks and files -------------------------------------------------------------------------


def test_toy_task_proportions_and_orthogonal_means():
    x, labels, _, lt = tasks.orthogonal_classes(20, 64, 32, 0.0, rng=np.random.default_rng(0))
    assert np.bincount(labels).tolist() == [32, 16, 16] and np.bincount(lt).tolist() == [16, 8, 8]
    means = np.stack([x[labels == c][0] for c in range(3)])
    assert np.allclose(means @ means.T, 20 * np.eye(3))
    with pytest.raises(ValueError, match="proportions"):
        tasks.orthogonal_classes(20, 10, 10, 0.1, proportions=(0.5, 0.6))


TINY = {
    "coding": {
        "seed": 0, "nonlinearities": ["relu"], "scalings": ["feature"],
        "tasks": {"toy": {"kind": "toy", "n_inputs": 6, "n_train": 16, "n_test": 8, "noise": 0.1,
                          "proportions": [0.5, 0.25, 0.25], "depth": 2}},
        "network": {"width": 8},
        "prior": {"sigma_w2": 1.0, "sigma_a2": 1.0, "readout_scale_with_p": True},
        "sampler": {"beta": 5.0, "temperature": 1.0, "step_size": 1e-3, "n_steps": 60, "burn_in": 20,
                    "thin": 20, "n_chains": 2},
    }
}


def test_posterior_file_round_trip_and_refusals(tmp_path):
    run = coding_run_config(TINY, "toy", "relu", "feature")
    path = posterior.sample_run(run, tmp_path / "posterior.h5")
    assert not list(tmp_path.glob(".*tmp*"))  # written under a temporary name, then renamed
    post = posterior.read_posterior(path)
    assert post.config == run and len(post.chains) == 2
    with h5py.File(path) as f:
        assert f.attrs["format"] == "layerinfo-posterior" and f.attrs["format_version"] == 1
        assert {"config_hash", "seed", "package_version", "torch_version", "device"} <= set(f.attrs)
    assert [w.shape for w in post.chains[0]["hidden"]] == [(2, 8, 6), (2, 8, 8)]
    assert post.outputs(0, post.data["x_test"]).shape == (2, 8, 3)
    # same seed, same samples
    again = posterior.read_posterior(posterior.sample_run(run, tmp_path / "again.h5"))
    assert np.array_equal(again.chains[1]["readout"], post.chains[1]["readout"])
    row, per_class, codes = study.run_measures(path, 0.5)
    assert row["scheme"] in schemes.SCHEMES and row["n_chains"] == 2 and row["depth"] == 2
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
    (lambda c: c["tasks"]["toy"].update(n_inputs=2), "coding.tasks.toy.n_inputs"),
])
def test_cross_key_checks_name_the_key(edit, key):
    import copy

    section = copy.deepcopy(TINY["coding"])
    check_coding(section)
    edit(section)
    with pytest.raises(ConfigError, match=f"invalid config key '{key}'"):
        check_coding(section)
