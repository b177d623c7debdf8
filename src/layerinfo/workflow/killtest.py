"""Reliability harness: kill a workflow with SIGKILL at random moments, rerun it until it
completes, and compare its outputs with those of an uninterrupted run.

Used by ``tests/workflow/test_kill.py`` and ``benchmarks/kill_test.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np


@dataclass
class KillReport:
    kills: int = 0
    attempts: int = 0
    seconds: float = 0.0
    kill_times: list = field(default_factory=list)


def run_with_kills(
    command: list[str],
    unlock: list[str],
    kills: int,
    rng: np.random.Generator,
    delay: tuple[float, float],
    timeout: float = 1800.0,
) -> KillReport:
    """Run ``command`` (in its own process group) until it exits 0, killing the whole group with
    SIGKILL ``kills`` times after random delays in ``delay`` seconds, and running ``unlock``
    after each kill (Snakemake leaves its directory locked when killed).

    Raises ``RuntimeError`` if an attempt fails or the total time exceeds ``timeout``.
    """
    report = KillReport()
    start = time.monotonic()
    while True:
        report.attempts += 1
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        if report.kills < kills:
            wait = rng.uniform(*delay)
            try:
                out, _ = proc.communicate(timeout=wait)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                report.kills += 1
                report.kill_times.append(round(wait, 2))
                subprocess.run(unlock, capture_output=True, text=True, check=True)
                continue
        else:
            out, _ = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - start)))
        if proc.returncode != 0:
            raise RuntimeError(f"attempt {report.attempts} failed with exit {proc.returncode}:\n{out[-3000:]}")
        break  # completed (possibly before the next kill was due)
    report.seconds = time.monotonic() - start
    return report


def output_files(results: Path) -> list[Path]:
    """The files to compare: activation files and tables (figures and reports are not compared)."""
    files = sorted(results.rglob("*.h5")) + sorted(results.rglob("*.csv"))
    return [f.relative_to(results) for f in files]


def _dataset_names(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def first_differences(a: str | Path, b: str | Path) -> list[str]:
    """Every dataset of two HDF5 files that differs, each with the first epoch where it does.

    All are reported: the first to differ in alphabetical order is rarely where two runs split
    (a nudged weight shows in ``history/test_loss`` at once, in ``test_acc`` only when a sample
    flips). Rows of ``layers/*`` are snapshots (named by their epoch from ``epochs``), rows of
    ``history/*`` are epochs; NaN equals NaN.
    """
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names_a, names_b = _dataset_names(fa), _dataset_names(fb)
        problems = [f"datasets only in one file: {sorted(set(names_a) ^ set(names_b))}"] if names_a != names_b else []
        epochs = fa["epochs"][()] if "epochs" in fa else None
        for name in sorted(set(names_a) & set(names_b)):
            x, y = fa[name][()], fb[name][()]
            if x.shape != y.shape or x.dtype != y.dtype:
                problems.append(f"{name}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
                continue
            if x.ndim == 0:
                if x != y:
                    problems.append(f"{name}: {x!r} vs {y!r}")
                continue
            differs = ~((x == y) | (np.isnan(x) & np.isnan(y))) if x.dtype.kind == "f" else x != y
            rows = np.flatnonzero(differs.reshape(len(x), -1).any(axis=1))
            if not rows.size:
                continue
            if name.startswith("layers/") and epochs is not None:
                where = f"first at epoch {int(epochs[rows[0]])} (snapshot {rows[0]})"
            elif name.startswith("history/"):
                where = f"first at epoch {int(rows[0])}"
            else:
                where = f"first at index {int(rows[0])}"
            problems.append(f"{name}: {len(rows)} of {len(x)} rows differ, {where}")
    return problems


def compare_outputs(a: Path, b: Path) -> list[str]:
    """Differences between two ``results/`` folders: missing files, HDF5 datasets (each with its
    first differing epoch, see :func:`first_differences`), table bytes."""
    problems = []
    files_a, files_b = output_files(a), output_files(b)
    if files_a != files_b:
        problems.append(f"different files: {sorted(set(files_a) ^ set(files_b))}")
    for rel in sorted(set(files_a) & set(files_b)):
        if rel.suffix == ".csv":
            if (a / rel).read_bytes() != (b / rel).read_bytes():
                problems.append(f"{rel}: tables differ")
            continue
        problems += [f"{rel}:{p}" for p in first_differences(a / rel, b / rel)]
    return problems
