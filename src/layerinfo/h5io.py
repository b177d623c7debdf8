"""The one reader and writer of activation files (HDF5).

Layout (``format="layerinfo-activations"``, ``format_version=1``)::

    /                      attrs: format, format_version, complete, config (JSON), config_hash,
                                  seed, package_version, torch_version, device, created
    epochs                 (E,) int64, the snapshot epochs
    probe/indices          (N,) int64, indices of the probed samples in the dataset
    probe/labels           (N,) int64
    probe/train_mask       (N,) bool, True for samples in the training split
    layers/{l}/activations (E, N, units_l) float32, one (epoch, layer) slab per chunk
                           (or ``chunk_rows`` samples per chunk when written in row blocks),
                           uncompressed, lzf or gzip (see COMPRESSIONS)
                           attrs: name, activation, units (and any extra keys of the layer's spec)
    history/epoch          (H,) int64 and history/{train_loss,train_acc,test_loss,test_acc} (H,)

Trained networks also carry, at the root (files written before these existed lack them; readers
report them as unrecorded, so the format version did not change):

    attempts               JSON list, one {"start_epoch", "fingerprint"} per process that wrote
                           the file (a resumed run has several; start_epoch 0 is a fresh start)
    resumed_from           JSON list of the epochs later attempts resumed from ([] if never)
    arithmetic             "uniform" (every attempt on the same arithmetic fingerprint) or
                           MIXED_ARITHMETIC

A file is written under a temporary name in the same directory and renamed when
complete, so a killed job never leaves a file that looks finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

FORMAT = "layerinfo-activations"
FORMAT_VERSION = 1
HISTORY_KEYS = ("train_loss", "train_acc", "test_loss", "test_acc")
# The ``arithmetic`` attribute of a file some of whose epochs ran under another arithmetic
# fingerprint than the others (a resume allowed across code paths): its values are genuine but
# not those an uninterrupted run would give bit for bit.
UNIFORM_ARITHMETIC = "uniform"
MIXED_ARITHMETIC = "resumed on different arithmetic; not bit-identical"
UNRECORDED_ARITHMETIC = "unrecorded"


def arithmetic_of(attempts: list[dict]) -> str:
    """:data:`UNIFORM_ARITHMETIC` if every attempt ran on one fingerprint, else :data:`MIXED_ARITHMETIC`."""
    prints = {json.dumps(a["fingerprint"], sort_keys=True) for a in attempts}
    return UNIFORM_ARITHMETIC if len(prints) <= 1 else MIXED_ARITHMETIC
# HDF5 filter settings of the activation datasets, by the name used in the config
# (runtime.activation_compression). Measured per 4096 x 31 snapshot of a Tishby net:
# none 0.5 ms (one raw chunk); lzf 3.5 ms (tanh: no smaller, ReLU 0.66 of raw); gzip level 1
# 13 ms / 8.6 ms (0.92 / 0.58 of raw). Writing gzip cost more than training the 50-member
# ensemble, and the layers of saturating activations hardly compress, hence "none" by
# default. Readers need no setting: HDF5 records the filter (lzf is h5py's, in every h5py).
COMPRESSIONS = {
    "none": {},
    "lzf": {"compression": "lzf"},
    "gzip": {"compression": "gzip", "compression_opts": 1},
}


class ActivationFileError(ValueError):
    """An activation file is missing, unreadable, foreign, incomplete or malformed."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def partial_path(path: str | os.PathLike) -> Path:
    """Where a resumable writer keeps the file while it is being written."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def snapshot_digest(layer_values: list[np.ndarray]) -> str:
    """SHA-256 of one snapshot's float32 values, layer by layer (to verify a resumed file)."""
    digest = hashlib.sha256()
    for values in layer_values:
        digest.update(np.ascontiguousarray(values, dtype=np.float32).tobytes())
    return digest.hexdigest()


