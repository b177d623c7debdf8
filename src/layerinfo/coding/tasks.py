"""Tasks of the coding-scheme study (S4): the paper's toy task and subsets of real datasets.

``orthonormal`` (the paper's toy task): mutually orthogonal inputs of equal length, so the
lazy (input) kernel is the identity and all class structure is in the labels.
``noisy_means``: classes with orthogonal means plus noise (an earlier stand-in; its input kernel
is already block-structured). ``dataset``: a class-balanced or random subset of a dataset file.
"""

from __future__ import annotations

import math
import os

import numpy as np


def class_counts(n: int, proportions) -> np.ndarray:
    """Samples per class: ``round(proportions[c] * n)``, the last class the remainder."""
    counts = np.round(np.asarray(proportions, float) * n).astype(int)
    counts[-1] = n - counts[:-1].sum()
    return counts


def _check_proportions(proportions) -> np.ndarray:
    proportions = np.asarray(proportions, dtype=float)
    if proportions.ndim != 1 or len(proportions) < 2 or np.any(proportions <= 0):
        raise ValueError(f"proportions must be at least two positive numbers, got {proportions.tolist()}")
    if not math.isclose(proportions.sum(), 1.0, abs_tol=1e-6):
        raise ValueError(f"proportions must sum to 1, got {proportions.sum()}")
    return proportions


def orthonormal_task(n_inputs: int, n_train: int, n_test: int, proportions=(0.5, 0.25, 0.25),
                     test_noise: float = 1.0, rng: np.random.Generator | None = None):
    """The paper's toy task: ``P`` mutually orthogonal inputs, labels in sorted blocks.

    ``x_mu = sqrt(N0) q_mu`` with ``q_mu`` the orthonormal columns of the QR decomposition of
    an ``N0 x P`` standard Gaussian matrix (``N0 >= P``), so ``x_mu . x_nu / N0 = delta_mu,nu``;
    the first ``round(proportions[0] P)`` inputs are class 0, the next class 1, and so on.
    Test inputs are noisy copies of random training inputs, ``sqrt(N0) (q_mu + s u) / |q_mu + s u|``
    with ``u`` a random unit vector and ``s = test_noise`` (overlap ``1/sqrt(1 + s^2)`` with
    ``q_mu`` on average), labelled as ``mu``: the task has no other notion of generalisation.

    Returns
    -------
    x_train (n_train, n_inputs), labels_train (n_train,), x_test (n_test, n_inputs), labels_test : ndarray
    """
    proportions = _check_proportions(proportions)
    if n_inputs < n_train:
        raise ValueError(f"n_inputs must be >= n_train for orthogonal inputs, got {n_inputs} < {n_train}")
    if test_noise < 0:
        raise ValueError(f"test_noise must be >= 0, got {test_noise}")
    rng = rng if rng is not None else np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((n_inputs, n_train)))
    labels = np.repeat(np.arange(len(proportions)), class_counts(n_train, proportions))
    x_train = math.sqrt(n_inputs) * q.T
    picks = rng.integers(0, n_train, size=n_test)
    u = rng.standard_normal((n_test, n_inputs))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = q.T[picks] + test_noise * u
    x_test = math.sqrt(n_inputs) * v / np.linalg.norm(v, axis=1, keepdims=True)
    return x_train, labels, x_test, labels[picks]


