"""Estimators against truth: hand-computed discrete cases, closed forms, invariants."""

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from layerinfo.information import METHODS, information_plane
from layerinfo.information.binning import codes_ebab, codes_fixed, codes_width, ebab_edges, ebab_lower_edge
from layerinfo.information.discrete import discrete_information, entropy_bits, row_symbols
from layerinfo.information.kde import kernel_information

ALL_METHODS = sorted(METHODS)


# --- discrete -----------------------------------------------------------------------------

def test_entropy_bits_hand_cases():
    assert entropy_bits([1, 1]) == pytest.approx(1.0)
    assert entropy_bits([2, 1, 1]) == pytest.approx(1.5)
    assert entropy_bits([5]) == 0.0
    assert entropy_bits([3, 0, 3]) == pytest.approx(1.0)


def test_row_symbols_equal_rows_equal_ids():
    codes = np.array([[1, 2], [3, 4], [1, 2], [1, 3]], dtype=np.int16)
    s = row_symbols(codes)
    assert s[0] == s[2] and len({s[0], s[1], s[3]}) == 3


def test_discrete_information_hand_case():
    labels = np.array([0, 0, 1, 1])
    # T distinguishes every input: I(X;T) = log2 4, I(T;Y) = H(Y) = 1.
    assert discrete_information(np.arange(4), labels) == pytest.approx({"I_XT": 2.0, "I_TY": 1.0})
    # T = Y: I(X;T) = H(Y) = 1 = I(T;Y).
    assert discrete_information(labels, labels) == pytest.approx({"I_XT": 1.0, "I_TY": 1.0})
    # T constant: nothing.
    assert discrete_information(np.zeros(4, int), labels) == pytest.approx({"I_XT": 0.0, "I_TY": 0.0})
    # T = [0,0,0,1] with Y = [0,0,1,1]: H(T) = h(1/4); H(T,Y) = H(1/2,1/4,1/4) = 1.5.
    h = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))
    got = discrete_information(np.array([0, 0, 0, 1]), labels)
    assert got["I_XT"] == pytest.approx(h)
    assert got["I_TY"] == pytest.approx(h + 1.0 - 1.5)


# --- binning conventions --------------------------------------------------------------------

def test_fixed_bins_published_edges():
    edges = np.linspace(-1, 1, 30).astype(np.float32)
    x = np.array([-1.0, -0.999, 0.0, edges[15], 0.999, 1.0, 1.7, -1.5], dtype=np.float32)
    codes = codes_fixed(x)
    assert codes.tolist() == [1, 1, 15, 16, 29, 30, 30, 30]  # -1.5 wraps to the top bin as published


def test_width_bins_floor_in_float32():
    x = np.array([0.0, 0.069, 0.07, 0.139, -0.01, -0.07], dtype=np.float32)
    # float32(0.07) / float32(0.07) == 1 exactly; -0.07 is bin -1.
    assert codes_width(x, 0.07).tolist() == [0, 0, 1, 1, -1, -1]


def test_ebab_edges_and_entropy_by_hand():
    t = np.array([[0.0], [0.0], [1.0], [2.0], [3.0], [4.0]], dtype=np.float32)
    # distinct non-zero values u = [1, 2, 3, 4]; 2 bins -> u[0], u[2]; plus lower 0 and the max.
    assert ebab_edges(t, n_bins=2, lower=0.0).tolist() == [0.0, 1.0, 3.0, 4.0]
    codes = codes_ebab(t, n_bins=2, lower=0.0)
    assert codes.ravel().tolist() == [0.0, 0.0, 1.0, 1.0, 3.0, 4.0]
    # symbols with counts 2, 2, 1, 1 out of 6
    expected = -(2 * (2 / 6) * math.log2(2 / 6) + 2 * (1 / 6) * math.log2(1 / 6))
    got = information_plane(t, np.array([0, 0, 0, 1, 1, 1]), "ebab", n_bins=2, lower=0.0)
    assert got["I_XT"] == pytest.approx(expected)


def test_ebab_bins_hold_equal_numbers_of_distinct_values():
    rng = np.random.default_rng(0)
    t = rng.exponential(size=(3000, 4))
    edges = ebab_edges(t, n_bins=30, lower=0.0)
    distinct = np.unique(t)
    per_bin = np.histogram(distinct, bins=edges[1:])[0]
    assert per_bin.max() - per_bin.min() <= 1


