"""Tasks of the coding-scheme study (S4): the paper's toy task and subsets of real datasets."""

from __future__ import annotations

import math
import os

import numpy as np


def orthogonal_classes(n_inputs: int, n_train: int, n_test: int, noise: float,
                       proportions=(0.5, 0.25, 0.25), rng: np.random.Generator | None = None):
    """The toy task of the paper: classes with orthogonal means and the given proportions.

    Class means ``m_c = sqrt(n_inputs) q_c`` with ``q_c`` orthonormal (random orientation), so
    ``|m_c|^2 = n_inputs`` and ``z = w . x / sqrt(n_inputs)`` is of order one; each input is its
    class mean plus isotropic Gaussian noise of standard deviation ``noise`` per component.
    Class ``c`` holds ``round(proportions[c] * n)`` samples (the last class the remainder).

    Returns
    -------
    x_train (n_train, n_inputs), labels_train (n_train,), x_test, labels_test : ndarray
    """
    proportions = np.asarray(proportions, dtype=float)
    if proportions.ndim != 1 or len(proportions) < 2 or np.any(proportions <= 0):
        raise ValueError(f"proportions must be at least two positive numbers, got {proportions.tolist()}")
    if not math.isclose(proportions.sum(), 1.0, abs_tol=1e-6):
        raise ValueError(f"proportions must sum to 1, got {proportions.sum()}")
    if n_inputs < len(proportions):
        raise ValueError(f"n_inputs must be >= the number of classes {len(proportions)}, got {n_inputs}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = rng if rng is not None else np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((n_inputs, len(proportions))))
    means = q.T * math.sqrt(n_inputs)

    def draw(n):
        counts = np.round(proportions * n).astype(int)
        counts[-1] = n - counts[:-1].sum()
        labels = np.repeat(np.arange(len(proportions)), counts)
        return means[labels] + noise * rng.standard_normal((n, n_inputs)), labels

    x_train, l_train = draw(n_train)
    x_test, l_test = draw(n_test)
    return x_train, l_train, x_test, l_test


def dataset_task(inputs: np.ndarray, labels: np.ndarray, n_train: int, n_test: int,
                 rng: np.random.Generator | None = None):
    """A random train/test subset of a dataset, standardised with the training statistics.

    Each feature is centred and divided by its training standard deviation (features constant
    on the training set are only centred), so ``|x|^2 ≈ n_inputs`` as for the toy task. The
    training set is sorted by class (kernels and maps then show class blocks).
    """
    if n_train + n_test > len(labels):
        raise ValueError(f"n_train + n_test must be <= {len(labels)} samples, got {n_train} + {n_test}")
    rng = rng if rng is not None else np.random.default_rng(0)
    order = rng.permutation(len(labels))
    train = order[:n_train][np.argsort(labels[order[:n_train]], kind="stable")]
    test = order[n_train:n_train + n_test]
    mean = inputs[train].mean(0)
    std = inputs[train].std(0)
    std[std == 0] = 1.0
    scale = lambda v: (v - mean) / std
    return scale(inputs[train]), labels[train], scale(inputs[test]), labels[test]


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot targets ``(n_samples, n_classes)``: 1 for the class, 0 elsewhere."""
    return np.eye(n_classes)[labels]


def task_data(run: dict, dataset_path: str | os.PathLike | None = None):
    """Training and test data of a run: ``x_train, labels_train, x_test, labels_test, n_classes``."""
    spec = run["task_spec"]
    rng = np.random.default_rng([run["seed"], 0])
    if spec["kind"] == "toy":
        x_tr, l_tr, x_te, l_te = orthogonal_classes(spec["n_inputs"], spec["n_train"], spec["n_test"],
                                                    spec["noise"], spec["proportions"], rng)
        return x_tr, l_tr, x_te, l_te, len(spec["proportions"])
    if dataset_path is None:
        raise ValueError(f"task {run['task']!r} reads dataset {spec['dataset']!r}: dataset_path is required")
    from layerinfo.datasets import read_dataset

    data = read_dataset(dataset_path)
    x_tr, l_tr, x_te, l_te = dataset_task(data.inputs.astype(float), data.labels, spec["n_train"], spec["n_test"], rng)
    return x_tr, l_tr, x_te, l_te, data.n_classes
