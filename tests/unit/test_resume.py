"""A killed training job resumes from its checkpoint and ends with files bit-identical to an
uninterrupted run, on every path that checkpoints (S2's ensembles, S3's trained networks; S1's
RBMs and S4's chains keep no checkpoint: a killed job reruns from the start). The reference is
trained by the same subprocess script as the killed attempts, the files must record that a resume
happened (and from which epochs), and the comparison reports the first differing epoch of every
dataset. Planted faults (a checkpoint ignored, a batch-order generator left unrestored) must fail.
"""

import copy
import json
import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from layerinfo.datasets import load_dataset, save_dataset
from layerinfo.h5io import MIXED_ARITHMETIC, UNIFORM_ARITHMETIC, open_activations
from layerinfo.training import snapshot_epochs
from layerinfo.workflow.killtest import first_differences

RUN = {
    "dataset": {"name": "tishby", "test_fraction": 0.2, "split_seed": 0},
    "architecture": {"hidden_widths": [10, 7, 5, 4, 3]},
    "activation": "tanh",
    "initialisation": {"name": "tn", "scheme": "truncated_normal", "gain": 1.0},
    "training": {"optimizer": "adam", "learning_rate": 0.004, "batch_size": 256, "epochs": 800},
    "snapshots": {"count": 30},
}

# The attempts of one run, each a forked child of this script (which imports torch once and
# computes nothing itself, so every child starts from a clean process): train, resuming from the
# checkpoint if there is one, and, if told, kill itself with SIGKILL at a given epoch and phase.
# Prints each attempt's end (an exit code, or -signal). Faults are planted here, not in the package.
TRAIN = r"""
import json, os, signal, sys, traceback
from layerinfo import training

spec = json.loads(sys.argv[1])


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def attempt(kill, fault):
    training.torch.set_num_threads(1)  # as a workflow job (and no spinning threads on a busy machine)
    cls = training._EnsembleTraining

    def wrap(name, when):
        original = getattr(cls, name)

        def wrapped(self, *args, **kwargs):
            when(args, "before")
            result = original(self, *args, **kwargs)
            when(args, "after")
            return result

        setattr(cls, name, wrapped)

    if fault == "ignore_checkpoint":
        training._load_checkpoint = lambda *args, **kwargs: None
    if fault == "generator":
        resume = cls.resume

        def resume_without_generators(self, state):
            fresh = [g.get_state() for g in self.batch_orders]
            epoch = resume(self, state)
            for g, s in zip(self.batch_orders, fresh):
                g.set_state(s)
            return epoch

        cls.resume = resume_without_generators
    if kill:
        epoch, phase = kill
        # record: epoch trained, nothing recorded; snapshot: recorded (a snapshot written at a
        # snapshot epoch), no checkpoint yet; saving: files flushed, the checkpoint not yet
        # replaced; checkpoint: just after it; finish: all trained, histories not yet written
        if phase in ("record", "snapshot"):
            moment = "before" if phase == "record" else "after"
            wrap("record", lambda a, at: die() if a[0] == epoch and at == moment else None)
        elif phase == "saving":
            wrap("save_checkpoint", lambda a, at: ([w.flush() for w in a[3]], die()) if a[2] == epoch else None)
        elif phase == "checkpoint":
            wrap("save_checkpoint", lambda a, at: die() if a[2] == epoch and at == "after" else None)
        elif phase == "finish":
            wrap("write_histories", lambda a, at: die())
    training.train_runs(spec["runs"], spec["dataset"], spec["outputs"], checkpoint=spec["checkpoint"],
                        checkpoint_seconds=spec.get("checkpoint_seconds", 0.0))


ends = []
for kill in spec["kills"]:
    pid = os.fork()
    if pid == 0:
        try:
            attempt(kill, spec.get("fault"))
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    ends.append(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
print(json.dumps(ends))
"""


def _tishby_runs(epochs=800, count=30, activation="tanh", l2=0.0):
    runs = []
    for seed in (0, 1):
        run = copy.deepcopy(RUN)
        run["training"].update(epochs=epochs, l2=l2)
        run["snapshots"]["count"] = count
        run.update(seed=seed, run=f"{activation}-s{seed}", activation=activation)
        runs.append(run)
    return runs