def test_ebab_lower_edges_follow_the_published_code():
    assert ebab_lower_edge(0.0) == 0.0  # ReLU: zeros get a bin of their own
    assert ebab_lower_edge(-1.0) == pytest.approx(-1.000001)  # tanh, ELU
    assert ebab_lower_edge(-math.inf) is None


@pytest.mark.parametrize("method", ["bins_fixed", "bins_width", "ebab"])
def test_binning_bijection_and_constant(method):
    labels = np.repeat([0, 1], 8)
    distinct = np.linspace(-0.9, 0.9, 16)[:, None]  # 16 values in distinct bins for every convention
    got = information_plane(distinct, labels, method, **({"n_bins": 30} if method != "bins_width" else {}))
    assert got == pytest.approx({"I_XT": 4.0, "I_TY": 1.0})
    constant = np.full((16, 3), 0.3)
    assert information_plane(constant, labels, method) == pytest.approx({"I_XT": 0.0, "I_TY": 0.0})


# --- KDE ------------------------------------------------------------------------------------

def _kde_reference(t, y, a):
    """Direct N x N evaluation with log-sum-exp, in nats -> bits."""
    d = ((t[:, None, :] - t[None, :, :]) ** 2).sum(-1)
    n = len(t)
    h = -np.mean(logsumexp(-d / a, axis=1) - np.log(n))
    h_cond = 0.0
    for c in np.unique(y):
        m = y == c
        h_cond += m.mean() * -np.mean(logsumexp(-d[m][:, m] / a, axis=1) - np.log(m.sum()))
    return h / np.log(2), (h - h_cond) / np.log(2)


@pytest.mark.parametrize("a", [0.02, 0.2, 2.0])
def test_kde_matches_direct_evaluation(a):
    rng = np.random.default_rng(1)
    t = rng.normal(size=(300, 3))
    t[:50] = t[0]  # repeated rows exercise the unique-row weighting
    y = rng.integers(0, 3, size=300)
    got = kernel_information(t, y, [a], block=64)[0]
    ref = _kde_reference(t, y, a)
    assert got["I_XT"] == pytest.approx(ref[0], rel=1e-12)
    assert got["I_TY"] == pytest.approx(ref[1], rel=1e-9, abs=1e-12)


def test_kde_closed_forms():
    labels = np.repeat([0, 1], 32)
    # two far-apart clusters that coincide with the classes: exactly 1 bit each
    t = np.where(labels[:, None] == 0, 0.0, 100.0) + np.zeros((64, 2))
    for method in ("kde_upper", "kde_lower"):
        got = information_plane(t, labels, method, noise_variance=0.1)
        assert got["I_XT"] == pytest.approx(1.0, abs=1e-12)
        assert got["I_TY"] == pytest.approx(1.0, abs=1e-12)
    # 64 far-apart points: log2 64 bits about X, still 1 bit about Y
    far = np.arange(64, dtype=float)[:, None] * 100.0
    got = information_plane(far, labels, "kde_upper", noise_variance=0.1)
    assert got == pytest.approx({"I_XT": 6.0, "I_TY": 1.0}, abs=1e-12)
    # one repeated point: nothing
    assert information_plane(np.ones((64, 3)), labels, "kde_upper") == pytest.approx({"I_XT": 0.0, "I_TY": 0.0})


def test_kde_two_points_closed_form():
    # two points at squared distance D: I(X;T) = ln 2 - ln(1 + exp(-D / (2 s2))) nats
    t = np.array([[0.0], [1.0]])
    got = information_plane(t, np.array([0, 1]), "kde_upper", noise_variance=0.5)
    assert got["I_XT"] == pytest.approx((math.log(2) - math.log(1 + math.exp(-1.0))) / math.log(2), rel=1e-14)


