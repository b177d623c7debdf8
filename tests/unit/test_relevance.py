"""Resolution, relevance and Zipf fits: edge cases, a hand-computed case, known power laws."""

import math

import numpy as np
import pytest

from layerinfo.information.relevance import (
    binarise,
    power_law_alpha,
    resolution_relevance,
    state_counts,
    zipf_fit,
)


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
