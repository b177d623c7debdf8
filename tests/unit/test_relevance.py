"""Resolution, relevance and Zipf fits: edge cases, a hand-computed case, known power laws."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from layerinfo.information.relevance import (
    binarise,
    layer_zipf,
    local_slopes,
    power_law_alpha,
    rank_frequency,
    resolution_relevance,
    state_counts,
    zipf_fit,
    zipf_point,
)
from layerinfo.relevance.rbm import RBM, PCDSchedule, generate, layer_states, train_dbn, train_rbm


def test_all_singletons_and_one_state():
    distinct = resolution_relevance(np.arange(50))
    assert distinct["H_s_norm"] == pytest.approx(1.0) and distinct["H_k_norm"] == pytest.approx(0.0)
    one = resolution_relevance(np.zeros(50, dtype=int))
    assert one["H_s_norm"] == 0.0 and one["H_k_norm"] == 0.0
    single_sample = resolution_relevance(np.array([3]))
    assert single_sample["H_s_norm"] == 0.0 and single_sample["H_k_norm"] == 0.0


def test_hand_computed_case():
    # M = 6 samples in states A A A B B C: k = (3, 2, 1); every k seen once (m_k = 1)
    states = np.array([0, 0, 0, 1, 1, 2])
    got = resolution_relevance(states)
    h_s = -(0.5 * math.log(0.5) + (1 / 3) * math.log(1 / 3) + (1 / 6) * math.log(1 / 6))
    # k m_k / M = 3/6, 2/6, 1/6: the same numbers, so H[k] = H[s] here
    assert got["H_s_nats"] == pytest.approx(h_s)
    assert got["H_k_nats"] == pytest.approx(h_s)
    assert got["H_s_norm"] == pytest.approx(h_s / math.log(6))
    # A A B B C D: k = (2, 2, 1, 1): m_2 = 2, m_1 = 2 -> k m_k / M = 4/6, 2/6
    got = resolution_relevance(np.array([0, 0, 1, 1, 2, 3]))
    assert got["H_k_nats"] == pytest.approx(-(4 / 6 * math.log(4 / 6) + 2 / 6 * math.log(2 / 6)))
    assert got["n_states"] == 4 and got["n_samples"] == 6


def test_vector_states_are_rows():
    rows = np.array([[0, 1], [0, 1], [1, 1], [1, 0]], dtype=np.uint8)
    assert sorted(state_counts(rows).tolist()) == [1, 1, 2]
    with pytest.raises(ValueError, match="states must be integers"):
        state_counts(np.array([0.5, 1.5]))


def test_binarise_uses_the_value_at_zero_input():
    t = np.array([[-0.2, 0.1], [0.6, 0.4]])
    assert binarise(t, "tanh").tolist() == [[0, 1], [1, 1]]
    assert binarise(t, "sigmoid").tolist() == [[0, 0], [1, 0]]
    assert binarise(np.array([[0.69, 0.70]]), "softplus").tolist() == [[0, 1]]  # ln 2 = 0.693
    assert binarise(np.array([[0.2, 0.3, 0.5]]), "softmax").tolist() == [[0, 0, 1]]


def test_power_law_alpha_recovers_a_known_exponent():
    rng = np.random.default_rng(0)
    k = rng.zipf(2.5, size=20000)  # P(k) ~ k^-2.5 for k >= 1
    assert power_law_alpha(k, k_min=1) == pytest.approx(2.5, abs=0.03)


def test_zipf_sample_gives_exponent_one_within_its_interval():
    rng = np.random.default_rng(1)
    ranks = np.arange(1, 100_001)
    p = 1.0 / ranks
    draws = rng.choice(ranks.size, size=200_000, p=p / p.sum())  # frequency ~ 1 / rank
    fit = zipf_fit(state_counts(draws), n_bootstrap=100)
    assert fit["zipf_ci_low"] <= 1.0 <= fit["zipf_ci_high"]
    assert fit["zipf_exponent"] == pytest.approx(1.0, abs=0.05)
    assert fit["zipf_ci_high"] - fit["zipf_ci_low"] < 0.3
    # a steeper law is told apart: frequency ~ rank^-2 -> z = 2 well outside [low, high] of z = 1
    p2 = 1.0 / ranks.astype(float) ** 2
    steep = zipf_fit(state_counts(rng.choice(ranks.size, size=200_000, p=p2 / p2.sum())), n_bootstrap=100)
    assert steep["zipf_ci_low"] > fit["zipf_ci_high"]


# --- local slope of the relevance curve, Zipf layer, fits that cannot be made -------------------


def test_local_slopes_of_known_curves():
    x = np.array([0.9, 0.1, 0.5, 0.3, 0.7])  # unsorted on purpose: slopes come back in input order
    assert local_slopes(x, 1.0 - x) == pytest.approx(np.full(5, -1.0))
    # parabola y = x(1 - x): second-order differences are exact at interior points, dy/dx = 1 - 2x
    slopes = local_slopes(x, x * (1 - x))
    interior = (x > 0.1) & (x < 0.9)
    assert slopes[interior] == pytest.approx(1 - 2 * x[interior])
    # the end point x = 0.9 gets the one-sided slope (0.09 - 0.21) / 0.2 = -0.6, the closest to -1
    assert slopes[0] == pytest.approx(-0.6)
    assert zipf_point(x, x * (1 - x)) == 0


def test_local_slopes_on_a_non_uniform_grid_and_ties():
    x = np.array([0.0, 0.2, 0.3, 0.6, 1.0])
    y = x * (1 - x)
    assert local_slopes(x, y)[1:4] == pytest.approx(1 - 2 * x[1:4])
    tied = local_slopes(np.array([0.1, 0.1, 0.5, 0.9]), np.array([0.1, 0.1, 0.3, 0.1]))
    assert np.isnan(tied[:2]).all() and np.isfinite(tied[2:]).all()
    assert np.isnan(local_slopes(np.array([0.3]), np.array([0.2]))).all()
    with pytest.raises(ValueError, match="no point has a finite local slope"):
        zipf_point(np.array([0.3]), np.array([0.2]))
    with pytest.raises(ValueError, match="h_s and h_k"):
        local_slopes(np.zeros(3), np.zeros(4))


def test_layer_zipf_reports_why_it_cannot_fit():
    assert "only 3 states" in layer_zipf(np.array([5, 3, 1]))["zipf_status"]
    singletons = layer_zipf(np.ones(100, dtype=int))
    assert np.isnan(singletons["zipf_exponent"]) and "every state seen 1 time" in singletons["zipf_status"]
    rng = np.random.default_rng(2)
    ranks = np.arange(1, 20_001)
    draws = rng.choice(ranks.size, size=50_000, p=(1 / ranks) / (1 / ranks).sum())
    fit = layer_zipf(state_counts(draws), n_bootstrap=50, rng=rng)
    assert fit["zipf_status"] == "ok" and fit["zipf_ci_low"] <= 1.0 <= fit["zipf_ci_high"]


def test_rank_frequency_sorts_counts():
    rank, k = rank_frequency(np.array([1, 5, 2, 5]))
    assert rank.tolist() == [1, 2, 3, 4] and k.tolist() == [5, 5, 2, 1]


def test_single_state_gives_positive_zero():
    got = resolution_relevance(np.zeros(10, dtype=int))
    assert math.copysign(1.0, got["H_s_nats"]) == 1.0 and math.copysign(1.0, got["H_k_nats"]) == 1.0


# --- restricted Boltzmann machines ----------------------------------------------------------------


def _random_rbm(n_visible, n_hidden, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    rbm = RBM(n_visible, n_hidden)
    with torch.no_grad():
        rbm.W.copy_(scale * torch.randn(n_hidden, n_visible, generator=g, dtype=torch.float64))
        rbm.b.copy_(scale * torch.randn(n_visible, generator=g, dtype=torch.float64))
        rbm.c.copy_(scale * torch.randn(n_hidden, generator=g, dtype=torch.float64))
    return rbm


def _all_states(n):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def _exact_log_likelihood(rbm, data):
    log_z = torch.logsumexp(-rbm.free_energy(_all_states(rbm.n_visible)), 0)
    return float((-rbm.free_energy(data) - log_z).mean())


def test_free_energy_marginalises_the_hidden_units():
    rbm = _random_rbm(3, 2)
    v, h = _all_states(3), _all_states(2)
    for i in range(len(v)):
        vi = v[i].expand(len(h), 3)
        exact = -torch.logsumexp(-rbm.energy(vi, h), 0)
        assert float(rbm.free_energy(v[i:i + 1])[0]) == pytest.approx(float(exact), abs=1e-12)
    # conditionals are the ratios of the joint: p(h_j = 1 | v) from enumeration
    joint = torch.exp(-rbm.energy(v[5].expand(4, 3), h))
    p_h1 = float((joint * h[:, 0]).sum() / joint.sum())
    assert float(rbm.hidden_probability(v[5:6])[0, 0]) == pytest.approx(p_h1, abs=1e-12)


def test_gradient_is_minus_the_gradient_of_the_free_energy_difference():
    rbm = _random_rbm(5, 4, seed=1, scale=0.5)
    g = torch.Generator().manual_seed(3)
    v_data = torch.rand(7, 5, generator=g, dtype=torch.float64)  # real values in [0, 1] allowed
    v_model = torch.bernoulli(torch.full((6, 5), 0.5, dtype=torch.float64), generator=g)
    dW, db, dc = rbm.gradient(v_data, v_model)
    params = [p.detach().clone().requires_grad_(True) for p in (rbm.W, rbm.b, rbm.c)]
    W, b, c = params

    def free_energy(v):
        return -(v @ b) - torch.nn.functional.softplus(v @ W.T + c).sum(-1)

    objective = -free_energy(v_data).mean() + free_energy(v_model).mean()
    objective.backward()
    for analytic, param in zip((dW, db, dc), params):
        assert torch.allclose(analytic, param.grad, atol=1e-12)


def test_gradient_with_the_exact_model_expectation_is_the_log_likelihood_gradient():
    # rbm.gradient averages its model term over the chains' states; weighting one-state calls by
    # the exact p(v) gives the exact gradient of the mean log-likelihood, checked for every
    # parameter against a central finite difference of the enumerated log-likelihood
    rbm = _random_rbm(4, 3, seed=4, scale=0.7)
    data = torch.tensor([[1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=torch.float64)
    v = _all_states(4)
    p_v = torch.softmax(-rbm.free_energy(v), 0)
    parts = [rbm.gradient(data, v[k:k + 1]) for k in range(len(v))]
    exact = [sum(p_v[k] * parts[k][i] for k in range(len(v))) for i in range(3)]
    eps = 1e-6
    for grad, param in zip(exact, (rbm.W, rbm.b, rbm.c)):
        for index in np.ndindex(*param.shape):
            with torch.no_grad():
                param[index] += eps
            up = _exact_log_likelihood(rbm, data)
            with torch.no_grad():
                param[index] -= 2 * eps
            down = _exact_log_likelihood(rbm, data)
            with torch.no_grad():
                param[index] += eps
            assert (up - down) / (2 * eps) == pytest.approx(float(grad[index]), abs=1e-7), index
    # and with data drawn from the model itself, the expected gradient vanishes
    both = [sum(p_v[j] * p_v[k] * rbm.gradient(v[j:j + 1], v[k:k + 1])[i] for j in range(16) for k in range(16))
            for i in range(3)]
    assert all(float(g.abs().max()) < 1e-12 for g in both)
    assert float(exact[0].abs().max()) > 0.05  # not vacuous: the data are not the model's


def _toy_patterns(n=400, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = np.array([[1, 1, 1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 1, 1, 0, 1]], dtype=float)
    x = prototypes[rng.integers(0, 2, n)]
    flip = rng.random(x.shape) < 0.05
    return torch.as_tensor(np.where(flip, 1 - x, x))


def test_pcd_reduces_reconstruction_error_and_raises_the_likelihood():
    data = _toy_patterns()
    rbm = RBM(8, 4)
    g = torch.Generator().manual_seed(0)
    rbm.initialise(data, g)
    before_error, before_ll = rbm.reconstruction_error(data), _exact_log_likelihood(rbm, data)
    schedule = PCDSchedule(epochs=30, batch_size=20)
    errors = train_rbm(rbm, data, schedule, torch.Generator().manual_seed(0))
    assert len(errors) == 30
    assert errors[-1] < 0.5 * before_error
    assert _exact_log_likelihood(rbm, data) > before_ll + 1.0  # nats per sample
    # the entropy of the data (two patterns, 5% flips per bit) bounds the likelihood from above
    h_data = math.log(2) + 8 * -(0.05 * math.log(0.05) + 0.95 * math.log(0.95))
    assert _exact_log_likelihood(rbm, data) <= -h_data + 0.1


def test_schedule_and_validation():
    s = PCDSchedule(epochs=10, learning_rate=0.1, decay_start=0.5, momentum_start=0.5, momentum_end=0.0)
    assert [s.rate(t) for t in (1, 5, 6, 10)] == pytest.approx([0.1, 0.1, 0.1 * 5 / 6, 0.05])
    assert s.momentum(1) == 0.5 and s.momentum(10) == 0.0 and s.momentum(4) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="momentum_start"):
        PCDSchedule(momentum_start=1.0)
    with pytest.raises(ValueError, match="epochs"):
        PCDSchedule(epochs=0)
    with pytest.raises(ValueError, match="data must lie in"):
        train_rbm(RBM(2, 2), torch.tensor([[0.0, 2.0]]), s, torch.Generator())


def test_dbn_states_generation_and_seeding():
    data = _toy_patterns(200).numpy()
    schedule = PCDSchedule(epochs=6, batch_size=20)
    dbn, states, errors = train_dbn(data, [6, 3], schedule, seed=5, snapshots=[0, 6])
    assert sorted(errors) == [1, 2] and len(errors[1]) == 6
    assert sorted(states) == [(1, 0), (1, 6), (2, 0), (2, 6)]
    assert states[(1, 6)].shape == (200, 6) and states[(1, 6)].dtype == np.uint8
    top = dbn.up(torch.as_tensor(data))[-1]
    assert np.array_equal(states[(2, 6)], layer_states(top))
    assert layer_states(np.array([[0.5, 0.51]])).tolist() == [[0, 1]]
    again = train_dbn(data, [6, 3], schedule, seed=5, snapshots=[0, 6])[1]
    assert all(np.array_equal(states[key], again[key]) for key in states)
    samples = generate(dbn, 2, 30, 10, torch.Generator().manual_seed(0))
    assert samples.shape == (30, 8) and (samples >= 0).all() and (samples <= 1).all()
    # a trained one-layer generator puts its samples near the two prototypes (mean per-pixel
    # distance 0.056 measured; 0.37 for random binary patterns, 0.46 after 6 epochs) and both
    prototypes = np.array([[1, 1, 1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 1, 1, 0, 1]], dtype=float)
    one_layer = train_dbn(data, [6], PCDSchedule(epochs=30, batch_size=20), seed=5, snapshots=[30])[0]
    samples = generate(one_layer, 1, 30, 10, torch.Generator().manual_seed(0))
    distance = np.abs(samples[:, None, :] - prototypes[None]).mean(2)
    assert distance.min(1).mean() < 0.1
    assert 0.2 < (distance[:, 0] < distance[:, 1]).mean() < 0.8
    with pytest.raises(ValueError, match="layer must lie in 1..2"):
        generate(dbn, 3, 5, 1, torch.Generator())


# --- generation scores and the study summary -----------------------------------------------------


class _FixedClassifier:
    def __init__(self, proba):
        self.proba = np.asarray(proba)

    def predict_proba(self, x):
        return self.proba[: len(x)]


def test_generation_scores_by_hand():
    from layerinfo.relevance.study import generation_scores

    data = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    samples = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0], [0.5, 0.5, 0.5, 0.5], [1.0, 1.0, 1.0, 1.0]])
    proba = [[0.95, 0.05], [0.2, 0.8], [0.5, 0.5], [0.01, 0.99]]
    got = generation_scores(samples, data, _FixedClassifier(proba), confidence=0.9)
    assert got["generation_score"] == pytest.approx(0.5)  # samples 0 and 3 are confidently recognised
    assert got["generation_score_se"] == pytest.approx(math.sqrt(0.25 / 4))
    # nearest RMS per pixel: 0, sqrt(1/4) = 0.5, 0.5, 0
    assert got["generation_nn_rms"] == pytest.approx(0.25)
    # predicted classes 0, 1, (tie -> 0), 1: two each -> 1 bit
    assert got["generation_class_entropy_bits"] == pytest.approx(1.0)
    # the data scored against itself, leaving each point out: distance to the other point, 1
    own = generation_scores(data, data, _FixedClassifier(proba), confidence=0.9, exclude_self=True)
    assert own["generation_nn_rms"] == pytest.approx(1.0)


def test_summary_names_the_zipf_layer_and_the_best_generator():
    from layerinfo.relevance.study import relevance_summary

    h_s = np.array([1.0, 0.8, 0.6, 0.3, 0.1])
    table = pd.DataFrame({
        "layer": range(5), "units": [64, 32, 16, 8, 4], "epoch": 10, "H_s_norm": h_s,
        "H_k_norm": 2 * h_s * (1 - h_s),
        "zipf_exponent": [np.nan, 0.7, 1.05, 2.0, np.nan], "zipf_ci_low": [np.nan, 0.6, 0.9, 1.5, np.nan],
        "zipf_ci_high": [np.nan, 0.8, 1.2, 2.5, np.nan],
    })
    table["slope_Hk_Hs"] = local_slopes(table["H_s_norm"].to_numpy(), table["H_k_norm"].to_numpy())
    generation = pd.DataFrame({"source": ["data", "layer", "layer", "layer", "layer"], "layer": [-1, 1, 2, 3, 4],
                               "generation_score": [0.8, 0.3, 0.5, 0.2, 0.1],
                               "generation_nn_rms": [0.1, 0.2, 0.15, 0.3, 0.4]})
    summary = relevance_summary(table, generation).set_index("criterion")
    # y = 2x(1 - x): slope 2 - 4x -> -1 at x = 0.75; layer 1 (x = 0.8, slope -1.2) is closest
    assert summary.loc["zipf_layer_slope_closest_to_-1", "layer"] == 1
    assert summary.loc["zipf_layer_slope_closest_to_-1", "value"] == pytest.approx(-1.2)
    assert summary.loc["zipf_exponent_closest_to_1", "layer"] == 2
    assert "contains 1" in summary.loc["zipf_exponent_closest_to_1", "comment"]
    assert summary.loc["max_relevance_H_k", "layer"] == 2  # x = 0.6 -> 0.48 beats x = 0.3 -> 0.42
    assert summary.loc["best_generator_score", "layer"] == 2
    assert summary.loc["reference_data_score", "value"] == pytest.approx(0.8)
