"""All estimators over one paper-scale run: every snapshot and layer of a Tishby network.

    .venv/bin/python benchmarks/estimate_run.py [--run FILE] [--workers 1 2] [--estimators five paper]

Without --run, one tanh network 12-10-7-5-4-3-2 is trained first as in config/paper.yaml (Adam
4e-4, batch 256, 8000 epochs, snapshot count 400, i.e. 275 distinct log-spaced epochs) into a
temporary directory; training is not timed. Estimator sets: "five" is each published method once
(bins_fixed, bins_width, ebab, kde_upper, kde_lower, akde with its defaults); "paper" is the eight
estimators of config/paper.yaml. Prints, per set and worker count, the time of
layerinfo.infoplane.estimate.estimate_run, the time per snapshot and scaled to 400 snapshots, peak memory,
and, as a baseline, the same snapshots estimated one layer at a time with the N x N KDE and
dictionary binning of benchmarks/estimators.py, timed on --baseline snapshots and scaled.
"""

import argparse
import copy
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from estimators import dictionary_binning, direct_kde  # noqa: E402
from training import RUN  # noqa: E402

from layerinfo.datasets import load_dataset, save_dataset  # noqa: E402
from layerinfo.infoplane.estimate import estimate_run  # noqa: E402
from layerinfo.h5io import open_activations  # noqa: E402
from layerinfo.training import train_run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIVE = {
    "bins_fixed": {"method": "bins_fixed"},
    "bins_width": {"method": "bins_width"},
    "ebab": {"method": "ebab"},
    "kde_upper": {"method": "kde_upper"},
    "kde_lower": {"method": "kde_lower"},
    "akde": {"method": "akde"},
}


def paper_estimators() -> dict:
    with open(ROOT / "config" / "paper.yaml") as f:
        return yaml.safe_load(f)["information_plane"]["estimators"]


def make_run(directory: Path) -> Path:
    dataset = directory / "tishby.npz"
    save_dataset(load_dataset("tishby"), dataset)
    run = copy.deepcopy(RUN)
    run.update(seed=0, run="tanh-s0", snapshots={"count": 400})
    run["training"]["epochs"] = 8000
    print("training one network for 8000 epochs (not timed) ...", flush=True)
    return train_run(run, dataset, directory / "tanh-s0.h5")


def baseline_snapshot(layers: list[np.ndarray], y: np.ndarray) -> None:
    """The five methods one layer at a time, with the straightforward implementations."""
    for t in layers:
        dictionary_binning(t, y, "bins_fixed")
        dictionary_binning(t, y, "bins_width")
        direct_kde(t, y, 0.1)  # upper and lower
        spread = float(t.max() - t.min())
        direct_kde(t, y, (0.1 * spread) ** 2, bounds=("upper",))  # akde, paper variant


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="activation file (default: train one network first)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--estimators", nargs="+", default=["five", "paper"], choices=["five", "paper"])
    parser.add_argument("--baseline", type=int, default=3, help="snapshots the baseline is timed on (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:  # the trained run is 130 MB: removed afterwards
        run_benchmark(args, Path(tmp))


def run_benchmark(args, tmp: Path) -> None:
    path = args.run or make_run(tmp)
    with open_activations(path) as f:
        n_snap, labels = len(f.epochs), f.labels
        shapes = [f.activations(0, l).shape for l in range(len(f.layers))]
        picks = np.linspace(0, n_snap - 1, max(args.baseline, 1)).astype(int)[: args.baseline]
        sample = [[f.activations(e, l) for l in range(len(f.layers))] for e in picks]
    print(f"{path}: {n_snap} snapshots x {len(shapes)} layers {[s[1] for s in shapes]} x {shapes[0][0]} samples")
    print(f"{'estimators':10s} {'workers':>7s} {'time [s]':>9s} {'per snapshot [ms]':>17s} "
          f"{'400 snapshots [s]':>17s} {'peak RSS [MiB]':>14s}")
    sets = {"five": FIVE, "paper": paper_estimators()}
    for name in args.estimators:
        for workers in args.workers:
            start = time.perf_counter()
            table = estimate_run(path, sets[name], workers=workers)
            elapsed = time.perf_counter() - start
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            assert len(table) == n_snap * len(shapes) * len(sets[name])
            print(f"{name:10s} {workers:7d} {elapsed:9.1f} {1e3 * elapsed / n_snap:17.1f} "
                  f"{400 * elapsed / n_snap:17.1f} {rss:14.0f}", flush=True)
    if args.baseline:
        start = time.perf_counter()
        for layers in sample:
            baseline_snapshot(layers, labels)
        per = (time.perf_counter() - start) / len(sample)
        print(f"baseline (five, one layer at a time, N x N KDE, dictionary binning; timed on {len(sample)} "
              f"snapshots): {1e3 * per:.0f} ms per snapshot, {400 * per:.0f} s for 400 snapshots")


if __name__ == "__main__":
    main()
