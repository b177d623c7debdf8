"""``layerinfo import``: activations a user already has -> the project's activation file.

Sources: an ``.npz`` (one array per layer), a directory of ``.npy`` files (one per layer,
ordered by name with numbers compared as numbers), a ``.pt`` file (a dict of tensors, read
with ``weights_only=True``), or an HDF5 file (every dataset one layer; a layerinfo activation
file keeps its layers, epochs, labels and split). Each array is ``(N, ...)`` or, with an
epoch axis first, ``(E, N, ...)``; trailing axes are flattened.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import h5py
import numpy as np

import layerinfo
from layerinfo.cli.errors import CliError
from layerinfo.h5io import FORMAT, ActivationWriter, open_activations

LABEL_KEYS = ("y", "labels")


def _natural(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Named arrays of a source, in layer order."""
    if path.is_dir():
        files = sorted(path.glob("*.npy"), key=lambda p: _natural(p.stem))
        if not files:
            raise CliError(f"import: directory {path} holds no .npy file")
        return {p.stem: np.load(p, allow_pickle=False) for p in files}
    if not path.exists():
        raise CliError(f"import: {path} does not exist")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        if path.suffix == ".npy":
            return {path.stem: np.load(path, allow_pickle=False)}
        if path.suffix in (".pt", ".pth"):
            import torch

            data = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(data, dict):
                raise CliError(f"import: {path} holds a {type(data).__name__}; expected a dict name -> tensor")
            return {str(k): v.numpy() for k, v in data.items() if isinstance(v, torch.Tensor)}
        if path.suffix in (".h5", ".hdf5"):
            out = {}

            def collect(name, obj):  # returns None: visititems stops at the first other value
                if isinstance(obj, h5py.Dataset):
                    out[name] = obj[()]

            with h5py.File(path, "r") as f:
                f.visititems(collect)
            return out
    except CliError:
        raise
    except Exception as err:
        raise CliError(f"import: cannot read {path}: {type(err).__name__}: {str(err).splitlines()[0]}") from None
    raise CliError(f"import: {path}: unknown kind; allowed: .npz, .npy, a directory of .npy, .pt, .h5")


def _labels(args, arrays: dict) -> np.ndarray:
    if args.labels:
        source = Path(args.labels)
        if not source.is_file():
            raise CliError(f"--labels: {args.labels} does not exist")
        try:
            y = np.load(source, allow_pickle=False)
        except Exception as err:
            raise CliError(f"--labels: cannot read {args.labels} as .npy: {err}") from None
        if isinstance(y, np.lib.npyio.NpzFile):
            keys = [k for k in LABEL_KEYS if k in y.files]
            if not keys:
                raise CliError(f"--labels: {args.labels} has none of {', '.join(LABEL_KEYS)}")
            y = y[keys[0]]
    else:
        keys = [k for k in LABEL_KEYS if k in arrays]
        if not keys:
            raise CliError(f"--labels: not given and the source has no array {' or '.join(LABEL_KEYS)}")
        y = arrays[keys[0]]
    for k in LABEL_KEYS:
        arrays.pop(k, None)
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise CliError(f"--labels: expected a 1-d integer array, got {y.dtype} {y.shape}")
    return y.astype(np.int64)


def _with_epochs(name: str, a: np.ndarray, n: int, epoch_axis: str) -> np.ndarray:
    """``(E, N, units)`` float32 of one layer's array."""
    a = np.asarray(a)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise CliError(f"import: layer {name!r} has dtype {a.dtype}; allowed: numbers")
    has = {"yes": True, "no": False}.get(epoch_axis)
    if has is None:  # auto: the axis of length N tells
        first, second = a.ndim >= 1 and a.shape[0] == n, a.ndim >= 2 and a.shape[1] == n
        if first and second:
            raise CliError(f"import: layer {name!r} has shape {a.shape}: both of its first axes have length "
                           f"N = {n}; say --epoch-axis yes or no")
        has = second and not first
        if not (first or second):
            raise CliError(f"import: layer {name!r} has shape {a.shape}, but the labels have N = {n} samples "
                           "(expected (N, ...) or (E, N, ...))")
    if has:
        if a.ndim < 2 or a.shape[1] != n:
            raise CliError(f"import: layer {name!r} has shape {a.shape}; with an epoch axis expected (E, {n}, ...)")
        return a.reshape(a.shape[0], n, -1).astype(np.float32)
    if a.shape[0] != n:
        raise CliError(f"import: layer {name!r} has {a.shape[0]} samples but the labels have {n}")
    return a.reshape(1, n, -1).astype(np.float32)


