"""Training speed: M Tishby networks trained side by side (layerinfo.training.train_runs) against
the same M networks trained one after another by a straightforward per-network loop.

    .venv/bin/python benchmarks/training.py [--members 50] [--epochs 200] [--snapshots 100]
        [--threads 2] [--baseline 3] [--compression none]

The baseline is written here without layerinfo's training code: nn.Sequential of nn.Linear and
nn.Tanh, torch.optim.Adam, nn.CrossEntropyLoss, each epoch's batches from torch.randperm,
evaluation on the train and test splits after every epoch, and snapshots of every layer on all
samples written with the same ActivationWriter and compression. It starts from the
initialisation and draws the batch order that layerinfo gives the same seed. It is timed on
--baseline networks and scaled to --members (each network costs the same); pass --baseline equal
to --members to time them all.

Printed: both times, the ratio, the peak RSS of the side-by-side run, and the largest difference
of recorded activations between ensemble member 0 and the same run trained alone with
layerinfo.training.train_run (over all snapshots and at the final one), and between member 0 and
the baseline network.
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
from torch import nn

from layerinfo.datasets import load_dataset, read_dataset, save_dataset, train_test_split
from layerinfo.h5io import COMPRESSIONS, ActivationWriter
from layerinfo.training import _derived_seed, _member, snapshot_epochs, train_run, train_runs

RUN = {
    "dataset": {"name": "tishby", "test_fraction": 0.2, "split_seed": 0},
    "architecture": {"hidden_widths": [10, 7, 5, 4, 3]},
    "activation": "tanh",
    "initialisation": {"name": "truncnorm", "scheme": "truncated_normal", "gain": 1.0},
    "training": {"optimizer": "adam", "learning_rate": 0.0004, "batch_size": 256, "epochs": 200, "l2": 0.0},
}


def baseline_network(run: dict, dataset: Path, output: Path, compression: str) -> None:
    """Train one network the plain way and write its snapshots."""
    data = read_dataset(dataset)
    train_idx, test_idx = train_test_split(len(data.labels), 0.2, 0)
    x = torch.as_tensor(data.inputs, dtype=torch.float32)
    y = torch.as_tensor(data.labels, dtype=torch.int64)
    x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]

    initialised = _member(run, x.shape[1], data.n_classes)  # layerinfo's initialisation of this seed
    modules = []
    for linear in initialised.linears:
        plain = nn.Linear(linear.in_features, linear.out_features)
        plain.load_state_dict(linear.state_dict())
        modules += [plain, nn.Tanh()]
    net = nn.Sequential(*modules[:-1])
    optimizer = torch.optim.Adam(net.parameters(), lr=run["training"]["learning_rate"])
    criterion = nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(_derived_seed(run["seed"], 1))

    epochs, batch = run["training"]["epochs"], run["training"]["batch_size"]
    snapshots = snapshot_epochs(epochs, run["snapshots"]["count"])
    history = {k: np.zeros(epochs + 1) for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    mask = np.zeros(len(y), dtype=bool)
    mask[train_idx] = True
    layers = initialised.layer_specs()
    with ActivationWriter(output, epochs=snapshots, layers=layers, probe_indices=np.arange(len(y)),
                          probe_labels=data.labels, probe_train_mask=mask, attrs={"seed": run["seed"]},
                          compression=compression) as writer:
        for epoch in range(epochs + 1):
            if epoch > 0:
                perm = torch.randperm(len(y_train), generator=order)
                for start in range(0, len(perm), batch):
                    idx = perm[start : start + batch]
                    loss = criterion(net(x_train[idx]), y_train[idx])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
            with torch.no_grad():
                for split, xs, ys in (("train", x_train, y_train), ("test", x_test, y_test)):
                    logits = net(xs)
                    history[f"{split}_loss"][epoch] = criterion(logits, ys).item()
                    history[f"{split}_acc"][epoch] = (logits.argmax(1) == ys).float().mean().item()
                if epoch in snapshots:
                    values, h = [], x
                    for module in net:
                        h = module(h)
                        if isinstance(module, nn.Tanh):
                            values.append(h.numpy())
                    values.append(torch.softmax(h, dim=1).numpy())
                    writer.write_snapshot(int(np.searchsorted(snapshots, epoch)), values)
        writer.write_history({"epoch": np.arange(epochs + 1), **history})


def max_difference(a: Path, b: Path) -> tuple[float, float]:
    """Largest |difference| of recorded activations: over all snapshots, and at the last one."""
    every, final = 0.0, 0.0
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for l in range(len(fa["layers"])):
            d = np.abs(fa[f"layers/{l}/activations"][()] - fb[f"layers/{l}/activations"][()])
            every, final = max(every, float(d.max())), max(final, float(d[-1].max()))
    return every, final


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--snapshots", type=int, default=100, help="snapshot count (log-spaced)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: the 2 reference cores)")
    parser.add_argument("--baseline", type=int, default=3, help="networks the baseline is timed on")
    parser.add_argument("--compression", choices=list(COMPRESSIONS), default="none")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:  # 50 x 8000 epochs of snapshots take 7 GB
        run_benchmark(args, Path(tmp))


def run_benchmark(args, tmp: Path) -> None:
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
          f"{args.threads} thread(s), compression {args.compression}")

    start = time.perf_counter()
    together = train_runs(runs, dataset, [tmp / f"ensemble{k}.h5" for k in range(args.members)],
                          compression=args.compression)
    t_ensemble = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    k = min(args.baseline, args.members)
    start = time.perf_counter()
    for i in range(k):
        baseline_network(runs[i], dataset, tmp / f"baseline{i}.h5", args.compression)
    t_baseline = (time.perf_counter() - start) * args.members / k

    alone = train_run(runs[0], dataset, tmp / "alone0.h5", compression=args.compression)
    vs_alone = max_difference(together[0], alone)
    vs_baseline = max_difference(together[0], tmp / "baseline0.h5")

    scaled = "" if k == args.members else f" (timed on {k}, scaled)"
    print(f"one network at a time, plain loop{scaled}: {t_baseline:8.1f} s")
    print(f"side by side (train_runs):  {t_ensemble:8.1f} s   peak RSS {rss:.0f} MiB")
    print(f"speed-up: {t_baseline / t_ensemble:.1f}x")
    print(f"max |activation difference|, member 0 vs train_run alone: {vs_alone[0]:.1e} "
          f"(final epoch {vs_alone[1]:.1e})")
    print(f"max |activation difference|, member 0 vs the plain loop:  {vs_baseline[0]:.1e} "
          f"(final epoch {vs_baseline[1]:.1e})")


if __name__ == "__main__":
    main()
