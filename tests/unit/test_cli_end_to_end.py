"""The layerinfo command end to end on a network the project does not define: a small CNN
(tests/digits_cnn.py; an in-place ReLU used twice, max pooling) trained 3 epochs on sklearn's bundled
digits with a checkpoint per epoch, recorded, imported back, estimated with intervals and
plotted, all through the command line (main(argv); one run as a subprocess)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

import digits_cnn
from digits_cnn import DigitsNet, build, digits_arrays, train_checkpoints
from layerinfo.cli.main import main
from layerinfo.h5io import open_activations

LAYERS = ["conv1", "act:0", "conv2", "act:1", "pool", "fc"]
BATCH = 64


def reference(net: DigitsNet, x: torch.Tensor) -> dict[str, np.ndarray]:
    """A plain forward pass, step by step, batch by batch (no hooks, nothing in place)."""
    parts = {name: [] for name in LAYERS}
    with torch.inference_mode():
        for start in range(0, len(x), BATCH):
            c1 = net.conv1(x[start:start + BATCH])
            a0 = F.relu(c1)
            c2 = net.conv2(a0)
            a1 = F.relu(c2)
            p = net.pool(a1)
            for name, v in zip(LAYERS, (c1, a0, c2, a1, p, net.fc(p.flatten(1)))):
                parts[name].append(v.reshape(len(v), -1).numpy())
    return {name: np.concatenate(v) for name, v in parts.items()}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one torch thread is faster, and much faster on a busy shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_thread):
    """Checkpoints of 3 epochs (SGD with momentum, 500 training digits) and a probe file with both splits."""
    root = tmp_path_factory.mktemp("digits")
    x, y = digits_arrays()
    train_checkpoints(root, build())
    np.savez(root / "probe.npz", x_train=x[:120], y_train=y[:120], x_test=x[1600:1660], y_test=y[1600:1660])
    return root, np.concatenate([x[:120], x[1600:1660]]), np.concatenate([y[:120], y[1600:1660]])


def cli(*argv):
    code = main([str(a) for a in argv])
    assert code == 0
    return code


def test_record_import_estimate_plot(trained, capsys):
    root, x, y = trained
    model = f"{Path(digits_cnn.__file__)}:build"
    cli("layers", "--model", model, "--data", root / "probe.npz")
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listing[1:]] == LAYERS
    assert listing[2].split() == ["act:0", "ReLU", "2", "4x8x8", "256", "in", "place"]

    cli("record", "--model", model, "--weights", root / "ckpt" / "epoch_*.pt", "--data", root / "probe.npz",
        "--batch-size", BATCH, "-o", root / "acts.h5")
    err = capsys.readouterr().err
    assert "act (ReLU) works in place" in err
    assert "6 layers, 180 samples x 1674 values x 3 epoch(s) = 3.4 MiB on disk" in err

    # every layer and call equals a plain forward pass, to the bit, at every epoch
    net = build()
    snapshots = {}
    with open_activations(root / "acts.h5") as f:
        assert [s["name"] for s in f.layers] == LAYERS
        np.testing.assert_array_equal(f.epochs, [1, 2, 3])
        np.testing.assert_array_equal(f.labels, y)
        np.testing.assert_array_equal(f.train_mask, np.arange(180) < 120)
        for e, epoch in enumerate(f.epochs):
            net.load_state_dict(torch.load(root / "ckpt" / f"epoch_{epoch}.pt", weights_only=True))
            expected = reference(net.eval(), torch.from_numpy(x))
            for l, name in enumerate(LAYERS):
                np.testing.assert_array_equal(f.activations(e, l), expected[name], err_msg=f"{name} epoch {epoch}")
            snapshots[int(epoch)] = expected

    # the same activations imported back from arrays give the same file contents
    arrays = {name.replace(":", "_"): np.stack([snapshots[e][name] for e in (1, 2, 3)]) for name in LAYERS}
    np.savez(root / "mine.npz", **arrays, y=y, epochs=np.array([1, 2, 3]), train_mask=np.arange(180) < 120)
    cli("import", root / "mine.npz", "-o", root / "imported.h5")
    with open_activations(root / "acts.h5") as a, open_activations(root / "imported.h5") as b:
        np.testing.assert_array_equal(a.train_mask, b.train_mask)
        for e in range(3):
            for l in range(6):
                np.testing.assert_array_equal(a.activations(e, l), b.activations(e, l))

    # estimate with intervals on both splits of the last two layers, then plot
    cli("estimate", root / "acts.h5", "--estimators", "ebab,kde_upper", "--layers", "pool", "fc", "--split",
        "train,test", "--interval", "0.9", "--repeats", "5", "-o", root / "table.csv")
    table = pd.read_csv(root / "table.csv")
    assert len(table) == 2 * 3 * 2 * 2  # split x epoch x layer x estimator
    assert set(table["n"]) == {120, 60} and set(table["subsample_m"]) == {60, 30}
    assert (table["I_XT_ci_low"] <= table["I_XT_ci_high"]).all()
    assert (table["I_TY_ci_low"] <= table["I_TY_ci_high"]).all()
    # I(T;Y) not above its shuffled-label null is said in the row, and only there
    below = table["I_TY_bits"] <= table["I_TY_null_bits"]
    said = table["warnings"].fillna("").str.contains("shuffled-label null")
    assert (below == said).all()
    assert ((table["I_TY_null_p"] * 6).round(9) % 1 == 0).all()  # (1 + count) / (1 + repeats)
    cli("plot", root / "table.csv", "-o", root / "figures")
    written = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in written) == sorted(
        f"infoplane_acts_{s}_{e}.png" for s in ("train", "test") for e in ("ebab", "kde_upper"))


def test_estimate_equals_the_workflow_rule_on_the_recorded_file(trained, capsys):
    """Same numbers as rules/estimate.smk (scripts/infoplane_estimate.py: estimate_run, then write_csv)."""
    from layerinfo.infoplane.estimate import estimate_run
    from layerinfo.tables import write_csv

    root, _, _ = trained
    acts = root / "acts.h5"
    if not acts.exists():
        cli("record", "--model", f"{Path(digits_cnn.__file__)}:build", "--weights", root / "ckpt" / "epoch_*.pt",
            "--data", root / "probe.npz", "--batch-size", BATCH, "-o", acts)
    estimators = {"ebab": {"method": "ebab", "n_bins": 30}, "kde_upper": {"method": "kde_upper", "noise_variance": 0.1},
                  "bins_fixed": {"method": "bins_fixed", "n_bins": 30}}
    write_csv(estimate_run(acts, estimators), root / "rule.csv")
    cli("estimate", acts, "--estimators", "ebab,kde_upper,bins_fixed", "-o", root / "cli.csv")
    rule = pd.read_csv(root / "rule.csv", dtype=str).set_index(["epoch", "layer", "estimator"]).sort_index()
    mine = pd.read_csv(root / "cli.csv", dtype=str).set_index(["epoch", "layer", "estimator"]).sort_index()
    assert len(rule) == len(mine) == 3 * 6 * 3
    assert (rule["params"] == mine["params"]).all()
    for column in ("I_XT_bits", "I_TY_bits"):
        clipped = rule[column].astype(float) < 0  # negative values are clipped and said so
        assert (rule.loc[~clipped, column] == mine.loc[~clipped, column]).all()  # identical text, 10 digits
        assert (mine.loc[clipped, column].astype(float) == 0).all()


def test_the_command_runs_as_a_program_and_fails_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-m", "layerinfo.cli", "import", str(tmp_path / "none.npz"),
                             "-o", str(tmp_path / "a.h5")], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr == f"layerinfo import: error: import: {tmp_path / 'none.npz'} does not exist\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["layers", "record", "import", "estimate", "plot"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: layerinfo {command} ")
