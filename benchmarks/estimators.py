"""Estimator speed against straightforward baselines, on the same layers, in the same process.

Baselines: binning by replacing each value with its bin and counting the rows' symbols in a
Python dictionary (per sample); KDE by the full N x N distance matrix and log-sum-exp, per class
too, as the published Kolchinsky-Tracey code does. layerinfo: integer row keys, one sort and
bincounts per layer for binning; for KDE, the shortcuts listed in layerinfo.information.kde.
benchmarks/estimate_run.py times all estimators over a whole run.

    .venv/bin/python benchmarks/estimators.py [--threads 1] [--repeats 3]

Prints each time, the ratio, and the largest relative difference of the results.
"""

import argparse
import math
import time
from collections import Counter

import numpy as np
import torch
from scipy.special import logsumexp

from layerinfo.datasets.tishby import make_tishby
from layerinfo.information import information_plane_many


def direct_kde(t, y, noise_variance, bounds=("upper", "lower")):
    """Upper and lower bounds by the full N x N matrix (the reference formulation), in bits."""
    t = t.astype(np.float64)
    out = {}
    for name, a in (("upper", 2 * noise_variance), ("lower", 8 * noise_variance)):
        if name not in bounds:
            continue
        def h(x, a=a):
            sq = (x * x).sum(1)
            d = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0)
            return -np.mean(logsumexp(-d / a, axis=1) - np.log(len(x)))
        h_t = h(t)
        h_cond = sum((y == c).mean() * h(t[y == c]) for c in np.unique(y))
        out[name] = (h_t / np.log(2), (h_t - h_cond) / np.log(2))
    return out


def _plugin(symbols, y):
    n = len(symbols)
    h = lambda counts, total: -sum(c / total * math.log2(c / total) for c in counts.values())  # noqa: E731
    h_t = h(Counter(symbols), n)
    h_ty = sum((y == c).mean() * h(Counter(s for s, l in zip(symbols, y) if l == c), (y == c).sum())
               for c in np.unique(y))
    return {"I_XT": h_t, "I_TY": h_t - h_ty}


def dictionary_binning(t, y, method):
    """Per-sample baseline: bin every value, then count row symbols in a dictionary."""
    if method == "bins_fixed":
        edges = np.linspace(-1, 1, 30).astype(np.float32)
        binned = edges[np.digitize(t, edges) - 1]
    else:
        binned = np.floor(t / 0.07).astype(int)
    return _plugin([tuple(row) for row in binned.tolist()], y)


def layers(seed=0):
    """Layers shaped like the Tishby network's on its 4096 inputs: spread and saturated tanh layers."""
    rng = np.random.default_rng(seed)
    inputs, labels = make_tishby()
    x, y = inputs.astype(np.float64), labels.astype(np.int64)
    out = {}
    for width, gain, label in ((10, 1.0, "tanh 10 units, spread"), (5, 8.0, "tanh 5 units, saturated"),
                               (3, 30.0, "tanh 3 units, saturated")):
        w = rng.normal(size=(12, width)) * gain / np.sqrt(12)
        out[label] = np.tanh(x @ w - x.mean() * w.sum(0)).astype(np.float32)
    return out, y


def timed(fn, repeats):
    fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data, y = layers()
    print(f"N = {len(y)} samples, {args.threads} thread(s), best of {args.repeats}")
    print(f"{'layer':26s} {'estimator':22s} {'baseline [s]':>12s} {'layerinfo [s]':>13s} {'speed-up':>8s} {'max rel diff':>12s}")
    kde_requests = {"upper": ("kde_upper", {"noise_variance": 0.1}), "lower": ("kde_lower", {"noise_variance": 0.1})}
    for label, t in data.items():
        cases = [
            (f"{m} (dictionary)", lambda m=m, t=t: {"x": dictionary_binning(t, y, m)},
             lambda m=m, t=t: {"x": information_plane_many(t, y, {"x": (m, {})})["x"]})
            for m in ("bins_fixed", "bins_width")
        ]
        cases.append((
            "kde upper+lower (N x N)",
            lambda t=t: {k: dict(zip(("I_XT", "I_TY"), v)) for k, v in direct_kde(t, y, 0.1).items()},
            lambda t=t: information_plane_many(t, y, kde_requests),
        ))
        for name, baseline, ours in cases:
            t_base, ref = timed(baseline, args.repeats)
            t_ours, got = timed(ours, args.repeats)
            diff = max(abs(got[k][q] - ref[k][q]) / max(abs(ref[k][q]), 1e-300) for k in ref for q in ("I_XT", "I_TY"))
            print(f"{label:26s} {name:22s} {t_base:12.3f} {t_ours:13.3f} {t_base / t_ours:7.1f}x {diff:12.1e}")


if __name__ == "__main__":
    main()
