"""Reading the user's inputs: a model factory, checkpoints, probe data."""

from __future__ import annotations

import glob
import importlib
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from layerinfo.cli.errors import CliError

WRAPPERS = (nn.DataParallel, nn.parallel.DistributedDataParallel)
STATE_KEYS = ("state_dict", "model_state_dict", "model")  # where a training script nests the weights


def _import_module(name: str):
    if name.endswith(".py") or "/" in name:
        path = Path(name)
        if not path.is_file():
            raise CliError(f"--model: file {name} does not exist")
        # its own directory first, so that it can import its neighbours; a private module name,
        # so that it never replaces an imported module of the same name
        sys.path.insert(0, str(path.resolve().parent))
        spec = importlib.util.spec_from_file_location(f"_layerinfo_model_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # a module beside the user, as `python -m` finds it
    return importlib.import_module(name)


def load_model(spec: str) -> nn.Module:
    """Build the model named ``MODULE:CALLABLE`` (a dotted module or a .py file); unwrap DataParallel."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise CliError(f"--model: expected MODULE:CALLABLE (e.g. mypkg.nets:build or nets.py:build), got {spec!r}")
    try:
        module = _import_module(module_name)
    except CliError:
        raise
    except Exception as err:  # the user's module failed to import: say which and why, in one line
        raise CliError(f"--model: cannot import {module_name!r}: {type(err).__name__}: {err}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise CliError(f"--model: {module_name!r} has no callable {attr!r}; callables there: {', '.join(names) or 'none'}")
    try:
        model = factory()
    except Exception as err:
        raise CliError(f"--model: {spec}() failed: {type(err).__name__}: {err}") from None
    if not isinstance(model, nn.Module):
        raise CliError(f"--model: {spec}() returned {type(model).__name__}, not a torch.nn.Module")
    while isinstance(model, WRAPPERS):
        model = model.module
    return model


def checkpoint_files(pattern: str) -> list[Path]:
    files = sorted(Path(p) for p in glob.glob(pattern))
    if not files:
        raise CliError(f"--weights: no file matches {pattern!r}")
    return files


def _number_in_name(path: Path) -> int | None:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else None


def read_checkpoint(path: Path) -> tuple[dict, int | None]:
    """The state dict of a checkpoint (plain or nested under a usual key) and its ``epoch`` key."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CliError(f"--weights: {path} is not a state dict loadable with weights_only=True: {first}") from None
    if not isinstance(data, dict):
        raise CliError(f"--weights: {path} holds a {type(data).__name__}, not a state dict")
    epoch = data.get("epoch")
    for key in STATE_KEYS:
        if isinstance(data.get(key), dict):
            data = data[key]
            break
    state = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise CliError(f"--weights: {path} holds no tensors (keys: {', '.join(map(str, list(data)[:8]))})")
    if isinstance(epoch, torch.Tensor):
        epoch = epoch.item()
    return state, (int(epoch) if isinstance(epoch, (int, float)) else None)


def checkpoint_epochs(files: list[Path]) -> list[tuple[int, Path]]:
    """(epoch, file) sorted by epoch: the checkpoint's ``epoch`` key, else the last number in its name."""
    out = []
    for path in files:
        _, epoch = read_checkpoint(path)
        if epoch is None:
            epoch = _number_in_name(path)
        if epoch is None:
            raise CliError(f"--weights: {path} has no 'epoch' key and no number in its file name")
        out.append((epoch, path))
    out.sort(key=lambda pair: pair[0])
    epochs = [e for e, _ in out]
    duplicated = sorted({e for e in epochs if epochs.count(e) > 1})
    if duplicated:
        raise CliError(f"--weights: several checkpoints claim epoch(s) {duplicated}")
    return out


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a checkpoint strictly, stripping DataParallel's ``module.`` prefix if the model has none."""
    state, _ = read_checkpoint(path)
    own = model.state_dict()
    device = next((v.device for v in own.values()), torch.device("cpu"))
    state = {k: v.to(device) for k, v in state.items()}
    if all(k.startswith("module.") for k in state) and not any(k.startswith("module.") for k in own):
        state = {k[len("module."):]: v for k, v in state.items()}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong)):
            if keys:
                parts.append(f"{label} {', '.join(keys[:4])}" + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else ""))
        raise CliError(f"--weights: {path} does not fit the model: {'; '.join(parts)}")
    model.load_state_dict(state, strict=True)


def load_probe(path: str, splits: list[str] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Probe inputs, integer labels and train mask from an .npz.

    The file holds ``x`` and ``y`` (one set of samples), or ``x_train``/``y_train`` and
    ``x_test``/``y_test``; ``splits`` picks which of these to record (default: all present).
    """
    p = Path(path)
    if not p.is_file():
        raise CliError(f"--data: file {path} does not exist")
    try:
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as err:
        raise CliError(f"--data: {path} is not a readable .npz without pickled objects: {err}") from None
    present = [s for s in ("train", "test") if f"x_{s}" in arrays or f"y_{s}" in arrays]
    if "x" in arrays or "y" in arrays or not present:
        for key in ("x", "y"):
            if key not in arrays:
                raise CliError(f"--data: {path} has no array {key!r} (keys: {', '.join(arrays) or 'none'}); "
                               "it needs x and y, or x_train, y_train, x_test, y_test")
        if splits and splits != ["all"]:
            raise CliError(f"--split: {path} holds one set of samples (x, y); --split takes only 'all' here")
        parts = [("all", arrays["x"], arrays["y"])]
    else:
        chosen = splits or present
        for s in chosen:
            if s not in present:
                raise CliError(f"--split: {s!r} not in {path}; allowed: {', '.join(present)}")
            for key in (f"x_{s}", f"y_{s}"):
                if key not in arrays:
                    raise CliError(f"--data: {path} has no array {key!r} (keys: {', '.join(arrays)})")
        parts = [(s, arrays[f"x_{s}"], arrays[f"y_{s}"]) for s in chosen]
    xs, ys, masks = [], [], []
    for name, x, y in parts:
        suffix = "" if name == "all" else f"_{name}"
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise CliError(f"--data: y{suffix} in {path} must be a 1-d integer array, got {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise CliError(f"--data: x{suffix} has {len(x)} samples but y{suffix} has {len(y)} in {path}")
        if len(x) == 0:
            raise CliError(f"--data: x{suffix} in {path} has no samples")
        xs.append(x)
        ys.append(y.astype(np.int64))
        masks.append(np.full(len(x), name != "test"))
    shapes = {x.shape[1:] for x in xs}
    if len(shapes) > 1:
        raise CliError(f"--data: the splits' samples differ in shape: {sorted(shapes)}")
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(masks), [name for name, _, _ in parts]


def as_input(x: np.ndarray) -> torch.Tensor:
    """Model input of a probe batch: float32 for real data, int64 for integer tokens."""
    if np.issubdtype(x.dtype, np.floating):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64))
    raise CliError(f"--data: x has dtype {x.dtype}; allowed: floating or integer arrays")
