"""Recording any torch model's layers with forward hooks into an activation file (via h5io).

The traps handled here, each refused or stated rather than silently recorded wrong:
- in-place modules (``ReLU(inplace=True)``) overwrite the tensor a previous hook saw: every
  hook copies its output at once, so each layer holds the value it returned, and an in-place
  module holds the value the next module receives;
- a module called several times per forward pass: one layer per call, ``name:k``;
- tuple or dict outputs: ``--select NAME=KEY``, or an error listing the keys;
- ``DataParallel``: unwrapped, and a checkpoint's ``module.`` prefix stripped;
- convolutional maps: flattened C*H*W, or global-average-pooled, or a fixed subsample of
  units; the choice is stored with each layer;
- modules or buffers left in training mode after ``eval()``, and random operations in eval
  mode: refused (two passes over the same batch must agree to the bit and leave every buffer
  as it was).
"""

from __future__ import annotations

import fnmatch
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

import layerinfo
from layerinfo.cli.errors import CliError
from layerinfo.cli.inputs import as_input, checkpoint_epochs, checkpoint_files, load_model, load_probe, load_weights
from layerinfo.h5io import ActivationWriter
from layerinfo.progress import progress

# module class -> name of layerinfo.models.ACTIVATIONS (sets EBAB's lowest edge); others "linear"
ACTIVATION_NAMES = {
    nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.ELU: "elu", nn.Softplus: "softplus",
    nn.SiLU: "swish", nn.Softsign: "softsign", nn.Softmax: "softmax", nn.Identity: "linear",
}
REDUCTIONS = ("flatten", "gap")


@dataclass
class Layer:
    """One recordable entry: a leaf module's ``call``-th call (``name`` or ``name:call``)."""

    module: str
    call: int
    calls: int
    kind: str
    shape: tuple  # per-sample output shape (after selection)
    inplace: bool = False
    selector: object = None
    keys: list = field(default_factory=list)  # keys of a tuple/dict output

    @property
    def name(self) -> str:
        return self.module if self.calls == 1 else f"{self.module}:{self.call}"


def _entries(output) -> list:
    if isinstance(output, (tuple, list)):
        return list(range(len(output)))
    if isinstance(output, dict):
        return list(output)
    return []


def _select(output, layer_name: str, selector):
    """The tensor of a module's output, applying ``selector`` to a tuple or dict."""
    if isinstance(output, torch.Tensor):
        return output
    keys = _entries(output)
    if not keys:
        raise CliError(f"layer {layer_name!r} returns {type(output).__name__}, not a tensor; it cannot be recorded")
    if selector is None:
        kind = "tuple" if isinstance(output, (tuple, list)) else "dict"
        raise CliError(f"layer {layer_name!r} returns a {kind} (keys: {', '.join(map(str, keys))}); "
                       f"choose one with --select {layer_name}=KEY")
    key = selector
    if isinstance(output, (tuple, list)):
        try:
            key = int(selector)
        except ValueError:
            key = None
    if key not in keys:
        raise CliError(f"--select: {selector!r} is not a key of layer {layer_name!r}'s output; allowed: "
                       f"{', '.join(map(str, keys))}")
    value = output[key]
    if not isinstance(value, torch.Tensor):
        raise CliError(f"--select: {layer_name}[{key!r}] is a {type(value).__name__}, not a tensor")
    return value


def leaf_modules(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_modules() if name and not list(m.children())}


class Hooks:
    """Forward hooks on leaf modules that copy each call's output at once (to the CPU)."""

    def __init__(self, model: nn.Module, names: list[str], transform=None):
        self.calls: dict[str, list] = {n: [] for n in names}
        self.order: list[tuple[str, int]] = []  # (module, call) in the order of the forward pass
        self._transform = transform
        modules = leaf_modules(model)
        self._handles = [modules[n].register_forward_hook(self._hook(n)) for n in names]

    def _hook(self, name):
        def hook(module, inputs, output):
            self.order.append((name, len(self.calls[name])))
            if self._transform is None:
                self.calls[name].append(output)
            else:
                self.calls[name].append(self._transform(name, len(self.calls[name]), output))
        return hook

    def reset(self):
        for v in self.calls.values():
            v.clear()
        self.order.clear()

    def remove(self):
        for h in self._handles:
            h.remove()


