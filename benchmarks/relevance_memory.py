"""Peak memory of the relevance study's generation step (rule relevance_generate) at the paper's
size, against the memory the rule declares.

    .venv/bin/python benchmarks/relevance_memory.py [--rows 60000] [--pixels 784] [--samples 2000]
        [--gibbs-steps 2] [--full-matrix]

Synthetic data stand in for MNIST: --rows images of --pixels pixels in [0, 1] (ten noisy
prototypes, labels = prototype), written as a dataset file; a DBN of the paper's stack
(784-500-250-120-60-30-25-20-15-10-5-3-2) is initialised with the authors' scheme, not trained
(memory does not depend on the weights, nor on the number of Gibbs steps). The generation step,
layerinfo.relevance.study.generation_study with --samples samples per layer, runs in a child
process, whose peak resident set size (getrusage of the children) is printed beside the
``mem_mb`` that rules/relevance_common.smk declares for MNIST at the first attempt (RELEVANCE_MEM_MB,
read from that file). The exit status is 1 when the peak exceeds it.

--full-matrix also measures, in a second child, the nearest-image distances the way they were
computed before they were chunked: one (samples x rows) float64 matrix of squared distances
(the baseline, written here).
"""

from __future__ import annotations

import argparse
import ast
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAPER_WIDTHS = [500, 250, 120, 60, 30, 25, 20, 15, 10, 5, 3, 2]


def declared_mem_mb(dataset: str = "mnist", attempt: int = 1) -> int:
    """``RELEVANCE_MEM_MB[dataset] * attempt`` as rules/relevance_common.smk declares it."""
    text = (ROOT / "rules" / "relevance_common.smk").read_text()
    match = re.search(r"^RELEVANCE_MEM_MB = (\{.*?\})$", text, re.M | re.S)  # one line or snakefmt's several
    if match is None:
        raise RuntimeError("rules/relevance_common.smk: no RELEVANCE_MEM_MB = {...} line")
    return int(ast.literal_eval(match.group(1))[dataset]) * attempt


def write_inputs(folder: Path, rows: int, pixels: int, seed: int = 0) -> tuple[Path, Path]:
    """A synthetic dataset file and an untrained paper-stack DBN file in ``folder``."""
    import torch

    from layerinfo.datasets import Dataset, save_dataset
    from layerinfo.relevance.rbm import DBN

    rng = np.random.default_rng(seed)
    prototypes = (rng.random((10, pixels)) < 0.2).astype(np.float32)
    labels = rng.integers(0, 10, rows)
    inputs = np.empty((rows, pixels), dtype=np.float32)
    for lo in range(0, rows, 10_000):  # in blocks: the parent stays small
        hi = min(rows, lo + 10_000)
        noise = rng.random((hi - lo, pixels), dtype=np.float32)
        inputs[lo:hi] = np.clip(0.7 * prototypes[labels[lo:hi]] + 0.3 * noise, 0.0, 1.0)
    dataset = folder / "mnist.npz"
    save_dataset(Dataset("mnist", inputs, labels.astype(np.int64), 10), dataset)
    del inputs
    dbn = DBN([pixels, *PAPER_WIDTHS])
    generator = torch.Generator().manual_seed(seed)
    for rbm in dbn.rbms:
        rbm.initialise(torch.zeros(1, rbm.n_visible), generator, scheme="glorot_sigmoid")
    model = folder / "model.pt"
    torch.save({"widths": torch.tensor(dbn.widths), **dbn.state_dict()}, model)
    return dataset, model


def child_generation(dataset: str, model: str, out: str, samples: int, gibbs_steps: int) -> None:
    from layerinfo.relevance.study import generation_study

    section = {"seed": 0, "train_samples": None, "training": {"protocol": "authors"},
               "generation": {"n_samples": samples, "gibbs_steps": gibbs_steps, "confidence": 0.9}}
    start = time.perf_counter()
    table = generation_study(model, dataset, section, out)
    print(f"generation_study: {time.perf_counter() - start:.1f} s, {len(table)} rows", flush=True)


def child_full_matrix(dataset: str, samples: int) -> None:
    """The baseline: squared distances of every sample to every image in one float64 matrix."""
    from layerinfo.datasets import read_dataset

    x = np.asarray(read_dataset(dataset).inputs, dtype=np.float64)
    s = np.random.default_rng(1).random((samples, x.shape[1]))
    d2 = (s ** 2).sum(1)[:, None] + (x ** 2).sum(1)[None, :] - 2.0 * s @ x.T
    print(f"full matrix {d2.shape}: mean nearest {np.sqrt(d2.min(1).clip(0) / x.shape[1]).mean():.4f}", flush=True)


def run_child(*args: str) -> float:
    """Run this file with ``args`` in a child process; return its peak RSS in MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"child {args[0]} failed with status {proc.returncode}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KB on Linux, max over children
    if peak < before:
        raise RuntimeError("getrusage of the children went down")
    return peak / 1024.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--pixels", type=int, default=784)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--gibbs-steps", type=int, default=2)
    parser.add_argument("--full-matrix", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "generation":
            child_generation(rest[0], rest[1], rest[2], args.samples, args.gibbs_steps)
        else:
            child_full_matrix(rest[0], args.samples)
        return 0
    limit = declared_mem_mb("mnist")
    with tempfile.TemporaryDirectory(prefix="relevance_memory_") as tmp:
        folder = Path(tmp)
        dataset, model = write_inputs(folder, args.rows, args.pixels)
        common = ["--samples", str(args.samples), "--gibbs-steps", str(args.gibbs_steps)]
        start = time.perf_counter()
        peak = run_child("--child", "generation", str(dataset), str(model), str(folder / "generated.npz"), *common)
        wall = time.perf_counter() - start
        print(f"data {args.rows} x {args.pixels}, {args.samples} samples per layer, stack {args.pixels}-"
              f"{'-'.join(map(str, PAPER_WIDTHS))}, {args.gibbs_steps} Gibbs steps")
        print(f"generation step: peak RSS {peak:.0f} MB, declared mem_mb {limit} (attempt 1): "
              f"{peak / limit:.2f} of it, {wall:.0f} s")
        if args.full_matrix:
            full = run_child("--child", "full", str(dataset), *common)
            print(f"baseline, one {args.samples} x {args.rows} float64 distance matrix: peak RSS {full:.0f} MB")
    if peak > limit:
        print(f"EXCEEDED: {peak:.0f} MB > {limit} MB")
        return 1
    print("OK: below the declared mem_mb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
