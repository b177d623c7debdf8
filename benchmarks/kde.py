"""KDE estimator speed: layerinfo's blocked, symmetric, unique-row kernel sums against a direct
full-matrix evaluation (pairwise distances + log-sum-exp over the N x N matrix, per class too,
as the published Kolchinsky-Tracey code does), on the same data, in the same process.

    .venv/bin/python benchmarks/kde.py [--threads 1] [--repeats 3]

Prints the time of each, their ratio and the largest relative difference of the results.
"""

import argparse
import time

import numpy as np
import torch
from scipy.special import logsumexp

from layerinfo.datasets.tishby import make_tishby
from layerinfo.information import information_plane_many


def direct_kde(t, y, noise_variance):
    """Upper and lower bounds by the full N x N matrix (the reference formulation), in bits."""
    t = t.astype(np.float64)
    out = {}
    for name, a in (("upper", 2 * noise_variance), ("lower", 8 * noise_variance)):
        def h(x, a=a):
            sq = (x * x).sum(1)
            d = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0)
            return -np.mean(logsumexp(-d / a, axis=1) - np.log(len(x)))
        h_t = h(t)
        h_cond = sum((y == c).mean() * h(t[y == c]) for c in np.unique(y))
        out[name] = (h_t / np.log(2), (h_t - h_cond) / np.log(2))
    return out


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
    requests = {"upper": ("kde_upper", {"noise_variance": 0.1}), "lower": ("kde_lower", {"noise_variance": 0.1})}
    print(f"N = {len(y)} samples, noise variance 0.1, upper + lower bound, {args.threads} thread(s), best of {args.repeats}")
    print(f"{'layer':28s} {'unique rows':>11s} {'direct [s]':>10s} {'layerinfo [s]':>13s} {'speed-up':>8s} {'max rel diff':>12s}")
    for label, t in data.items():
        t_direct, ref = timed(lambda t=t: direct_kde(t, y, 0.1), args.repeats)
        t_ours, got = timed(lambda t=t: information_plane_many(t, y, requests), args.repeats)
        diff = max(abs(got[k][q] - ref[k][i]) / max(abs(ref[k][i]), 1e-300)
                   for k in ("upper", "lower") for i, q in enumerate(("I_XT", "I_TY")))
        unique = len(np.unique(t, axis=0))
        print(f"{label:28s} {unique:11d} {t_direct:10.3f} {t_ours:13.3f} {t_direct / t_ours:7.1f}x {diff:12.1e}")


if __name__ == "__main__":
    main()