def orthogonal_classes(n_inputs: int, n_train: int, n_test: int, noise: float,
                       proportions=(0.5, 0.25, 0.25), rng: np.random.Generator | None = None):
    """Classes with orthogonal means plus noise (kind ``noisy_means``), in the given proportions.

    Class means ``m_c = sqrt(n_inputs) q_c`` with ``q_c`` orthonormal (random orientation), so
    ``|m_c|^2 = n_inputs`` and ``z = w . x / sqrt(n_inputs)`` is of order one; each input is its
    class mean plus isotropic Gaussian noise of standard deviation ``noise`` per component.
    Class ``c`` holds ``round(proportions[c] * n)`` samples (the last class the remainder).

    Returns
    -------
    x_train (n_train, n_inputs), labels_train (n_train,), x_test, labels_test : ndarray
    """
    proportions = _check_proportions(proportions)
    if n_inputs < len(proportions):
        raise ValueError(f"n_inputs must be >= the number of classes {len(proportions)}, got {n_inputs}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = rng if rng is not None else np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((n_inputs, len(proportions))))
    means = q.T * math.sqrt(n_inputs)

    def draw(n):
        counts = class_counts(n, proportions)
        labels = np.repeat(np.arange(len(proportions)), counts)
        return means[labels] + noise * rng.standard_normal((n, n_inputs)), labels

    x_train, l_train = draw(n_train)
    x_test, l_test = draw(n_test)
    return x_train, l_train, x_test, l_test


NORMALISATIONS = ("length", "features")


def dataset_task(inputs: np.ndarray, labels: np.ndarray, n_train: int, n_test: int,
                 rng: np.random.Generator | None = None, normalise: str = "length"):
    """A class-balanced training subset and a random test subset of a dataset, normalised.

    The training set holds ``n_train // C`` random samples of each of the ``C`` classes (the
    remainder drawn at random from the rest); the test set is drawn at random from the samples
    left. The training set is sorted by class (kernels and maps then show class blocks).

    ``normalise="length"`` scales every input to ``|x|^2 = n_inputs``, as the toy task's, and
    keeps the inputs independent: a linear network can interpolate the training set when its
    inputs span ``P`` dimensions (the zero-temperature limit). ``"features"`` centres each
    feature and divides it by its training standard deviation (features constant on the
    training set are only centred), so ``|x|^2 ≈ n_inputs`` on average; centred inputs span at
    most ``P - 1`` dimensions, and one-hot targets have a non-zero mean, so a linear network
    without biases cannot interpolate them.
    """
    if normalise not in NORMALISATIONS:
        raise ValueError(f"normalise must be one of {', '.join(NORMALISATIONS)}, got {normalise!r}")
    if n_train + n_test > len(labels):
        raise ValueError(f"n_train + n_test must be <= {len(labels)} samples, got {n_train} + {n_test}")
    rng = rng if rng is not None else np.random.default_rng(0)
    order = rng.permutation(len(labels))
    classes = np.unique(labels)
    per = n_train // len(classes)
    chosen = np.concatenate([order[labels[order] == c][:per] for c in classes])
    rest = order[~np.isin(order, chosen)]
    chosen = np.concatenate([chosen, rest[:n_train - len(chosen)]])
    rest = order[~np.isin(order, chosen)]
    train = chosen[np.argsort(labels[chosen], kind="stable")]
    test = rest[:n_test]
    x_train, x_test = inputs[train], inputs[test]
    if normalise == "features":
        mean = x_train.mean(0)
        std = x_train.std(0)
        std[std == 0] = 1.0
        return (x_train - mean) / std, labels[train], (x_test - mean) / std, labels[test]

    def scaled(x):
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        if np.any(norm == 0):
            raise ValueError("normalise 'length' needs inputs that are not all zero; use 'features'")
        return math.sqrt(x.shape[1]) * x / norm

    return scaled(x_train), labels[train], scaled(x_test), labels[test]


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot targets ``(n_samples, n_classes)``: 1 for the class, 0 elsewhere."""
    return np.eye(n_classes)[labels]


def task_data(run: dict, dataset_path: str | os.PathLike | None = None):
    """Training and test data of a run: ``x_train, labels_train, x_test, labels_test, n_classes``."""
    spec = run["task_spec"]
    rng = np.random.default_rng([run["seed"], 0])
    if spec["kind"] == "orthonormal":
        x_tr, l_tr, x_te, l_te = orthonormal_task(spec["n_inputs"], spec["n_train"], spec["n_test"],
                                                  spec["proportions"], spec["test_noise"], rng)
        return x_tr, l_tr, x_te, l_te, len(spec["proportions"])
    if spec["kind"] == "noisy_means":
        x_tr, l_tr, x_te, l_te = orthogonal_classes(spec["n_inputs"], spec["n_train"], spec["n_test"],
                                                    spec["noise"], spec["proportions"], rng)
        return x_tr, l_tr, x_te, l_te, len(spec["proportions"])
    if dataset_path is None:
        raise ValueError(f"task {run['task']!r} reads dataset {spec['dataset']!r}: dataset_path is required")
    from layerinfo.datasets import read_dataset

    data = read_dataset(dataset_path)
    x_tr, l_tr, x_te, l_te = dataset_task(data.inputs.astype(float), data.labels, spec["n_train"], spec["n_test"], rng,
                                          spec.get("normalise", "length"))
    return x_tr, l_tr, x_te, l_te, data.n_classes
