"""The estimators against direct re-statements of the published procedures, on the layers of a
real (small, freshly trained) network: binning exactly, KDE within 1e-9 relative.

The reference functions below follow the published descriptions step by step (value replaced
by its bin's left edge, symbols counted in a dictionary, N x N kernel with log-sum-exp), with
no shared code with the package.
"""

import copy
import math
from collections import Counter

import numpy as np
import pytest
from scipy.special import logsumexp

from layerinfo.datasets import load_dataset, save_dataset
from layerinfo.h5io import open_activations
from layerinfo.information import information_plane
from layerinfo.training import train_run


def _plugin_bits(symbols, labels):
    n = len(symbols)
    h = lambda counter, total: -sum(c / total * math.log2(c / total) for c in counter.values())  # noqa: E731
    h_t = h(Counter(symbols), n)
    h_t_given_y = 0.0
    for c in set(labels):
        sub = [s for s, l in zip(symbols, labels) if l == c]
        h_t_given_y += len(sub) / n * h(Counter(sub), len(sub))
    return h_t, h_t - h_t_given_y


def ref_bins_fixed(t, labels, n_bins=30):
    bins = np.linspace(-1, 1, n_bins).astype(np.float32)
    binned = bins[np.digitize(t, bins) - 1]
    return _plugin_bits([row.tobytes() for row in binned], list(labels))


def ref_bins_width(t, labels, width=0.07):
    return _plugin_bits([row.tobytes() for row in np.floor(t / width).astype(int)], list(labels))


def ref_ebab(t, labels, low, n_bins=30):
    u = np.sort(np.setdiff1d(np.unique(t.ravel()), [low]))
    edges = np.array([low] + [u[int(k * len(u) / n_bins)] for k in range(n_bins)] + [u[-1]])
    binned = edges[np.digitize(t, edges) - 1] + 0.0
    return _plugin_bits([row.tobytes() for row in binned], list(labels))


def ref_kde(t, labels, noise_variance, factor):
    t = t.astype(np.float64)

    def h(x):
        d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
        return -np.mean(logsumexp(-d / (factor * noise_variance), axis=1) - np.log(len(x)))

    h_t = h(t)
    h_cond = sum(np.mean(labels == c) * h(t[labels == c]) for c in np.unique(labels))
    return h_t / math.log(2), (h_t - h_cond) / math.log(2)


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conventions")
    save_dataset(load_dataset("tishby"), tmp / "tishby.npz")
    run = {
        "run": "relu-s0", "dataset": {"name": "tishby", "test_fraction": 0.2, "split_seed": 0},
        "architecture": {"hidden_widths": [10, 7, 5, 4, 3]}, "activation": "relu",
        "initialisation": {"name": "tn", "scheme": "truncated_normal", "gain": 2.0}, "seed": 0,
        "training": {"optimizer": "adam", "learning_rate": 0.004, "batch_size": 256, "epochs": 40},
        "snapshots": {"count": 2},
    }
    out = {}
    for activation in ("relu", "tanh"):
        r = copy.deepcopy(run)
        r["activation"] = activation
        path = train_run(r, tmp / "tishby.npz", tmp / f"{activation}.h5")
        with open_activations(path) as f:
            e = len(f.epochs) - 1
            out[activation] = ([f.activations(e, l) for l in range(f.n_layers)], f.labels)
    return out


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_binning_equals_published_procedure_exactly(layers, activation):
    values, labels = layers[activation]
    low = 0.0 if activation == "relu" else -1.000001
    for l, t in enumerate(values):
        layer_low = 0.0 if l == len(values) - 1 else low  # softmax output is non-negative
        for method, params, ref in (
            ("bins_fixed", {}, ref_bins_fixed(t, labels)),
            ("bins_width", {}, ref_bins_width(t, labels)),
            ("ebab", {"lower": layer_low}, ref_ebab(t, labels, layer_low)),
        ):
            got = information_plane(t, labels, method, **params)
            assert got["I_XT"] == pytest.approx(ref[0], rel=1e-12, abs=1e-12), (method, l)
            assert got["I_TY"] == pytest.approx(ref[1], rel=1e-12, abs=1e-12), (method, l)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_kde_equals_direct_evaluation_on_network_layers(layers, activation):
    values, labels = layers[activation]
    sub = np.random.default_rng(0).choice(len(labels), size=1024, replace=False)  # keeps N x N small
    for l in (0, 3, len(values) - 1):
        t, y = values[l][sub], labels[sub]
        for method, factor, variance in (("kde_upper", 2, 0.1), ("kde_lower", 8, 0.1), ("kde_upper", 2, 1e-3)):
            got = information_plane(t, y, method, noise_variance=variance)
            ref = ref_kde(t, y, variance, factor)
            assert got["I_XT"] == pytest.approx(ref[0], rel=1e-9), (method, l)
            assert got["I_TY"] == pytest.approx(ref[1], rel=1e-9, abs=1e-12), (method, l)
