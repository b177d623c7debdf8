"""Training speed: M Tishby networks trained side by side (layerinfo.training.train_runs) against
the same M networks trained one after another (a per-network loop), snapshots included.

    .venv/bin/python benchmarks/training.py [--members 50] [--epochs 200] [--threads 1] [--baseline 5]

The per-network baseline is timed on --baseline networks and scaled to --members (each network
costs the same); pass --baseline equal to --members to time them all. Prints both times, the
ratio, and the largest activation difference between a member and the same run trained alone.
"""

import argparse
import copy
import resource
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from layerinfo.datasets import load_dataset, save_dataset
from layerinfo.training import snapshot_epochs, train_run, train_runs

RUN = {
    "dataset": {"name": "tishby", "test_fraction": 0.2, "split_seed": 0},
    "architecture": {"hidden_widths": [10, 7, 5, 4, 3]},
    "activation": "tanh",
    "initialisation": {"name": "truncnorm", "scheme": "truncated_normal", "gain": 1.0},
    "training": {"optimizer": "adam", "learning_rate": 0.0004, "batch_size": 256, "epochs": 200},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--snapshots", type=int, default=100, help="snapshot count (log-spaced)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--baseline", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    dataset = tmp / "tishby.npz"
    save_dataset(load_dataset("tishby"), dataset)
    runs = []
    for seed in range(args.members):
        run = copy.deepcopy(RUN)
        run.update(seed=seed, run=f"tanh-s{seed}", snapshots={"count": args.snapshots})
        run["training"]["epochs"] = args.epochs
        runs.append(run)
    n_snap = len(snapshot_epochs(args.epochs, args.snapshots))
    print(f"{args.members} networks 12-10-7-5-4-3-2 (tanh), {args.epochs} epochs, {n_snap} snapshots, "
          f"{args.threads} thread(s)")

    start = time.perf_counter()
    together = train_runs(runs, dataset, [tmp / f"ensemble{k}.h5" for k in range(args.members)])
    t_ensemble = time.perf_counter() - start
    rss_ensemble = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    k = min(args.baseline, args.members)
    start = time.perf_counter()
    alone = [train_run(runs[i], dataset, tmp / f"alone{i}.h5") for i in range(k)]
    t_alone = (time.perf_counter() - start) * args.members / k

    diff = 0.0
    for i in range(k):
        with h5py.File(together[i]) as a, h5py.File(alone[i]) as b:
            for l in range(6):
                diff = max(diff, float(np.abs(a[f"layers/{l}/activations"][()] - b[f"layers/{l}/activations"][()]).max()))
    scaled = "" if k == args.members else f" (timed on {k}, scaled)"
    print(f"one network at a time{scaled}: {t_alone:8.1f} s")
    print(f"side by side (train_runs):      {t_ensemble:8.1f} s   peak RSS {rss_ensemble:.0f} MiB")
    print(f"speed-up: {t_alone / t_ensemble:.1f}x;  max |activation difference| member vs alone: {diff:.1e}")


if __name__ == "__main__":
    main()