def _isometry_runs(epochs):
    """S3's trained networks (digits, SGD with momentum, Gaussian and orthogonal at criticality)."""
    from layerinfo.isometry.study import training_runs

    section = {
        "nonlinearity": "tanh", "sigma_b": 0.05,
        "training": {
            "dataset": {"name": "digits", "test_fraction": 0.2, "split_seed": 0}, "depth": 3, "width": 16,
            "seeds": [0], "snapshots": {"count": 8},
            "initialisations": {"gc": {"scheme": "gaussian", "sigma_w": "critical"},
                                "oc": {"scheme": "orthogonal", "sigma_w": "critical"}},
            "optimisation": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "batch_size": 64,
                             "epochs": epochs, "l2": 0.0},
        },
    }
    return training_runs(section)


def _dataset(tmp_path, name):
    path = tmp_path / f"{name}.npz"
    if not path.exists():
        save_dataset(load_dataset(name), path)
    return path


def _attempts(spec, kills, env=None, **extra):
    """Run the attempts ``kills`` (``None``: to the end) one after another in one process; their ends."""
    proc = subprocess.run([sys.executable, "-c", TRAIN, json.dumps({**spec, "kills": kills, **extra})],
                          capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1]), proc.stderr


def _train(spec, **extra):
    ends, _ = _attempts(spec, [None], **extra)
    assert ends == [0]


def _spec(tmp_path, name, runs, dataset):
    folder = tmp_path / name
    return {"runs": runs, "dataset": str(dataset), "checkpoint": str(folder / ".checkpoint.pt"),
            "outputs": [str(folder / f"s{k}" / "activations.h5") for k in range(len(runs))]}


def killed_run(tmp_path, name, runs, dataset, kills, fault=None):
    """Train once per kill point, each attempt killing itself there, then once to the end."""
    spec = _spec(tmp_path, name, runs, dataset)
    ends, log = _attempts(spec, [*kills, None], fault=fault)
    assert ends == [-signal.SIGKILL] * len(kills) + [0], f"attempts ended {ends} (kills at {kills}):\n{log[-3000:]}"
    assert not os.path.exists(spec["checkpoint"])
    assert not list((tmp_path / name).rglob("*.partial"))
    return spec["outputs"]


def resumed_epoch(kill):
    """Where the attempt after a kill at ``(epoch, phase)`` resumes (a checkpoint every epoch)."""
    epoch, phase = kill
    return epoch if phase == "checkpoint" else epoch - 1


def expected_resumes(kills):
    """The epochs the files should record as resumed from: a kill before the first checkpoint
    means a fresh start, which forgets the attempts before it."""
    resumes = []
    for kill in kills:
        epoch = resumed_epoch(kill)
        resumes = resumes + [epoch] if epoch > 0 else []
    return resumes


def check_resumed(reference, outputs, kills):
    """The files record one attempt per kill plus the last, resumed where expected, and equal the
    reference in every dataset; raises AssertionError listing every difference."""
    expected = expected_resumes(kills)
    problems = []
    for ref, out in zip(reference, outputs):
        with open_activations(out) as f:
            if f.resumed_from != expected:
                problems.append(f"{out}: resumed from epochs {f.resumed_from}, expected {expected} "
                                f"({len(f.attempts)} attempts recorded)")
            if f.arithmetic != UNIFORM_ARITHMETIC:
                problems.append(f"{out}: arithmetic {f.arithmetic!r}")
        problems += [f"{out}: {p}" for p in first_differences(ref, out)]
    assert not problems, "\n".join(problems)


