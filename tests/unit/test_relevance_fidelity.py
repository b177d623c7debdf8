"""Improved precision and recall (Kynkäänniemi et al. 2019) and the bootstrap ranking of generators."""

import numpy as np
import pytest

from layerinfo.relevance.fidelity import (
    bootstrap_first,
    harmonic_mean,
    inside_share,
    knn_radii,
    pairwise_distances,
    precision_recall,
)

REAL = np.array([0.0, 1, 2, 3, 4])[:, None]
GENERATED = np.array([6.0, 10, 10.5, 11, 11.5])[:, None]


def test_knn_radii_on_a_line_by_hand():
    # 3rd nearest other point: from 0 (1, 2, 3) -> 3; from 1 (1, 1, 2, 3) -> 2; from 2 -> 2 ...
    assert knn_radii(pairwise_distances(REAL, REAL), 3).tolist() == [3, 2, 2, 2, 3]
    assert knn_radii(pairwise_distances(GENERATED, GENERATED), 3).tolist() == [5, 1.5, 1, 1, 1.5]
    assert knn_radii(pairwise_distances(REAL, REAL), 1).tolist() == [1, 1, 1, 1, 1]


def test_precision_and_recall_on_a_line_by_hand():
    # real manifold: [0-3, 4+3] = [-3, 7] holds only the generated 6 -> precision 1/5;
    # generated manifold: 6 +- 5 = [1, 11] and the rest within [8.5, 13] -> reals 1, 2, 3, 4 -> recall 4/5
    precision, recall = precision_recall(REAL, GENERATED, k=3)
    assert precision == pytest.approx(0.2) and recall == pytest.approx(0.8)
    assert harmonic_mean(precision, recall) == pytest.approx(2 * 0.2 * 0.8 / 1.0)
    # the roles swap exactly
    assert precision_recall(GENERATED, REAL, k=3) == pytest.approx((0.8, 0.2))
    # a set against itself: every point lies inside its own ball
    assert precision_recall(REAL, REAL, k=3) == (1.0, 1.0)


def test_the_ball_is_closed_and_harmonic_mean_of_zero_is_zero():
    assert inside_share(np.array([[2.0], [2.0001]]), np.array([2.0])) == 0.5
    assert harmonic_mean(0.0, 0.0) == 0.0


def test_collapse_keeps_precision_and_loses_recall():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 2))
    collapsed = real[:1] + 0.01 * rng.normal(size=(200, 2))  # every sample near one real point
    faithful = rng.normal(size=(200, 2))                      # a fresh draw of the same law
    p_c, r_c = precision_recall(real, collapsed)
    p_f, r_f = precision_recall(real, faithful)
    assert p_c == 1.0 and r_c < 0.05
    assert p_f > 0.8 and r_f > 0.8 and harmonic_mean(p_f, r_f) > harmonic_mean(p_c, r_c)


def test_bootstrap_ranks_the_faithful_generator_first():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(150, 2))
    generated = {"faithful": rng.normal(size=(150, 2)), "collapsed": 0.05 * rng.normal(size=(150, 2)),
                 "noise": rng.normal(scale=6.0, size=(150, 2))}
    out = bootstrap_first(real, generated, k=3, n_bootstrap=50, rng=np.random.default_rng(2))
    assert out["faithful"]["first_support"] == 1.0
    assert out["collapsed"]["first_support"] == out["noise"]["first_support"] == 0.0
    assert out["faithful"]["f_low"] <= out["faithful"]["f"] <= out["faithful"]["f_high"]
    assert (out["faithful"]["precision"], out["faithful"]["recall"]) == precision_recall(real, generated["faithful"])


def test_a_tie_at_the_top_credits_no_one():
    far = {"a": np.full((20, 2), 100.0) + np.arange(20)[:, None], "b": np.full((20, 2), -100.0) - np.arange(20)[:, None]}
    out = bootstrap_first(np.random.default_rng(0).normal(size=(20, 2)), far, n_bootstrap=10)
    assert out["a"]["f"] == out["b"]["f"] == 0.0
    assert out["a"]["first_support"] == out["b"]["first_support"] == 0.0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="k must lie in 1..4"):
        knn_radii(pairwise_distances(REAL, REAL), 5)
    with pytest.raises(ValueError, match="equal widths"):
        pairwise_distances(REAL, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="n_bootstrap"):
        bootstrap_first(REAL, {"g": GENERATED}, n_bootstrap=0)
