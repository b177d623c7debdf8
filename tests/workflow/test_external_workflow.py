"""`snakemake external` on a config the project does not ship: a CNN the project does not define
(tests/digits_cnn.py, copied into the working directory as nets.py; in-place ReLU used twice,
pooling) with a checkpoint per epoch, recorded on a probe file with two splits, and activations
with known answers, imported. Checks that the workflow does what the command does (the same
activation file and estimate table), the claims' verdicts where the answer is known, the merged
claims, the figures, the report, that a finished run has nothing left to do, and that a
checkpoint that does not fit the model fails its job with one line and no file."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import digits_cnn
from digits_cnn import train_checkpoints
from figurecheck import assert_drawn
from layerinfo.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow

CONFIG = {
    "external": {
        "networks": {
            "digits_cnn": {"model": "nets.py:build", "weights": "ckpt/epoch_*.pt", "data": "probe.npz",
                           "layers": ["act:*", "pool", "fc"], "batch_size": 64},
            "constructed": {"activations": "constructed.npz"},
        },
        "estimators": {"bins_width": {"method": "bins_width", "bin_width": 1.0},
                       "kde_upper": {"method": "kde_upper", "noise_variance": 0.1}},
        "splits": ["all", "test"],
        "repeats": 10,
    }
}
NETWORKS = list(CONFIG["external"]["networks"])
ESTIMATE_ARGS = ["--estimators", "bins_width,kde_upper", "--param", "bins_width.bin_width=1.0",
                 "--param", "kde_upper.noise_variance=0.1", "--split", "all,test", "--interval", "0.95",
                 "--repeats", "10", "--subsample", "0.5", "--seed", "0"]


def snakemake(work, *args, config="own.yaml"):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
           "--cores", "2", *args, "--configfile", str(work / config)]  # --configfile takes all that follows
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MPLBACKEND": "Agg"})


def constructed_layers(n=400):
    """Two layers over 3 snapshots with known binned answers (bin width 1, split all): z = i mod 8
    is uniform and independent of the balanced label y = (i div 8) mod 2.

    * ``copy``: z, z, then y: I(X;T) 3, 3, 1 bits and I(T;Y) 0, 0, 1 bit (fits, then compresses);
    * ``static``: z at every snapshot (neither fits nor compresses).
    """
    i = np.arange(n)
    z, y = (i % 8).astype(np.float32), (i // 8) % 2
    copy = np.stack([z, z, y.astype(np.float32) + 100])[..., None]
    static = np.stack([z, z, z])[..., None]
    return copy, static, y


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    work = tmp_path_factory.mktemp("external")
    shutil.copy(digits_cnn.__file__, work / "nets.py")  # the user's own model file
    train_checkpoints(work, digits_cnn.build())
    x, y = digits_cnn.digits_arrays()
    np.savez(work / "probe.npz", x_train=x[:120], y_train=y[:120], x_test=x[1600:1660], y_test=y[1600:1660])
    copy, static, y = constructed_layers()
    np.savez(work / "constructed.npz", copy=copy, static=static, y=y, train_mask=np.arange(len(y)) < 300)
    (work / "own.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    proc = snakemake(work)  # rule all: the external target, and the merged claims
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return work


def estimates(work, network):
    return pd.read_csv(work / "results" / "estimates" / "external" / f"{network}.csv")


def claims(work):
    return pd.read_csv(work / "results" / "tables" / "claims_external.csv").set_index("claim")


def test_recorded_file_equals_the_command_with_the_same_arguments(finished, tmp_path, monkeypatch):
    monkeypatch.chdir(finished)  # the config's paths are relative to the working directory
    by_hand = tmp_path / "by_hand.h5"
    assert main(["record", "--model", "nets.py:build", "--weights", "ckpt/epoch_*.pt", "--data", "probe.npz",
                 "--layers", "act:*", "pool", "fc", "--batch-size", "64", "--run", "digits_cnn",
                 "-o", str(by_hand)]) == 0
    with h5py.File(finished / "results/runs/external/digits_cnn/activations.h5", "r") as a, \
            h5py.File(by_hand, "r") as b:
        assert list(a["epochs"][()]) == [1, 2, 3]
        names = [a[f"layers/{l}/activations"].attrs["name"] for l in sorted(a["layers"], key=int)]
        assert names == ["act:0", "act:1", "pool", "fc"]
        for l in a["layers"]:
            np.testing.assert_array_equal(a[f"layers/{l}/activations"][()], b[f"layers/{l}/activations"][()])
        np.testing.assert_array_equal(a["probe/labels"][()], b["probe/labels"][()])


@pytest.mark.parametrize("network", NETWORKS)
def test_estimate_table_equals_the_command_on_the_same_file(finished, tmp_path, network):
    table = tmp_path / "table.csv"
    assert main(["estimate", str(finished / f"results/runs/external/{network}/activations.h5"), *ESTIMATE_ARGS,
                 "-o", str(table)]) == 0
    workflow = estimates(finished, network)
    pd.testing.assert_frame_equal(workflow, pd.read_csv(table), check_exact=True)
    assert set(workflow["run"]) == {network} and set(workflow["split"]) == {"all", "test"}
    assert workflow[["I_XT_ci_low", "I_XT_ci_high", "I_TY_null_bits"]].notna().all().all()


def test_known_answers_give_known_verdicts(finished):
    rows = estimates(finished, "constructed")
    binned = rows[(rows["estimator"] == "bins_width") & (rows["split"] == "all")].set_index(["layer_name", "epoch"])
    assert binned.loc[("copy", 0), ["I_XT_bits", "I_TY_bits"]].tolist() == pytest.approx([3.0, 0.0], abs=1e-12)
    assert binned.loc[("copy", 2), ["I_XT_bits", "I_TY_bits"]].tolist() == pytest.approx([1.0, 1.0], abs=1e-12)
    verdicts = claims(finished)
    fit = verdicts.loc["external_constructed_all_copy_bins_width_fitting"]
    assert fit["value"] == pytest.approx(1.0) and fit["verdict"] == "reproduced"
    comp = verdicts.loc["external_constructed_all_copy_bins_width_compression"]
    assert comp["value"] == pytest.approx(2 / 3) and comp["verdict"] == "reproduced"
    assert verdicts.loc["external_constructed_all_static_bins_width_compression", "verdict"] == "not reproduced"
    assert verdicts.loc["external_constructed_all_static_bins_width_fitting", "value"] == 0.0


def test_claims_are_merged_and_figures_drawn(finished):
    own = claims(finished)
    # 2 networks: (4 + 2) layers x 2 estimators x 2 splits, fitting and compression each
    assert len(own) == (4 + 2) * 2 * 2 * 2
    merged = pd.read_csv(finished / "results" / "tables" / "claims.csv")
    assert set(merged["study"]) == {"external"} and set(merged["claim"]) == set(own.index)
    assert "Your networks" in (finished / "results" / "claims.html").read_text()
    for network in NETWORKS:
        for split in ("all", "test"):
            for estimator in ("bins_width", "kde_upper"):
                figure = finished / "results/figures/external" / network / f"infoplane_{network}_{split}_{estimator}.png"
                assert_drawn(figure)
    for figure in own["figure"]:
        assert (finished / "results" / figure).is_file(), figure


def test_report_and_nothing_left_to_do(finished):
    report = finished / "report.html"
    proc = snakemake(finished, "external", "--report", str(report))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = report.read_text()
    assert "Your networks" in text and "digits_cnn" in text and "constructed" in text
    dry = snakemake(finished, "external", "--dry-run")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-2000:]


def test_a_checkpoint_that_does_not_fit_fails_with_one_line_and_no_file(finished):
    (finished / "wrong").mkdir()
    torch.save(torch.nn.Linear(3, 2).state_dict(), finished / "wrong" / "epoch_1.pt")
    broken = {"external": {"networks": {"broken": {"model": "nets.py:build", "weights": "wrong/epoch_*.pt",
                                                   "data": "probe.npz"}}}}
    (finished / "broken.yaml").write_text(yaml.safe_dump(broken))
    target = "results/runs/external/broken/activations.h5"
    proc = snakemake(finished, target, config="broken.yaml")
    assert proc.returncode != 0
    log = (finished / "logs/external/broken/activations.log").read_text()
    assert ("network broken: config key 'external.networks.broken.weights': wrong/epoch_1.pt does not fit "
            "the model: missing keys") in log, log[-2000:]
    assert not (finished / target).exists()
    assert not list((finished / "results/runs/external/broken").glob("*.h5*"))