def _kill_points(epochs, count, last):
    """Kill points near snapshot and checkpoint epochs: each phase once, increasing epochs."""
    snaps = [int(e) for e in snapshot_epochs(epochs, count) if 1 < e < epochs]
    mid, late = snaps[len(snaps) // 2], snaps[-1]
    points = [(1, "record"), (snaps[1], "snapshot"), (snaps[1] + 1, "checkpoint"), (mid, "saving"),
              (mid + 2, "snapshot"), (late, "record"), (late + 1, "checkpoint")]
    points = sorted(set(p for p in points if p[0] < epochs), key=lambda p: (p[0], p[1] != "record"))
    points += [(epochs, "finish")] if last else []
    # each attempt must reach its kill point: past the epoch the previous one resumes from
    kept = [points[0]]
    for point in points[1:]:
        if point[0] > resumed_epoch(kept[-1]):
            kept.append(point)
    return kept


PATHS = {
    # S2: Tishby task, ensemble of two, Adam, a new batch order every epoch
    "information_plane": (lambda: _tishby_runs(epochs=60, count=20), "tishby"),
    # S3: trained deep tanh nets on digits, SGD with momentum, Gaussian and orthogonal
    "isometry_trained": (lambda: _isometry_runs(epochs=30), "digits"),
}


@pytest.mark.parametrize("path", list(PATHS))
def test_kills_at_every_phase_resume_to_identical_files(tmp_path, path):
    make_runs, data = PATHS[path]
    runs, dataset = make_runs(), _dataset(tmp_path, data)
    epochs, count = runs[0]["training"]["epochs"], runs[0]["snapshots"]["count"]
    kills = _kill_points(epochs, count, last=True)
    assert len(kills) >= 6
    reference = _spec(tmp_path, "reference", runs, dataset)
    _train(reference)
    outputs = killed_run(tmp_path, "killed", runs, dataset, kills)
    check_resumed(reference["outputs"], outputs, kills)


@pytest.mark.parametrize("fault", ["ignore_checkpoint", "generator"])
def test_planted_fault_fails_the_resume_check(tmp_path, fault):
    """The check above is not vacuous: with a checkpoint ignored no resume is recorded (the files
    are still identical: that is why the resume itself is asserted); with the batch-order
    generators left unrestored the data differ from the resumed epoch on."""
    runs, dataset = _tishby_runs(epochs=30, count=10), _dataset(tmp_path, "tishby")
    kills = [(12, "checkpoint")]
    reference = _spec(tmp_path, "reference", runs, dataset)
    _train(reference)
    outputs = killed_run(tmp_path, "killed", runs, dataset, kills, fault=fault)
    with pytest.raises(AssertionError) as failure:
        check_resumed(reference["outputs"], outputs, kills)
    report = str(failure.value)
    print(f"planted fault {fault}:\n{report}")
    if fault == "ignore_checkpoint":
        assert "resumed from epochs [], expected [12]" in report
    else:
        # the first epoch trained after the resume is the first to differ, in loss and layers
        assert "history/train_loss: " in report and "first at epoch 13" in report
        assert "layers/0/activations" in report


@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() == "DEFAULT",
                    reason="this CPU already runs ATen's default code path: nothing to switch from")
@pytest.mark.parametrize("allowed", [False, True])
def test_checkpoint_of_another_code_path_is_not_silently_resumed(tmp_path, allowed):
    """A checkpoint written under ATEN_CPU_CAPABILITY=default (another CPU code path, as after a
    move to another node type) restarts from epoch 0 with the reason, or, with the switch,
    resumes and the files say that they are not bit-identical."""
    runs, dataset = _tishby_runs(epochs=20, count=6), _dataset(tmp_path, "tishby")
    spec = _spec(tmp_path, "run", runs, dataset)
    other = {"ATEN_CPU_CAPABILITY": "default"}
    assert _attempts(spec, [(10, "checkpoint")], env=other)[0] == [-signal.SIGKILL]
    env = {"LAYERINFO_RESUME_ON_OTHER_ARITHMETIC": "1" if allowed else "0"}
    ends, log = _attempts(spec, [None], env=env)
    assert ends == [0], log[-3000:]
    assert "checkpoint written on other arithmetic (cpu_capability: DEFAULT -> " in log
    from layerinfo.claims import with_arithmetic
    from layerinfo.tables import histories

    with open_activations(spec["outputs"][0]) as f:
        capabilities = [a["fingerprint"]["cpu_capability"] for a in f.attempts]
        resumed_from, arithmetic = f.resumed_from, f.arithmetic
    label = "config.yaml@0123456789ab"
    # the history table and the claims' provenance built from it say what the files say
    provenance = with_arithmetic(label, histories(spec["outputs"])["arithmetic"])
    if allowed:
        assert resumed_from == [10] and capabilities[0] == "DEFAULT" and capabilities[1] != "DEFAULT"
        assert arithmetic == MIXED_ARITHMETIC
        assert provenance == f"{label}; resumed on different arithmetic; not bit-identical"
    else:
        assert "starting from epoch 0" in log
        # the checkpoint's attempts are dropped with it: a fresh start on this code path
        assert resumed_from == [] and capabilities != ["DEFAULT"] and arithmetic == UNIFORM_ARITHMETIC
        assert provenance == label