def _shape_of(output) -> str:
    if isinstance(output, torch.Tensor):
        return "x".join(map(str, output.shape[1:])) or "scalar"
    keys = _entries(output)
    return "{" + ", ".join(f"{k}: {_shape_of(output[k])}" for k in keys) + "}"


def discover(model: nn.Module, batch: torch.Tensor, selectors: dict[str, str]) -> tuple[list[Layer], dict]:
    """Every leaf module's calls on one batch; returns the layers and their output shapes as text."""
    modules = leaf_modules(model)
    hooks = Hooks(model, list(modules), transform=lambda n, k, out: (
        out.detach().clone() if isinstance(out, torch.Tensor) else out))
    try:
        with torch.inference_mode():
            model(batch)
    except Exception as err:
        raise CliError(f"--data: the model's forward pass failed on the probe inputs "
                       f"(shape {tuple(batch.shape)}): {type(err).__name__}: {str(err).splitlines()[0]}") from None
    finally:
        hooks.remove()
    layers, shapes = [], {}
    for name, k in hooks.order:
        outputs = hooks.calls[name]
        out = outputs[k]
        layer = Layer(name, k, len(outputs), type(modules[name]).__name__, (),
                      inplace=bool(getattr(modules[name], "inplace", False)), keys=_entries(out))
        shapes[layer.name] = _shape_of(out)
        if isinstance(out, torch.Tensor):
            layer.shape = tuple(out.shape[1:])
        layers.append(layer)
    return layers, shapes


def choose(layers: list[Layer], patterns: list[str] | None, selectors: dict[str, str]) -> list[Layer]:
    """The layers matching any glob (against ``module`` and ``module:k``), in forward order."""
    if not layers:
        raise CliError("--model: the model has no leaf module that is called in a forward pass")
    if not patterns:
        chosen = list(layers)
    else:
        chosen = []
        for pattern in patterns:
            hits = [l for l in layers if fnmatch.fnmatchcase(l.module, pattern) or fnmatch.fnmatchcase(l.name, pattern)]
            if not hits:
                names = [l.name for l in layers]
                shown = ", ".join(names[:20]) + (f" (+{len(names) - 20} more)" if len(names) > 20 else "")
                raise CliError(f"--layers: {pattern!r} matches no layer; recordable layers: {shown}")
            chosen += [l for l in hits if l not in chosen]
        chosen.sort(key=layers.index)
    for sel in selectors:
        if not any(l.module == sel or l.name == sel for l in chosen):
            raise CliError(f"--select: {sel!r} is not a recorded layer; recorded: {', '.join(l.name for l in chosen)}")
    for l in chosen:
        l.selector = selectors.get(l.name, selectors.get(l.module))
    return chosen


class Reducer:
    """Per-sample flattening of a layer's output, with optional pooling or unit subsample."""

    def __init__(self, layer: Layer, reduce: str, max_units: int | None, seed: int):
        self.shape = layer.shape
        self.pool = reduce == "gap" and len(layer.shape) >= 2
        units = layer.shape[0] if self.pool else math.prod(layer.shape)
        self.subset = None
        desc = f"global average pool over {'x'.join(map(str, layer.shape[1:]))}" if self.pool else \
            f"flatten {'x'.join(map(str, layer.shape)) or 'scalar'}"
        if max_units is not None and units > max_units:
            rng = np.random.default_rng(seed)
            self.subset = torch.from_numpy(np.sort(rng.choice(units, size=max_units, replace=False)))
            desc += f", then units np.sort(default_rng({seed}).choice({units}, {max_units}, replace=False))"
            units = max_units
        self.units = int(units)
        self.description = desc

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        if self.pool:
            t = t.mean(dim=tuple(range(2, t.ndim)))
        t = t.reshape(len(t), -1)
        if self.subset is not None:
            t = t[:, self.subset]
        return t


