"""Training killed with SIGKILL at random moments resumes from its checkpoint and ends with files
bit-identical to an uninterrupted run."""

import copy
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

from layerinfo.datasets import load_dataset, save_dataset
from layerinfo.training import train_runs

RUN = {
    "dataset": {"name": "tishby", "test_fraction": 0.2, "split_seed": 0},
    "architecture": {"hidden_widths": [10, 7, 5, 4, 3]},
    "activation": "tanh",
    "initialisation": {"name": "tn", "scheme": "truncated_normal", "gain": 1.0},
    "training": {"optimizer": "adam", "learning_rate": 0.004, "batch_size": 256, "epochs": 800},
    "snapshots": {"count": 30},
}
TRAIN = """
import json, sys
from layerinfo.training import train_runs
spec = json.loads(sys.argv[1])
train_runs(spec["runs"], spec["dataset"], spec["outputs"], checkpoint=spec["checkpoint"], checkpoint_seconds=0.2)
"""


def _runs():
    runs = []
    for seed in (0, 1):
        run = copy.deepcopy(RUN)
        run.update(seed=seed, run=f"tanh-s{seed}")
        runs.append(run)
    return runs


def _written_since(path, moment):
    try:
        return path.stat().st_mtime > moment
    except FileNotFoundError:
        return False


def _datasets(path):
    with h5py.File(path) as f:
        names = []
        f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) else None)
        return {n: f[n][()] for n in names}


def test_killed_training_resumes_to_identical_files(tmp_path):
    dataset = tmp_path / "tishby.npz"
    save_dataset(load_dataset("tishby"), dataset)
    reference = train_runs(_runs(), dataset, [tmp_path / f"ref{k}.h5" for k in range(2)])

    outputs = [str(tmp_path / "run" / f"s{k}" / "activations.h5") for k in range(2)]
    checkpoint = tmp_path / "run" / ".checkpoint.pt"
    spec = json.dumps({"runs": _runs(), "dataset": str(dataset), "outputs": outputs, "checkpoint": str(checkpoint)})
    rng = np.random.default_rng(7)
    kills, resumed = 0, 0
    for _ in range(20):
        started = time.time()
        proc = subprocess.Popen([sys.executable, "-c", TRAIN, spec], stderr=subprocess.PIPE, text=True)
        # kill at a random moment after this attempt has written a checkpoint of its own
        while proc.poll() is None and kills < 3 and not _written_since(checkpoint, started):
            time.sleep(0.02)
        deadline = time.monotonic() + rng.uniform(0.0, 0.5)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None and kills < 3:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            resumed += checkpoint.exists()
            continue
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        break
    assert kills == 3, "training finished before it could be killed three times; make it longer"
    assert resumed >= 2, "no checkpoint was written before the kills"
    assert not checkpoint.exists()
    assert not list((tmp_path / "run").rglob("*.partial"))
    for ref, out in zip(reference, outputs):
        a, b = _datasets(ref), _datasets(out)
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_checkpoint_of_other_settings_is_ignored(tmp_path, caplog):
    dataset = tmp_path / "tishby.npz"
    save_dataset(load_dataset("tishby"), dataset)
    runs = _runs()
    for run in runs:
        run["training"]["epochs"] = 5
    checkpoint = tmp_path / "ckpt.pt"
    checkpoint.write_bytes(b"not a checkpoint")
    out = train_runs(runs, dataset, [tmp_path / f"a{k}.h5" for k in range(2)], checkpoint=checkpoint)
    ref = train_runs(runs, dataset, [tmp_path / f"b{k}.h5" for k in range(2)])
    assert "unreadable checkpoint" in caplog.text
    assert not checkpoint.exists()
    np.testing.assert_array_equal(_datasets(out[0])["layers/0/activations"], _datasets(ref[0])["layers/0/activations"])


def test_checkpoint_of_the_old_parameter_layout_is_discarded(tmp_path, caplog):
    """A checkpoint written before the feature-major layout (its key lacks the layout version, its
    weights are (M, in, out)) is discarded with a warning, never loaded."""
    import torch

    from layerinfo.training import CHECKPOINT_LAYOUT, config_hash

    dataset = tmp_path / "tishby.npz"
    save_dataset(load_dataset("tishby"), dataset)
    runs = _runs()
    for run in runs:
        run["training"]["epochs"] = 5
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
        np.testing.assert_array_equal(_datasets(a)["layers/0/activations"], _datasets(b)["layers/0/activations"])
