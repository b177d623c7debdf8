"""Training fully connected classifiers and recording their layers at snapshot epochs."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import platform
import re
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import layerinfo
from layerinfo.datasets import read_dataset, train_test_split
from layerinfo.h5io import MIXED_ARITHMETIC, ActivationWriter, atomic_path, verify_partial
from layerinfo.init import init_network, resolve_gain
from layerinfo.models import MLP, PRELU_INIT, MLPEnsemble
from layerinfo.progress import progress

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "sgd")
# Version of the parameter layout in checkpoints: a checkpoint of another layout is discarded.
# 2: feature-major MLPEnsemble, weights (M, out, in) and biases (M, out, 1).
CHECKPOINT_LAYOUT = 2


# Environment switch that lets a checkpoint written on other arithmetic be resumed (the files
# then say so); the workflow sets it from runtime.resume_on_other_arithmetic.
RESUME_SWITCH = "LAYERINFO_RESUME_ON_OTHER_ARITHMETIC"


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
    """Adam or SGD, fused into one kernel per step where torch has it for the device.

    Fused and per-tensor updates compute the same element-wise formula; fusing saves
    launching a dozen small operations per parameter tensor at every step.
    """
    name = training["optimizer"]
    options = {"lr": training["learning_rate"]}
    if name == "adam":
        optimizer = torch.optim.Adam
    elif name == "sgd":
        optimizer, options["momentum"] = torch.optim.SGD, training.get("momentum", 0.0)
    else:
        raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")
    params = list(params)
    try:
        return optimizer(params, fused=True, **options)
    except (RuntimeError, ValueError, TypeError):  # no fused kernel for this device or torch
        return optimizer(params, **options)


def training_loss(model: MLPEnsemble, x: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    """Sum over members of: mean cross-entropy + ``l2 * sum(W**2) / 2`` over hidden weights.

    ``x (M, in, batch)`` (feature-major, see :class:`~layerinfo.models.MLPEnsemble`),
    ``y (M, batch)``. Biases and the output layer are not penalised; the factor 1/2 is
    ``tf.nn.l2_loss``'s, as in the information-plane reference code (l2 = 0.015). Summing
    over members leaves each member's gradient its own.
    """
    per_member = nn.functional.cross_entropy(model(x), y, reduction="none").mean(dim=1)
    if l2 > 0:
        per_member = per_member + 0.5 * l2 * sum((w**2).sum(dim=(1, 2)) for w in model.hidden_weights())
    return per_member.sum()


@torch.no_grad()
def evaluate_all(model: MLPEnsemble, x_all: torch.Tensor, y_all: torch.Tensor, splits: dict, layers: bool = False):
    """One forward over every sample, scored per split.

    ``x_all (in, N)`` feature-major, ``y_all (N,)``, ``splits`` name -> sample indices.
    Returns ``({name: (loss (M,), accuracy (M,))}, layers or None)``: the per-member mean
    cross-entropy and accuracy over each split, and with ``layers=True`` the recorded layers
    ``(M, units, N)`` of the same forward.
    """
    if layers:
        logits, values = model.forward_layers(x_all)
    else:
        logits, values = model(x_all), None
    m, n = logits.shape[0], logits.shape[2]
    y = y_all.expand(m, -1)
    loss = nn.functional.cross_entropy(logits, y, reduction="none")
    # argmax over the short middle axis is ~20x slower than over a contiguous last one
    correct = (logits.transpose(1, 2).contiguous().argmax(dim=2) == y).float()
    # every split's mean as one product with (N, splits) weights 1/n_split (gathering each
    # split took longer than the product); in float64, so no less exact than a float32 mean
    weights = torch.zeros(n, len(splits), dtype=torch.float64, device=logits.device)
    for j, idx in enumerate(splits.values()):
        weights[idx, j] = 1.0 / len(idx)
    means = (torch.cat([loss, correct]).double() @ weights).cpu().numpy()
    return {name: (means[:m, j], means[m:, j]) for j, name in enumerate(splits)}, values


# Keys that every member of one ensemble must share (seed and initialisation may differ).
SHARED_KEYS = ("dataset", "architecture", "activation", "training", "snapshots")


def _member(run: dict, n_inputs: int, n_classes: int) -> MLP:
    architecture = run["architecture"]
    model = MLP(n_inputs, list(architecture["hidden_widths"]), n_classes, run["activation"],
                architecture.get("prelu_init", PRELU_INIT))
    init = resolve_gain(dict(run["initialisation"]), run["activation"])
    scheme = init.pop("scheme")
    init.pop("name", None)
    init_network(list(model.linears), scheme, _derived_seed(int(run["seed"]), 0), **init)
    return model


def train_run(run: dict, dataset_path: str | os.PathLike, output: str | os.PathLike, device: str = "cpu",
              compression: str = "none") -> Path:
    """Train one network and write its activation file; see :func:`train_runs`."""
    return train_runs([run], dataset_path, [output], device, compression=compression)[0]


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """SHA-256 (16 hex digits) of the package's Python source, file by file in sorted order."""
    root = Path(layerinfo.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _cpu_vendor() -> str:
    # MKL takes other kernels on other vendors' CPUs at the same instruction set
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    found = re.search(r"^vendor_id\s*:\s*(\S+)", text, re.M)
    return found.group(1) if found else platform.machine()


def arithmetic_fingerprint(device: str = "cpu") -> dict[str, str]:
    """What decides the floating-point results of training here, as strings.

    torch's version, the CPU kernels ATen dispatches to (``get_cpu_capability()``: AVX512,
    AVX2, DEFAULT; ``ATEN_CPU_CAPABILITY`` changes it), the BLAS/LAPACK torch was built with and
    MKL's conditional-numerical-reproducibility branch (``MKL_CBWR``, ``MKL_ENABLE_INSTRUCTIONS``),
    the CPU vendor, the device (with the GPU's name and the CUDA/cuDNN versions), and the
    package's version and source hash. Two processes with equal fingerprints train
    bit-identically; a checkpoint is resumed only under the fingerprint that wrote it.
    """
    config = torch.__config__.show()
    build = dict(re.findall(r"(BLAS_INFO|LAPACK_INFO)=([^,\s]+)", config))
    mkl = re.search(r"Math Kernel Library Version ([^\s-]+)", config)
    fingerprint = {
        "torch": str(torch.__version__),
        "cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
        "cpu_vendor": _cpu_vendor(),
        "blas": build.get("BLAS_INFO", "unknown"),
        "lapack": build.get("LAPACK_INFO", "unknown"),
        "mkl": mkl.group(1) if mkl else "none",
        "mkl_cbwr": os.environ.get("MKL_CBWR", ""),
        "mkl_instructions": os.environ.get("MKL_ENABLE_INSTRUCTIONS", ""),
        "device": str(torch.device(device)),
        "package": layerinfo.__version__,
        "source": source_hash(),
    }
    if torch.device(device).type == "cuda":
        fingerprint.update(gpu=torch.cuda.get_device_name(torch.device(device)), cuda=str(torch.version.cuda),
                           cudnn=str(torch.backends.cudnn.version()))
    return fingerprint


def fingerprint_difference(old: dict | None, new: dict) -> str:
    """``key: old -> new`` for every entry that differs (for the log)."""
    if not isinstance(old, dict):
        return "the checkpoint records no arithmetic fingerprint"
    keys = sorted(set(old) | set(new))
    return "; ".join(f"{k}: {old.get(k, '-')} -> {new.get(k, '-')}" for k in keys if old.get(k) != new.get(k))


def resume_switch() -> bool:
    """True when :data:`RESUME_SWITCH` is set to 1/true/yes in the environment."""
    return os.environ.get(RESUME_SWITCH, "").strip().lower() in ("1", "true", "yes")


def _load_checkpoint(checkpoint: Path, key: str, outputs: list, fingerprint: dict | None = None,
                     allow_other_arithmetic: bool = False) -> dict | None:
    """The checkpoint's state if it belongs to these runs, was written on this arithmetic (or
    ``allow_other_arithmetic``), and the partial files verify."""
    if not checkpoint.exists():
        return None
    try:
        state = torch.load(checkpoint, weights_only=True)
    except Exception as err:  # a checkpoint is disposable: any damage means starting over
        log.warning("%s: unreadable checkpoint (%s); starting from epoch 0", checkpoint, err)
        return None
    if state.get("key") != key:
        log.warning("%s: checkpoint of other runs or settings; starting from epoch 0", checkpoint)
        return None
    if fingerprint is not None and state.get("fingerprint") != fingerprint:
        difference = fingerprint_difference(state.get("fingerprint"), fingerprint)
        if not allow_other_arithmetic:
            log.warning("%s: checkpoint written on other arithmetic (%s); starting from epoch 0 so that the "
                        "files are bit-identical to an uninterrupted run (set runtime.resume_on_other_arithmetic "
                        "or %s=1 to resume anyway)", checkpoint, difference, RESUME_SWITCH)
            return None
        log.warning("%s: checkpoint written on other arithmetic (%s); resuming as allowed: the files will say "
                    "%r", checkpoint, difference, MIXED_ARITHMETIC)
    for output, digests in zip(outputs, state["digests"]):
        if not verify_partial(output, digests):
            log.warning("%s: partial file does not match the checkpoint; starting from epoch 0", output)
            return None
    return state


def train_runs(
    runs: list[dict],
    dataset_path: str | os.PathLike,
    outputs: list,
    device: str = "cpu",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_seconds: float = 300.0,
    compression: str = "none",
    resume_on_other_arithmetic: bool | None = None,
) -> list[Path]:
    """Train several networks side by side (one per run) and write one activation file each.

    Parameters
    ----------
    runs : list of dict
        Resolved run configurations with keys ``dataset`` (``name``, ``test_fraction``,
        ``split_seed``), ``architecture.hidden_widths``, ``activation``, ``initialisation``
        (``scheme`` plus its parameters), ``seed``, ``training`` (``optimizer``,
        ``learning_rate``, ``batch_size``, ``epochs``, ``l2``, optional ``momentum``) and
        ``snapshots.count``. All but ``seed``, ``initialisation`` and the names must agree.
    dataset_path : path
        ``.npz`` dataset written by :func:`layerinfo.datasets.save_dataset`.
    outputs : list of paths
        Activation file of each run (see :mod:`layerinfo.h5io`), written atomically.
    device : str
        Torch device for training.
    checkpoint : path, optional
        Where to keep a checkpoint (model, optimiser, batch-order generators, history and
        the digests of the snapshots written so far). If it exists and belongs to the same
        runs, training resumes from it and the files come out bit-identical to those of an
        uninterrupted run; it is removed when training completes.
    checkpoint_seconds : float
        Minimum wall time between checkpoints (0: after every epoch).
    compression : str
        HDF5 compression of the activation datasets: ``none``, ``lzf`` or ``gzip`` (see
        :class:`~layerinfo.h5io.ActivationWriter`); the values stored are the same.
    resume_on_other_arithmetic : bool, optional
        A checkpoint carries the :func:`arithmetic_fingerprint` of the process that wrote it.
        Under another fingerprint training restarts from epoch 0 (logging why), unless this is
        true (default: the environment switch :data:`RESUME_SWITCH`): then it resumes, and the
        files' ``arithmetic`` attribute says "resumed on different arithmetic; not bit-identical".
        Every file records each attempt's start epoch and fingerprint (``attempts``).

    Notes
    -----
    Each member is initialised from its own seed and draws its own batch order, exactly as
    when trained alone, and the members are batched with
    :class:`~layerinfo.models.MLPEnsemble`. The same list of runs gives bit-identical files
    on the CPU. A member trained in a different ensemble (or alone) differs only by the
    rounding of the batched matrix products, whose kernels depend on memory alignment
    (about 1e-10 in a first gradient; see the tests for the tolerance after training).
    The loss is :func:`training_loss`; the recorded history holds the cross-entropy alone,
    evaluated on the full train and test splits after each epoch (epoch 0 is the
    initialisation), from one forward over all samples that also gives the snapshots.
    """
    _check_ensemble(runs, outputs)
    job = _EnsembleTraining(runs, dataset_path, device)
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    key = config_hash({"runs": runs, "outputs": [str(o) for o in outputs], "layout": CHECKPOINT_LAYOUT,
                       "compression": compression})
    if resume_on_other_arithmetic is None:
        resume_on_other_arithmetic = resume_switch()
    fingerprint = arithmetic_fingerprint(device)
    state = (_load_checkpoint(checkpoint, key, outputs, fingerprint, resume_on_other_arithmetic)
             if checkpoint is not None else None)
    start_epoch = job.resume(state) if state is not None else 0
    # every attempt that wrote these files: where it started and on what arithmetic
    attempts = [*(state.get("attempts", []) if state is not None else []),
                {"start_epoch": start_epoch, "fingerprint": fingerprint}]

    with contextlib.ExitStack() as stack:
        writers = job.open_writers(stack, outputs, compression, resumable=checkpoint is not None, state=state)
        last_checkpoint = time.monotonic()
        try:
            if start_epoch == 0:
                job.record(0, writers)
            for epoch in progress(range(start_epoch + 1, job.epochs + 1), desc=f"train {job.label}",
                                  total=job.epochs - start_epoch):
                job.train_epoch()
                job.record(epoch, writers)
                if (checkpoint is not None and epoch < job.epochs
                        and time.monotonic() - last_checkpoint >= checkpoint_seconds):
                    job.save_checkpoint(checkpoint, key, epoch, writers, fingerprint, attempts)
                    last_checkpoint = time.monotonic()
        except Exception:
            if checkpoint is not None:  # an error, not an interruption: nothing to resume
                checkpoint.unlink(missing_ok=True)
            raise
        job.write_histories(writers)
        for writer in writers:
            writer.write_attempts(attempts)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    job.log_finished()
    return [Path(p) for p in outputs]


def _check_ensemble(runs: list[dict], outputs: list) -> None:
    if len(runs) != len(outputs) or not runs:
        raise ValueError(f"need one output per run, got {len(runs)} runs and {len(outputs)} outputs")
    for run in runs[1:]:
        differing = [k for k in SHARED_KEYS if run[k] != runs[0][k]]
        if differing:
            raise ValueError(f"runs {runs[0].get('run')} and {run.get('run')} differ in {', '.join(differing)}; "
                             "an ensemble shares everything but the seed and initialisation")


class _EnsembleTraining:
    """The state of one :func:`train_runs` call: data on the device, the ensemble, its optimiser,
    the members' batch-order generators and the history, with one method per step."""

    def __init__(self, runs: list[dict], dataset_path, device: str):
        self.runs = runs
        first = runs[0]
        data = read_dataset(dataset_path)
        name = first["dataset"]["name"]
        if data.name != name:
            raise ValueError(f"{dataset_path}: holds dataset {data.name!r}, but the run asks for {name!r}")
        self.data, self.dataset_name = data, name
        train_idx, test_idx = train_test_split(
            len(data.labels), first["dataset"]["test_fraction"], first["dataset"]["split_seed"],
            first["dataset"].get("split", "random"),
        )

        training = first["training"]
        self.device = torch.device(device)
        members = [_member(r, data.inputs.shape[1], data.n_classes) for r in runs]
        self.model = MLPEnsemble(members).to(self.device)
        self.optimizer = _make_optimizer(self.model.parameters(), training)
        self.batch_orders = [torch.Generator().manual_seed(_derived_seed(int(r["seed"]), 1)) for r in runs]

        x_all = torch.as_tensor(data.inputs, dtype=torch.float32, device=self.device)
        self.y_all = torch.as_tensor(data.labels, dtype=torch.int64, device=self.device)
        self.x_features = x_all.T.contiguous()  # (in, N): the evaluation input shared by all members
        self.x_train, self.y_train = x_all[train_idx], self.y_all[train_idx]
        self.splits = {split: torch.as_tensor(idx, dtype=torch.int64, device=self.device)
                       for split, idx in (("train", train_idx), ("test", test_idx))}
        self.train_mask = np.zeros(len(data.labels), dtype=bool)
        self.train_mask[train_idx] = True

        self.epochs = int(training["epochs"])
        self.batch_size = int(training["batch_size"])
        self.l2 = float(training.get("l2", 0.0))
        self.shuffle = bool(training.get("shuffle", True))
        self.snapshots = snapshot_epochs(self.epochs, int(first["snapshots"]["count"]))
        self.snapshot_at = {int(e): i for i, e in enumerate(self.snapshots)}
        m = len(runs)
        self.history = {k: np.full((m, self.epochs + 1), np.nan)
                        for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
        self.label = first.get("run", "") if m == 1 else f"{m} networks ({first.get('activation')})"

    def resume(self, state: dict) -> int:
        """Restore model, optimiser, generators and history from a checkpoint; its epoch."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for generator, generator_state in zip(self.batch_orders, state["generators"]):
            generator.set_state(generator_state)
        for k in self.history:
            self.history[k][:] = state["history"][k].numpy()
        epoch = int(state["epoch"])
        log.info("resuming %s from the checkpoint at epoch %d of %d", self.label, epoch, self.epochs)
        return epoch

    def open_writers(self, stack: contextlib.ExitStack, outputs: list, compression: str, resumable: bool,
                     state: dict | None) -> list[ActivationWriter]:
        """One activation file per member, entered on ``stack`` (continued from ``state``)."""
        m = len(self.runs)
        return [
            stack.enter_context(ActivationWriter(
                output,
                epochs=self.snapshots,
                layers=self.model.layer_specs(),
                probe_indices=np.arange(len(self.data.labels)),
                probe_labels=self.data.labels,
                probe_train_mask=self.train_mask,
                compression=compression,
                resumable=resumable,
                resume=state["digests"][k] if state is not None else None,
                attrs={
                    "config": run,
                    "config_hash": config_hash(run),
                    "seed": int(run["seed"]),
                    "ensemble_size": m,
                    "package_version": layerinfo.__version__,
                    "torch_version": torch.__version__,
                    "device": str(self.device),
                    "dataset": self.dataset_name,
                },
            ))
            for k, (run, output) in enumerate(zip(self.runs, outputs))
        ]

    def train_epoch(self) -> None:
        """One pass over the training split, each member in its own batch order (or all in the
        split's own order, as the reference code's fixed sequential minibatches, without shuffle)."""
        m, n_train = len(self.runs), len(self.y_train)
        if self.shuffle:
            order = torch.stack([torch.randperm(n_train, generator=g) for g in self.batch_orders]).to(self.device)
        else:
            order = torch.arange(n_train, device=self.device).expand(m, n_train)
        # each member's epoch in its order, gathered at once (index_select: 4x faster than x[order])
        x_epoch = self.x_train.index_select(0, order.reshape(-1)).view(m, n_train, -1)
        y_epoch = self.y_train.take(order)
        for start in range(0, n_train, self.batch_size):
            stop = start + self.batch_size
            loss = training_loss(self.model, x_epoch[:, start:stop].transpose(1, 2), y_epoch[:, start:stop],
                                 self.l2)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

    def record(self, epoch: int, writers: list[ActivationWriter]) -> None:
        """Score every split into the history and, at a snapshot epoch, write every layer."""
        history = self.history
        scores, layers = evaluate_all(self.model, self.x_features, self.y_all, self.splits,
                                      layers=epoch in self.snapshot_at)
        for split, (loss, acc) in scores.items():
            history[f"{split}_loss"][:, epoch], history[f"{split}_acc"][:, epoch] = loss, acc
        bad = np.flatnonzero(~np.isfinite(history["train_loss"][:, epoch]))
        if bad.size:
            raise TrainingDivergedError(
                f"run {self.runs[bad[0]].get('run', '?')}: training loss is {history['train_loss'][bad[0], epoch]} "
                f"at epoch {epoch}; lower training.learning_rate or check the initialisation scale"
            )
        if layers is not None:
            # the files hold (N, units) per member: one transpose for all (numpy's is 2x torch's)
            values = [np.ascontiguousarray(t.cpu().numpy().transpose(0, 2, 1)) for t in layers]
            for k, writer in enumerate(writers):
                writer.write_snapshot(self.snapshot_at[epoch], [v[k] for v in values])

    def save_checkpoint(self, checkpoint: Path, key: str, epoch: int, writers: list[ActivationWriter],
                        fingerprint: dict, attempts: list[dict]) -> None:
        """Flush the files and save everything a resumed run needs to continue bit-identically."""
        for writer in writers:
            writer.flush()
        snapshot = {
            "key": key,
            "fingerprint": fingerprint,
            "attempts": attempts,
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generators": [g.get_state() for g in self.batch_orders],
            "history": {k: torch.from_numpy(v.copy()) for k, v in self.history.items()},
            "digests": [dict(writer.digests) for writer in writers],
        }
        with atomic_path(checkpoint, ".pt") as tmp:
            torch.save(snapshot, tmp)

    def write_histories(self, writers: list[ActivationWriter]) -> None:
        for k, writer in enumerate(writers):
            writer.write_history({"epoch": np.arange(self.epochs + 1),
                                  **{name: v[k] for name, v in self.history.items()}})

    def log_finished(self) -> None:
        for k, run in enumerate(self.runs):
            log.info("finished %s: train_acc=%.4f test_acc=%.4f after %d epochs", run.get("run", ""),
                     self.history["train_acc"][k, -1], self.history["test_acc"][k, -1], self.epochs)