def test_kde_invariants():
    rng = np.random.default_rng(2)
    t = rng.normal(size=(400, 4))
    y = (t[:, 0] > 0).astype(int)
    up = information_plane(t, y, "kde_upper", noise_variance=0.1)
    low = information_plane(t, y, "kde_lower", noise_variance=0.1)
    assert low["I_XT"] <= up["I_XT"]
    perm = rng.permutation(400)
    assert information_plane(t[perm], y[perm], "kde_upper", noise_variance=0.1) == pytest.approx(up, rel=1e-12)
    values = [information_plane(t, y, "kde_upper", noise_variance=v)["I_XT"] for v in (1e-3, 1e-2, 1e-1, 1.0)]
    assert all(b < a for a, b in zip(values, values[1:]))
    # labels independent of T carry ~0 bits once the noise overlaps neighbouring samples
    t1 = rng.normal(size=(2000, 1))
    y1 = (t1[:, 0] > 0).astype(int)
    real = information_plane(t1, y1, "kde_upper", noise_variance=0.1)["I_TY"]
    shuffled = information_plane(t1, rng.permutation(y1), "kde_upper", noise_variance=0.1)["I_TY"]
    assert real > 0.7 and abs(shuffled) < 0.01


def test_akde_range_is_scale_invariant_and_code_is_seeded():
    rng = np.random.default_rng(3)
    t = rng.normal(size=(300, 3))
    y = rng.integers(0, 2, 300)
    a = information_plane(t, y, "akde", variant="range", scale=0.1)
    b = information_plane(7.5 * t, y, "akde", variant="range", scale=0.1)
    assert a == pytest.approx(b, rel=1e-10)
    c1 = information_plane(t, y, "akde", variant="code", seed=1)
    c2 = information_plane(t, y, "akde", variant="code", seed=1)
    c3 = information_plane(t, y, "akde", variant="code", seed=2)
    assert c1 == c2 and c1 != c3
    assert information_plane(t, y, "akde", variant="code", rng=np.random.default_rng(1)) == c1
    # the code variant sees |T + noise|: a sign flip of T changes nothing but the noise
    d = information_plane(-t, y, "akde", variant="code", seed=1)
    assert d["I_XT"] == pytest.approx(c1["I_XT"], abs=0.05)


# --- argument checking ---------------------------------------------------------------------------

def test_unknown_method_lists_allowed():
    with pytest.raises(ValueError, match="allowed: " + ", ".join(METHODS)):
        information_plane(np.zeros((4, 1)), np.zeros(4, int), "histogram")


def test_unknown_parameter_lists_allowed():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) bins for method 'bins_fixed'; allowed: n_bins"):
        information_plane(np.zeros((4, 1)), np.zeros(4, int), "bins_fixed", bins=10)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_bad_inputs_are_rejected(method):
    labels = np.zeros(4, int)
    with pytest.raises(ValueError, match="NaN or infinite"):
        information_plane(np.array([[0.0], [np.nan], [1.0], [2.0]]), labels, method)
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_units\)"):
        information_plane(np.zeros(4), labels, method)
    with pytest.raises(ValueError, match="labels must have shape"):
        information_plane(np.zeros((4, 2)), np.zeros(3, int), method)


def test_bad_parameter_values_are_rejected():
    with pytest.raises(ValueError, match="noise_variance must be a number > 0"):
        information_plane(np.zeros((4, 1)), np.zeros(4, int), "kde_upper", noise_variance=-1)
    with pytest.raises(ValueError, match="variant must be one of paper, range, code"):
        information_plane(np.zeros((4, 1)), np.zeros(4, int), "akde", variant="both")


def test_many_estimators_equal_one_by_one():
    from layerinfo.information import information_plane_many

    rng = np.random.default_rng(4)
    t = np.tanh(rng.normal(size=(500, 5))).astype(np.float32)
    y = rng.integers(0, 2, 500)
    requests = {
        "up": ("kde_upper", {"noise_variance": 0.1}),
        "low": ("kde_lower", {"noise_variance": 0.1}),
        "paper": ("akde", {"variant": "paper", "scale": 0.2}),
        "code": ("akde", {"variant": "code", "seed": 3}),
        "bins": ("bins_fixed", {}),
        "ebab": ("ebab", {"lower": -1.000001}),
    }
    together = information_plane_many(t, y, requests)
    assert list(together) == list(requests)
    for name, (method, params) in requests.items():
        assert together[name] == pytest.approx(information_plane(t, y, method, **params), rel=1e-12), name