def test_checkpoint_of_other_settings_is_ignored(tmp_path, caplog):
    from layerinfo.training import train_runs

    dataset = _dataset(tmp_path, "tishby")
    runs = _tishby_runs(epochs=5)
    checkpoint = tmp_path / "ckpt.pt"
    checkpoint.write_bytes(b"not a checkpoint")
    out = train_runs(runs, dataset, [tmp_path / f"a{k}.h5" for k in range(2)], checkpoint=checkpoint)
    ref = train_runs(runs, dataset, [tmp_path / f"b{k}.h5" for k in range(2)])
    assert "unreadable checkpoint" in caplog.text
    assert not checkpoint.exists()
    assert first_differences(ref[0], out[0]) == []
    with open_activations(out[0]) as f:
        assert f.resumed_from == [] and len(f.attempts) == 1


def test_checkpoint_of_the_old_parameter_layout_is_discarded(tmp_path, caplog):
    """A checkpoint written before the feature-major layout (its key lacks the layout version, its
    weights are (M, in, out)) is discarded with a warning, never loaded."""
    from layerinfo.training import CHECKPOINT_LAYOUT, config_hash, train_runs

    dataset = _dataset(tmp_path, "tishby")
    runs = _tishby_runs(epochs=5)
    outputs = [tmp_path / f"a{k}.h5" for k in range(2)]
    checkpoint = tmp_path / "ckpt.pt"
    old_key = config_hash({"runs": runs, "outputs": [str(o) for o in outputs]})  # the key before layout 2
    widths = [12, 10, 7, 5, 4, 3, 2]
    old_model = {f"weights.{l}": torch.zeros(2, a, b) for l, (a, b) in enumerate(zip(widths[:-1], widths[1:]))}
    torch.save({"key": old_key, "epoch": 3, "model": old_model, "digests": [{}, {}]}, checkpoint)
    assert CHECKPOINT_LAYOUT >= 2
    out = train_runs(runs, dataset, outputs, checkpoint=checkpoint)
    ref = train_runs(runs, dataset, [tmp_path / f"b{k}.h5" for k in range(2)])
    assert "checkpoint of other runs or settings; starting from epoch 0" in caplog.text
    assert not checkpoint.exists()
    for a, b in zip(out, ref):
        assert first_differences(a, b) == []


def test_first_differences_names_every_dataset_and_its_first_epoch(tmp_path):
    """The comparison itself: a nudge at one epoch is reported in each dataset it touches."""
    from layerinfo.training import train_runs

    dataset = _dataset(tmp_path, "tishby")
    runs = _tishby_runs(epochs=8, count=8)
    (ref,) = train_runs(runs[:1], dataset, [tmp_path / "a.h5"])
    (out,) = train_runs(runs[:1], dataset, [tmp_path / "b.h5"])
    with h5py.File(out, "r+") as f:
        f["history/test_acc"][5] += 1e-9
        f["layers/2/activations"][3, 0, 0] += 1e-3
    found = first_differences(ref, out)
    epochs = snapshot_epochs(8, 8)
    assert found == ["history/test_acc: 1 of 9 rows differ, first at epoch 5",
                     f"layers/2/activations: 1 of {len(epochs)} rows differ, first at epoch {epochs[3]} (snapshot 3)"]
