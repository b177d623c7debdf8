"""Unit costs of the paper-scale runs (config/paper.yaml), scaled to each study's whole run.

    .venv/bin/python benchmarks/paper_scale.py [--studies s1 s2 s4] [--device cpu|cuda] [--epochs 2000]
        [--snapshots 400] [--steps 20]

Each part times a piece of one study at the paper's size on synthetic or generated data and
prints the unit time and the whole study scaled from it (jobs run on one CPU thread, as in the
workflow; GPU parts on the device given):

* s2: 50 tanh networks 12-10-7-5-4-3-2 trained side by side (``train_runs``) for ``--epochs``
  epochs with ``--snapshots`` log-spaced snapshots (the paper's 400 by default), on ``--device``; then the eight estimators of
  config/paper.yaml over every snapshot of one of them (``estimate_run``), on ``--device``.
  Scaled: 12 such training jobs of 8000 epochs; 600 runs of 275 snapshots.
* s1: one epoch of the first RBM (784 x 500, the authors' protocol) on a tenth of MNIST's size
  (6000 random images in [0, 1]); CPU only (the RBMs have no GPU path). Scaled: x 10 for 60000
  images, x 200 epochs, x 1.42 for the other layers (557 771 against 392 000 weights: the cost of
  an epoch grows with the weights times the samples).
* s4: a few Langevin steps of each kind of run of config/paper.yaml (toy depth 2 and 3 at width
  500, ReLU at 1000 and 2000; MNIST- and CIFAR-10-sized random inputs, P = 500) on the CPU (the
  sampler has no GPU path). Scaled: 4 chains x 40 000 steps per run, times the runs of each kind.
"""

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from training import RUN  # noqa: E402

from layerinfo.coding.langevin import langevin_sample, readout_prior_variance  # noqa: E402
from layerinfo.datasets import load_dataset, save_dataset  # noqa: E402
from layerinfo.infoplane.estimate import estimate_run  # noqa: E402
from layerinfo.relevance.rbm import RBM, PCDSchedule, train_rbm  # noqa: E402
from layerinfo.training import train_runs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PAPER = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def s2(device: str, epochs: int, snapshots: int, tmp: Path) -> None:
    section = PAPER["information_plane"]
    dataset = tmp / "tishby.npz"
    save_dataset(load_dataset("tishby"), dataset)
    runs = []
    for seed in range(50):
        run = copy.deepcopy(RUN)
        run.update(seed=seed, run=f"tanh-s{seed}", snapshots={"count": snapshots})
        run["training"]["epochs"] = epochs
        runs.append(run)
    outputs = [tmp / f"tanh-s{seed}.h5" for seed in range(50)]
    start = time.perf_counter()
    train_runs(runs, dataset, outputs, device=device)
    train = time.perf_counter() - start
    cells = sum(len(e["activations"]) * len(e["initialisations"]) for e in section["experiments"].values())
    per_job = train * section["training"]["epochs"] / epochs
    print(f"s2 train: 50 networks x {epochs} epochs on {device}: {train:.1f} s; "
          f"one job of 8000 epochs ~ {per_job:.0f} s; {cells} jobs ~ {hours(cells * per_job)}", flush=True)
    start = time.perf_counter()
    table = estimate_run(outputs[0], section["estimators"], device=device, workers=1)
    estimate = time.perf_counter() - start
    n_snap = table["epoch"].nunique()
    per_snapshot = estimate / n_snap
    total = per_snapshot * 275 * 50 * cells
    print(f"s2 estimate: {len(section['estimators'])} estimators x {n_snap} snapshots of one run on {device}: "
          f"{estimate:.1f} s, {1e3 * per_snapshot:.0f} ms per snapshot; 600 runs x 275 snapshots ~ {hours(total)}",
          flush=True)


def s1(tmp: Path) -> None:
    section = PAPER["relevance"]
    generator = torch.Generator().manual_seed(0)
    data = torch.rand(6000, 784, generator=generator, dtype=torch.float64)
    schedule = PCDSchedule.from_protocol("authors", epochs=1)
    rbm = RBM(784, section["hidden_widths"][0])
    start = time.perf_counter()
    train_rbm(rbm, data, schedule, generator)
    epoch = time.perf_counter() - start
    widths = [784, *section["hidden_widths"]]
    ratio = sum(a * b for a, b in zip(widths, widths[1:])) / (784 * widths[1])
    total = epoch * 10 * section["training"]["epochs"] * ratio
    print(f"s1 DBN: one epoch of RBM 784x{widths[1]} on 6000 images: {epoch:.1f} s; "
          f"x10 images x{section['training']['epochs']} epochs x{ratio:.2f} layers ~ {hours(total)}", flush=True)


def s4(steps: int) -> None:
    section = PAPER["coding"]
    sampler = section["sampler"]
    per_run = sampler["n_chains"] * sampler["n_steps"]
    n_nonlin = len(section["nonlinearities"]) * len(section["scalings"])
    width = section["network"]["width"]
    kinds = []
    for name, task in section["tasks"].items():
        n_in = {"mnist": 784, "cifar10": 3072}.get(task.get("dataset"), task.get("n_inputs"))
        kinds.append((name, n_in, task["n_train"], task["depth"], width, n_nonlin))
    scan = section["network"]["width_scan"]
    for factor in scan["factors"]:
        for task in scan["tasks"]:
            t = section["tasks"][task]
            kinds.append((f"{task} x{factor}", t["n_inputs"], t["n_train"], t["depth"], factor * width,
                          len(scan["nonlinearities"]) * len(scan["scalings"])))
    total = 0.0
    rng = np.random.default_rng(0)
    for name, n_in, p, depth, n, runs in kinds:
        x = rng.standard_normal((p, n_in))
        x *= np.sqrt(n_in) / np.linalg.norm(x, axis=1, keepdims=True)
        y = np.eye(10 if n_in > 100 else 3)[rng.integers(0, 10 if n_in > 100 else 3, p)]
        sigma_a2 = readout_prior_variance(1.0, p, "feature")
        start = time.perf_counter()
        langevin_sample(x, y, nonlinearity="relu", scaling="feature", width=n, depth=depth, sigma_a2=sigma_a2,
                        step_size=sampler["step_size"], n_steps=steps, burn_in=0, thin=steps,
                        generator=torch.Generator().manual_seed(0))
        step = (time.perf_counter() - start) / steps
        total += step * per_run * runs
        print(f"s4 {name}: P={p} N0={n_in} N={n} depth {depth}: {1e3 * step:.1f} ms per step; "
              f"{runs} runs x {per_run} steps ~ {hours(step * per_run * runs)}", flush=True)
    print(f"s4 all runs ~ {hours(total)}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", nargs="+", default=["s1", "s2", "s4"], choices=["s1", "s2", "s4"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device of the S2 parts")
    parser.add_argument("--epochs", type=int, default=2000, help="S2 training epochs timed (scaled to 8000)")
    parser.add_argument("--snapshots", type=int, default=PAPER["information_plane"]["snapshots"]["count"],
                        help="S2 snapshot count (default the paper's); the estimate is scaled per snapshot")
    parser.add_argument("--steps", type=int, default=20, help="S4 Langevin steps timed per kind of run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, device for s2: {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if "s2" in args.studies:
            s2(args.device, args.epochs, args.snapshots, Path(tmp))
        if "s1" in args.studies:
            s1(Path(tmp))
        if "s4" in args.studies:
            s4(args.steps)


if __name__ == "__main__":
    main()
