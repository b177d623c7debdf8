"""Training fully connected classifiers and recording their layers at snapshot epochs."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

import layerinfo
from layerinfo.datasets import read_dataset, train_test_split
from layerinfo.h5io import ActivationWriter
from layerinfo.init import init_network
from layerinfo.models import MLP
from layerinfo.progress import progress

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "sgd")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


def snapshot_epochs(epochs: int, count: int) -> np.ndarray:
    """Epochs after which layers are recorded, log-spaced as in the reference code.

    ``unique(int(2 ** linspace(0, log2(epochs), count))) - 1`` (the IDNNs / Chelombiev
    schedule: every early epoch, sparser later; 0 is the initialisation), plus ``epochs``
    itself so that the trained network is always recorded. Early duplicates are dropped,
    so fewer than ``count`` epochs come back (274 + 1 for 8000 epochs and count 400).

    >>> snapshot_epochs(100, 5).tolist()
    [0, 2, 8, 30, 98, 100]
    """
    if epochs < 1 or count < 1:
        raise ValueError(f"epochs and count must be >= 1, got epochs={epochs}, count={count}")
    grid = np.logspace(0.0, np.log2(epochs), count, base=2.0, dtype=int)
    return np.unique(np.concatenate([np.unique(grid) - 1, [epochs]])).astype(np.int64)


def config_hash(config: dict) -> str:
    """Short, stable hash of a resolved run configuration (sorted-key JSON, SHA-256)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _derived_seed(seed: int, purpose: int) -> int:
    # Independent streams for initialisation and batch order, both fixed by the run's seed.
    return int(np.random.SeedSequence([int(seed), purpose]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _make_optimizer(params, training: dict) -> torch.optim.Optimizer:
    name = training["optimizer"]
    lr = training["learning_rate"]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=training.get("momentum", 0.0))
    raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")


def training_loss(model: MLP, x: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    """Mean cross-entropy plus ``l2 * sum(W**2) / 2`` over the hidden layers' weights.

    Biases and the output layer are not penalised; the factor 1/2 is ``tf.nn.l2_loss``'s,
    as in the information-plane reference code (which uses l2 = 0.015).
    """
    loss = nn.functional.cross_entropy(model(x), y)
    if l2 > 0:
        loss = loss + 0.5 * l2 * sum((lin.weight**2).sum() for lin in model.hidden_linears)
    return loss


@torch.no_grad()
def _evaluate(model: MLP, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y).item()
    acc = (logits.argmax(dim=1) == y).float().mean().item()
    return loss, acc


def train_run(run: dict, dataset_path: str | os.PathLike, output: str | os.PathLike, device: str = "cpu") -> Path:
    """Train one network as described by a resolved run configuration and write its activation file.

    Parameters
    ----------
    run : dict
        Keys ``dataset`` (``name``, ``test_fraction``, ``split_seed``), ``architecture.hidden_widths``, ``activation``,
        ``initialisation`` (``scheme`` plus its parameters), ``seed``, ``training``
        (``optimizer``, ``learning_rate``, ``batch_size``, ``epochs``, ``l2``,
        optional ``momentum``) and ``snapshots.count``.
    dataset_path : path
        ``.npz`` dataset written by :func:`layerinfo.datasets.save_dataset`.
    output : path
        Activation file to write (see :mod:`layerinfo.h5io`); written atomically.
    device : str
        Torch device for training.

    Notes
    -----
    The loss is :func:`training_loss`.
    The recorded history holds the cross-entropy alone, evaluated on the full
    train and test splits after each epoch (epoch 0 is the initialisation).
    On the CPU the same configuration gives bit-identical files.
    """
    data = read_dataset(dataset_path)
    name = run["dataset"]["name"]
    if data.name != name:
        raise ValueError(f"{dataset_path}: holds dataset {data.name!r}, but the run asks for {name!r}")
    train_idx, test_idx = train_test_split(len(data.labels), run["dataset"]["test_fraction"], run["dataset"]["split_seed"])

    training = run["training"]
    seed = int(run["seed"])
    torch_device = torch.device(device)
    model = MLP(data.inputs.shape[1], list(run["architecture"]["hidden_widths"]), data.n_classes, run["activation"])
    init = dict(run["initialisation"])
    scheme = init.pop("scheme")
    init.pop("name", None)
    init_network(list(model.linears), scheme, _derived_seed(seed, 0), **init)
    model.to(torch_device)
    optimizer = _make_optimizer(model.parameters(), training)
    batch_order = torch.Generator().manual_seed(_derived_seed(seed, 1))

    x_all = torch.as_tensor(data.inputs, dtype=torch.float32, device=torch_device)
    y_all = torch.as_tensor(data.labels, dtype=torch.int64, device=torch_device)
    x_train, y_train = x_all[train_idx], y_all[train_idx]
    x_test, y_test = x_all[test_idx], y_all[test_idx]
    train_mask = np.zeros(len(data.labels), dtype=bool)
    train_mask[train_idx] = True

    epochs = int(training["epochs"])
    batch_size = int(training["batch_size"])
    l2 = float(training.get("l2", 0.0))
    snapshots = snapshot_epochs(epochs, int(run["snapshots"]["count"]))
    snapshot_at = {int(e): i for i, e in enumerate(snapshots)}
    history = {k: np.full(epochs + 1, np.nan) for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    history["epoch"] = np.arange(epochs + 1)

    attrs = {
        "config": run,
        "config_hash": config_hash(run),
        "seed": seed,
        "package_version": layerinfo.__version__,
        "torch_version": torch.__version__,
        "device": str(torch_device),
        "dataset": name,
    }
    with ActivationWriter(
        output,
        epochs=snapshots,
        layers=model.layer_specs(),
        probe_indices=np.arange(len(data.labels)),
        probe_labels=data.labels,
        probe_train_mask=train_mask,
        attrs=attrs,
    ) as writer:

        def record(epoch: int) -> None:
            model.eval()
            history["train_loss"][epoch], history["train_acc"][epoch] = _evaluate(model, x_train, y_train)
            history["test_loss"][epoch], history["test_acc"][epoch] = _evaluate(model, x_test, y_test)
            if not np.isfinite(history["train_loss"][epoch]):
                raise TrainingDivergedError(
                    f"run {run.get('run', '?')}: training loss is {history['train_loss'][epoch]} at epoch {epoch}; "
                    "lower training.learning_rate or check the initialisation scale"
                )
            if epoch in snapshot_at:
                with torch.no_grad():
                    _, layers = model.forward_layers(x_all)
                writer.write_snapshot(snapshot_at[epoch], [t.cpu().numpy() for t in layers])

        record(0)
        n_train = len(y_train)
        for epoch in progress(range(1, epochs + 1), desc=f"train {run.get('run', '')}", total=epochs):
            model.train()
            order = torch.randperm(n_train, generator=batch_order).to(torch_device)
            for start in range(0, n_train, batch_size):
                batch = order[start : start + batch_size]
                loss = training_loss(model, x_train[batch], y_train[batch], l2)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            record(epoch)
        writer.write_history(history)
    log.info(
        "finished %s: train_acc=%.4f test_acc=%.4f after %d epochs",
        run.get("run", ""), history["train_acc"][-1], history["test_acc"][-1], epochs,
    )
    return Path(output)