def _parse_selectors(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, key = item.partition("=")
        if not sep or not name or not key:
            raise CliError(f"--select: expected LAYER=KEY (a tuple index or dict key), got {item!r}")
        out[name] = key
    return out


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise CliError(f"--device: unknown device {name!r}; allowed: cpu, cuda, cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CliError(f"--device: {name} requested but torch sees no GPU; use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise CliError(f"--device: {name!r} is not supported; allowed: cpu, cuda, cuda:N")
    return device


def _check_eval(model: nn.Module) -> None:
    training = [name or type(model).__name__ for name, m in model.named_modules() if m.training]
    if training:
        raise CliError(f"--model: module(s) {', '.join(training[:6])} stay in training mode after eval(); "
                       "dropout or batch statistics would change the recorded values")


def _copy(output):
    if isinstance(output, torch.Tensor):
        return output.detach().clone()
    if isinstance(output, (tuple, list)):
        return type(output)(_copy(o) for o in output)
    if isinstance(output, dict):
        return {k: _copy(v) for k, v in output.items()}
    return output


def _buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_buffers()}


def list_layers(args) -> int:
    model = load_model(args.model)
    x, _, _, _ = _probe_for_layers(args)
    model.eval()
    layers, shapes = discover(model, as_input(x), {})
    rows = [("layer", "module", "calls", "output shape", "units", "note")]
    for l in layers:
        note = "in place" if l.inplace else ("tuple/dict: --select" if l.keys else "")
        rows.append((l.name, l.kind, str(l.calls), shapes[l.name], str(math.prod(l.shape)) if l.shape else "-", note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def _probe_for_layers(args):
    if args.data:
        return load_probe(args.data, None)
    try:
        shape = tuple(int(s) for s in args.input_shape.split(","))
    except (AttributeError, ValueError):
        raise CliError("--input-shape: expected comma-separated sizes of one sample, e.g. 1,8,8 "
                       "(or give --data probe.npz)") from None
    return np.zeros((2, *shape), dtype=np.float32), None, None, None


def record(args) -> int:
    if args.batch_size < 1:
        raise CliError(f"--batch-size: must be >= 1, got {args.batch_size}")
    if args.max_units is not None and args.max_units < 1:
        raise CliError(f"--max-units: must be >= 1, got {args.max_units}")
    out = Path(args.output)
    if out.suffix not in (".h5", ".hdf5"):
        raise CliError(f"-o: the activation file must end in .h5 or .hdf5, got {args.output}")
    splits = args.split.split(",") if args.split else None
    model = load_model(args.model)
    x, y, train_mask, split_names = load_probe(args.data, splits)
    checkpoints = checkpoint_epochs(checkpoint_files(args.weights)) if args.weights else [(0, None)]
    if checkpoints[0][1] is not None:
        load_weights(model, checkpoints[0][1])
    device = _device(args.device)
    model.to(device).eval()
    _check_eval(model)
    first = as_input(x[:args.batch_size]).to(device)
    selectors = _parse_selectors(args.select)
    layers = choose(discover(model, first, selectors)[0], args.layers, selectors)
    modules = leaf_modules(model)
    # One more pass keeping each chosen output and its copy: the shapes of selected tuple/dict
    # outputs, and which outputs are overwritten after their module returned (in place).
    raw = Hooks(model, sorted({l.module for l in layers}), transform=lambda n, k, out: (out, _copy(out)))
    with torch.inference_mode():
        model(first)
    raw.remove()
    overwritten = []
    for l in layers:
        kept, copied = raw.calls[l.module][l.call]
        l.shape = tuple(_select(copied, l.name, l.selector).shape[1:])
        if not torch.equal(_select(kept, l.name, l.selector), _select(copied, l.name, l.selector)):
            overwritten.append(l.name)
    if overwritten:
        print(f"record: warning: the output of {', '.join(overwritten)} is overwritten in place later in the "
              "forward pass; the file holds each value as its module returned it", file=sys.stderr)
    reducers = {l.name: Reducer(l, args.reduce, args.max_units, args.seed) for l in layers}
    for module in dict.fromkeys(l.module for l in layers if l.inplace):
        print(f"record: warning: {module} ({type(leaf_modules(model)[module]).__name__}) works in place and "
              "overwrites its input; each layer's values are copied as its module returns, so "
              f"{module} holds what the next module receives", file=sys.stderr)
    by_module: dict[str, list[Layer]] = {}
    for l in layers:
        by_module.setdefault(l.module, []).append(l)

    def transform(name, k, output):
        for l in by_module[name]:
            if l.call == k:
                # copied at once: a later in-place module would overwrite this tensor
                return reducers[l.name](_select(output, l.name, l.selector).detach()).to("cpu", torch.float32, copy=True)
        return None

    hooks = Hooks(model, list(by_module), transform)

    def forward(batch: torch.Tensor) -> list[torch.Tensor]:
        hooks.reset()
        with torch.inference_mode():
            model(batch)
        values = []
        for l in layers:
            calls = hooks.calls[l.module]
            if len(calls) != l.calls:
                raise CliError(f"--model: {l.module} was called {len(calls)} times in a batch but {l.calls} "
                               "times in the first; the forward pass depends on the data, record fewer layers")
            values.append(calls[l.call])
        return values

    # Refuse randomness and buffer updates in eval mode: two passes must agree and change nothing.
    before = _buffers(model)
    a, b = forward(first), forward(first)
    changed = [k for k, v in _buffers(model).items() if not torch.equal(v, before[k])]
    if changed:
        raise CliError(f"--model: buffer(s) {', '.join(changed[:6])} change in a forward pass in eval mode "
                       "(batch statistics left in training mode); refusing to record")
    differ = [l.name for l, u, v in zip(layers, a, b) if not torch.equal(u, v)]
    if differ:
        raise CliError(f"--model: two passes over the same batch differ at {', '.join(differ[:6])} "
                       "(dropout or another random operation active in eval mode); refusing to record")

    n, total_units = len(x), sum(r.units for r in reducers.values())
    per_epoch = n * total_units * 4
    batch_bytes = min(args.batch_size, n) * total_units * 4
    print(f"record: {len(layers)} layers, {n} samples x {total_units} values x {len(checkpoints)} epoch(s) "
          f"= {_size(per_epoch * len(checkpoints))} on disk; {_size(batch_bytes)} of activations in memory "
          f"per batch of {min(args.batch_size, n)}", file=sys.stderr)
    specs = [{"name": l.name, "activation": ACTIVATION_NAMES.get(type(modules[l.module]), "linear"),
              "units": reducers[l.name].units, "module": l.module, "call": l.call, "kind": l.kind,
              "output_shape": list(l.shape), "reduction": reducers[l.name].description,
              "inplace": l.inplace, "selector": "" if l.selector is None else str(l.selector)}
             for l in layers]
    config = {"study": "external", "run": args.run or out.stem, "model": args.model, "data": str(args.data),
              "splits": split_names, "weights": [str(p) if p else "as built" for _, p in checkpoints],
              "layers": args.layers or ["*"], "reduce": args.reduce, "max_units": args.max_units,
              "seed": args.seed, "batch_size": args.batch_size}
    attrs = {"config": config, "seed": args.seed, "package_version": layerinfo.__version__,
             "torch_version": str(torch.__version__), "device": str(device), "source": "layerinfo record"}
    epochs = np.array([e for e, _ in checkpoints])
    steps = [(i, start) for i in range(len(checkpoints)) for start in range(0, n, args.batch_size)]
    with ActivationWriter(out, epochs=epochs, layers=specs, probe_indices=np.arange(n), probe_labels=y,
                          probe_train_mask=train_mask, attrs=attrs, chunk_rows=min(args.batch_size, n)) as w:
        loaded = 0
        for i, start in progress(steps, desc=f"record {out.name}", total=len(steps)):
            if start == 0 and checkpoints[i][1] is not None and i != loaded:
                load_weights(model, checkpoints[i][1])
                model.eval()
                loaded = i
            for l, values in enumerate(forward(as_input(x[start:start + args.batch_size]).to(device))):
                w.write_rows(i, l, start, values.numpy())
        w.write_history({"epoch": np.zeros(0, np.int64), **{k: np.zeros(0) for k in
                        ("train_loss", "train_acc", "test_loss", "test_acc")}})
    print(f"record: wrote {out} ({len(layers)} layers x {len(checkpoints)} epoch(s))", file=sys.stderr)
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