def verify_partial(path: str | os.PathLike, digests: dict[int, str]) -> bool:
    """True if the partial file of ``path`` holds exactly the snapshots ``{index: digest}``."""
    partial = partial_path(path)
    try:
        with h5py.File(partial, "r") as f:
            if f.attrs.get("format") != FORMAT:
                return False
            n_layers = len(f["layers"])
            for index, expected in digests.items():
                values = [f[f"layers/{l}/activations"][index] for l in range(n_layers)]
                if snapshot_digest(values) != expected:
                    return False
    except (OSError, KeyError, ValueError):
        return False
    return True


class ActivationWriter:
    """Write one activation file snapshot by snapshot.

    Use as a context manager; the file appears at ``path`` only when the ``with`` block
    ends without an exception and every snapshot has been written. ``compression`` names
    the filter of the activation datasets (a key of :data:`COMPRESSIONS`).

    With ``resumable=True`` the file is written at :func:`partial_path` instead of a random
    temporary name, and it survives an interruption (a kill, ``KeyboardInterrupt``) so that
    training can continue it: pass ``resume`` (snapshot index -> digest, as recorded by
    :attr:`digests` at a checkpoint, and checked with :func:`verify_partial`) to reopen it.
    Any other exception removes it.

    With ``chunk_rows`` set, each snapshot may instead be written in blocks of samples with
    :meth:`write_rows` (a recorder streaming a large probe set batch by batch), and HDF5
    chunks hold ``chunk_rows`` samples of one snapshot, so no writer or reader needs a whole
    ``(N, units)`` slab in memory. Extra keys of a layer's spec are stored as attributes.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        epochs: np.ndarray,
        layers: list[dict],
        probe_indices: np.ndarray,
        probe_labels: np.ndarray,
        probe_train_mask: np.ndarray,
        attrs: dict,
        compression: str = "none",
        resumable: bool = False,
        resume: dict[int, str] | None = None,
        chunk_rows: int | None = None,
    ):
        if chunk_rows is not None and (int(chunk_rows) < 1 or resumable):
            raise ValueError("chunk_rows must be >= 1 and cannot be combined with resumable")
        self._chunk_rows = None if chunk_rows is None else int(chunk_rows)
        if compression not in COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}; allowed: {', '.join(COMPRESSIONS)}")
        self._compression = COMPRESSIONS[compression]
        self.path = Path(path)
        self.epochs = np.asarray(epochs, dtype=np.int64)
        self.layers = layers
        self._probe = (probe_indices, probe_labels, probe_train_mask)
        self._attrs = attrs
        self._written = np.zeros(len(self.epochs), dtype=bool)
        # rows written so far of each (snapshot, layer) by write_rows
        self._rows = np.zeros((len(self.epochs), len(layers)), dtype=np.int64)
        self._n = len(probe_indices)
        self._stack = contextlib.ExitStack()
        self._resumable = resumable
        self._resume = resume
        self.digests: dict[int, str] = {}

    def __enter__(self) -> "ActivationWriter":
        if self._resumable:
            tmp = partial_path(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._resume is not None:
                self._file = self._stack.enter_context(h5py.File(tmp, "r+"))
                for index, digest in self._resume.items():
                    self._written[index] = True
                    self.digests[index] = digest
                self._datasets = self._layer_datasets()
                return self
        else:
            tmp = self._stack.enter_context(atomic_path(self.path, ".h5"))
        self._file = self._stack.enter_context(h5py.File(tmp, "w"))
        self._create()
        # looked up once: a lookup by name cost more than writing an uncompressed snapshot
        self._datasets = self._layer_datasets()
        return self

    def _layer_datasets(self) -> list[tuple]:
        """(dataset, shape of one snapshot, uncompressed?) of each layer."""
        datasets = [self._file[f"layers/{l}/activations"] for l in range(len(self.layers))]
        return [(ds, ds.shape[1:], ds.compression is None and ds.chunks[1:] == ds.shape[1:])
                for ds in datasets]

    def _create(self) -> None:
        f = self._file
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["complete"] = False
        f.attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for key, value in self._attrs.items():
            if isinstance(value, (dict, list)):
                value = json.dumps(value, sort_keys=True)
            elif isinstance(value, str):
                value = str(value)  # plain str: h5py cannot store str subclasses such as torch's version
            f.attrs[key] = value
        f.create_dataset("epochs", data=self.epochs)
        indices, labels, train_mask = self._probe
        n = len(indices)
        f.create_dataset("probe/indices", data=np.asarray(indices, dtype=np.int64))
        f.create_dataset("probe/labels", data=np.asarray(labels, dtype=np.int64))
        f.create_dataset("probe/train_mask", data=np.asarray(train_mask, dtype=bool))
        for l, spec in enumerate(self.layers):
            units = int(spec["units"])
            rows = n if self._chunk_rows is None else max(1, min(n, self._chunk_rows))
            ds = f.create_dataset(
                f"layers/{l}/activations",
                shape=(len(self.epochs), n, units),
                dtype=np.float32,
                chunks=(1, rows, units),
                **self._compression,
            )
            ds.attrs["name"] = spec["name"]
            ds.attrs["activation"] = spec["activation"]
            ds.attrs["units"] = units
            for key, value in spec.items():
                if key not in ("name", "activation", "units"):
                    ds.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value

    def write_snapshot(self, index: int, layer_values: list[np.ndarray]) -> None:
        """Store the values of every layer at snapshot ``index`` (position in ``epochs``)."""
        values = [np.ascontiguousarray(v, dtype=np.float32) for v in layer_values]
        for (ds, shape, raw), v in zip(self._datasets, values):
            if v.shape != shape:
                raise ValueError(f"{self.path}: {ds.name} takes {shape} values per snapshot, got {v.shape}")
            if raw:  # one chunk is one snapshot: store its bytes, 2x faster than ds[index] = v
                ds.id.write_direct_chunk((index, 0, 0), v.astype("<f4", copy=False).tobytes())
            else:
                ds[index] = v
        self._written[index] = True
        if self._resumable:
            self.digests[index] = snapshot_digest(values)

    def write_rows(self, index: int, layer: int, start: int, values: np.ndarray) -> None:
        """Store samples ``start:start+len(values)`` of layer ``layer`` at snapshot ``index``.

        Blocks of one snapshot and layer must come in order (``start`` = rows written so
        far), so that a snapshot counts as written only once every sample is.
        """
        ds, shape, _ = self._datasets[layer]
        values = np.ascontiguousarray(values, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != shape[1]:
            raise ValueError(f"{self.path}: {ds.name} takes rows of {shape[1]} values, got {values.shape}")
        if start != self._rows[index, layer] or start + len(values) > self._n:
            raise ValueError(f"{self.path}: {ds.name} snapshot {index}: rows must be written in order "
                             f"(next is {self._rows[index, layer]}, got {start}..{start + len(values)})")
        ds[index, start:start + len(values)] = values
        self._rows[index, layer] += len(values)
        if (self._rows[index] == self._n).all():
            self._written[index] = True

    def flush(self) -> None:
        """Push everything written so far to disk (before a checkpoint records it)."""
        self._file.flush()

    def write_history(self, history: dict[str, np.ndarray]) -> None:
        self._file.create_dataset("history/epoch", data=np.asarray(history["epoch"], dtype=np.int64))
        for key in HISTORY_KEYS:
            self._file.create_dataset(f"history/{key}", data=np.asarray(history[key], dtype=np.float64))

    def write_attempts(self, attempts: list[dict]) -> None:
        """Record every attempt that wrote the file (``start_epoch``, ``fingerprint``), the epochs
        it was resumed from and whether all ran on one arithmetic (attributes, see the module)."""
        self._file.attrs["attempts"] = json.dumps(attempts, sort_keys=True)
        self._file.attrs["resumed_from"] = json.dumps([int(a["start_epoch"]) for a in attempts[1:]])
        self._file.attrs["arithmetic"] = arithmetic_of(attempts)

    def _finalise(self) -> None:
        missing = np.flatnonzero(~self._written)
        if missing.size:
            raise ActivationFileError(
                f"{self.path}: snapshots at epochs {self.epochs[missing].tolist()} were never written"
            )
        if "history/epoch" not in self._file:
            raise ActivationFileError(f"{self.path}: training history was never written")
        self._file.attrs["complete"] = True

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            try:
                self._finalise()
            except BaseException as err:
                self._stack.__exit__(type(err), err, err.__traceback__)
                if self._resumable:
                    partial_path(self.path).unlink(missing_ok=True)
                raise
        result = self._stack.__exit__(exc_type, exc, tb)
        if self._resumable:
            partial = partial_path(self.path)
            if exc_type is None:
                os.replace(partial, self.path)
            elif issubclass(exc_type, Exception):
                partial.unlink(missing_ok=True)
        return result


class ActivationFile:
    """Read-only view of a complete activation file; open with :func:`open_activations`."""

    def __init__(self, path: Path, handle: h5py.File):
        self.path = path
        self._f = handle
        self.epochs = handle["epochs"][()]
        self.labels = handle["probe/labels"][()]
        self.train_mask = handle["probe/train_mask"][()]
        self.n_layers = len(handle["layers"])
        self.layers = [dict(handle[f"layers/{l}/activations"].attrs) for l in range(self.n_layers)]
        for spec in self.layers:
            spec["units"] = int(spec["units"])
        self.config = json.loads(handle.attrs["config"]) if "config" in handle.attrs else {}
        self.attrs = {k: v for k, v in handle.attrs.items() if k != "config"}
        # absent from files written before attempts were recorded
        self.attempts = json.loads(self.attrs["attempts"]) if "attempts" in self.attrs else None
        self.resumed_from = json.loads(self.attrs["resumed_from"]) if "resumed_from" in self.attrs else None
        self.arithmetic = str(self.attrs.get("arithmetic", UNRECORDED_ARITHMETIC))

    def activations(self, epoch_index: int, layer: int) -> np.ndarray:
        """Values of layer ``layer`` at snapshot ``epoch_index``: shape ``(n_samples, units)``, float32."""
        return self._f[f"layers/{layer}/activations"][epoch_index]

    def history(self) -> dict[str, np.ndarray]:
        keys = ("epoch", *HISTORY_KEYS)
        return {k: self._f[f"history/{k}"][()] for k in keys}


def open_checked(path: Path, fmt: str, version: int, error: type[Exception], kind: str) -> h5py.File:
    """Open a layerinfo HDF5 file for reading after checking that it exists, is HDF5, carries
    ``format`` ``fmt`` and ``format_version`` ``version``, and is complete.

    Raises ``error`` naming the file and what is wrong (``kind``: "activation", "posterior").
    The caller closes the returned file (``with open_checked(...) as handle``).
    """
    if not path.exists():
        raise error(f"{path}: {kind} file does not exist")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise error(f"{path}: not a readable HDF5 file (truncated or corrupted?): {err}") from None
    try:
        found = handle.attrs.get("format")
        if found != fmt:
            raise error(f"{path}: format is {found!r}, expected {fmt!r}; not a layerinfo {kind} file")
        found = handle.attrs.get("format_version")
        if found != version:
            raise error(f"{path}: format_version {found} is not supported (this reader handles {version}); "
                        "regenerate the file with this version of layerinfo")
        if not handle.attrs.get("complete", False):
            raise error(f"{path}: file is incomplete (the writing job did not finish)")
    except BaseException:
        handle.close()
        raise
    return handle


@contextlib.contextmanager
def open_activations(path: str | os.PathLike) -> Iterator[ActivationFile]:
    """Open an activation file for reading, refusing anything that is not a complete one.

    Raises
    ------
    ActivationFileError
        Naming the file and what is wrong: missing, not HDF5 or truncated, foreign
        ``format``, unsupported ``format_version``, incomplete, or missing datasets.
    """
    path = Path(path)
    with open_checked(path, FORMAT, FORMAT_VERSION, ActivationFileError, "activation") as handle:
        required = ["epochs", "probe/labels", "probe/train_mask", "layers", "history/epoch"]
        missing = [name for name in required if name not in handle]
        if missing:
            raise ActivationFileError(f"{path}: missing dataset(s) {', '.join(missing)}")
        try:
            view = ActivationFile(path, handle)
        except (KeyError, OSError) as err:
            raise ActivationFileError(f"{path}: malformed activation file: {err}") from None
        yield view