def import_activations(args) -> int:
    source = Path(args.source)
    out = Path(args.output)
    if out.suffix not in (".h5", ".hdf5"):
        raise CliError(f"-o: the activation file must end in .h5 or .hdf5, got {args.output}")
    if source.suffix in (".h5", ".hdf5") and source.is_file():
        with h5py.File(source, "r") as f:
            native = f.attrs.get("format") == FORMAT
        if native:
            return _copy_native(source, out, args)
    arrays = read_arrays(source)
    from layerinfo.models import ACTIVATIONS  # torch: only once the source is known to be readable

    if args.activation not in ACTIVATIONS and args.activation != "softmax":
        raise CliError(f"--activation: unknown {args.activation!r}; allowed: softmax, {', '.join(ACTIVATIONS)}")
    y = _labels(args, arrays)
    n = len(y)
    train_mask = np.ones(n, bool)
    if "train_mask" in arrays:
        train_mask = np.asarray(arrays.pop("train_mask"), bool)
    given_epochs = arrays.pop("epochs", None)
    if not arrays:
        raise CliError(f"import: {source} holds labels but no layer arrays")
    layers = {name: _with_epochs(name, a, n, args.epoch_axis) for name, a in arrays.items()}
    counts = {a.shape[0] for a in layers.values()}
    if len(counts) > 1:
        raise CliError(f"import: layers differ in their number of epochs: "
                       + ", ".join(f"{k} {v.shape[0]}" for k, v in layers.items()))
    n_epochs = counts.pop()
    epochs = _epochs(args.epochs, given_epochs, n_epochs)
    specs = [{"name": name, "activation": args.activation, "units": a.shape[2], "source_shape": list(arrays[name].shape)}
             for name, a in layers.items()]
    attrs = {"config": {"study": "external", "run": args.run or out.stem, "source": str(source), "labels": str(args.labels or "")},
             "seed": -1, "package_version": layerinfo.__version__, "device": "cpu", "source": "layerinfo import"}
    _write(out, epochs, specs, y, train_mask, attrs, lambda i: [a[i] for a in layers.values()])
    print(f"import: wrote {out} ({len(specs)} layers x {n_epochs} epoch(s), {n} samples)", file=sys.stderr)
    return 0


def _epochs(text: str | None, given, count: int) -> np.ndarray:
    if text:
        try:
            epochs = np.array([int(e) for e in text.split(",")])
        except ValueError:
            raise CliError(f"--epochs: expected comma-separated integers, got {text!r}") from None
    elif given is not None:
        epochs = np.asarray(given).astype(np.int64).ravel()
    else:
        epochs = np.arange(count)
    if len(epochs) != count:
        raise CliError(f"--epochs: {len(epochs)} epochs given for arrays with {count}")
    return epochs


def _write(out, epochs, specs, labels, train_mask, attrs, snapshot) -> None:
    with ActivationWriter(out, epochs=epochs, layers=specs, probe_indices=np.arange(len(labels)),
                          probe_labels=labels, probe_train_mask=train_mask, attrs=attrs) as w:
        for i in range(len(epochs)):
            w.write_snapshot(i, snapshot(i))
        w.write_history({"epoch": np.zeros(0, np.int64), **{k: np.zeros(0) for k in
                        ("train_loss", "train_acc", "test_loss", "test_acc")}})


def _copy_native(source: Path, out: Path, args) -> int:
    """Re-write a layerinfo activation file (e.g. another version's) with its own layers and labels."""
    with open_activations(source) as f:
        specs = [dict(s) for s in f.layers]
        attrs = {"config": {**f.config, "source": str(source), **({"run": args.run} if args.run else {})}, "seed": int(f.attrs.get("seed", -1)),
                 "package_version": layerinfo.__version__, "device": "cpu", "source": "layerinfo import"}
        labels = f.labels
        if args.labels:
            labels = _labels(args, {})
            if len(labels) != len(f.labels):
                raise CliError(f"--labels: {len(labels)} labels for {len(f.labels)} samples in {source}")
        _write(out, f.epochs, specs, labels, f.train_mask, attrs,
               lambda i: [f.activations(i, l) for l in range(f.n_layers)])
    print(f"import: wrote {out} from {source}", file=sys.stderr)
    return 0
