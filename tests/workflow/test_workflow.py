"""The workflow end to end with real Snakemake on a tiny config, its lint, and its refusals."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from figurecheck import assert_drawn

ROOT = Path(__file__).resolve().parents[2]
TINY = Path(__file__).with_name("tiny.yaml")
pytestmark = pytest.mark.workflow


def snakemake(workdir, *args, timeout=900):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(workdir), "--cores", "2", *args]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _workdir(tmp_path, config):
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return work


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    work = _workdir(tmp_path_factory.mktemp("wf"), yaml.safe_load(TINY.read_text()))
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work


def test_outputs_and_tables(finished_run):
    work = finished_run
    table = pd.read_csv(work / "results/tables/information_plane.csv")
    runs = pd.read_csv(work / "results/tables/information_plane_runs.csv")
    estimators = {"bins_fixed", "bins_width", "ebab", "kde_upper", "kde_lower", "akde_paper", "akde_code"}
    assert set(table["estimator"]) == estimators
    assert set(table["n_seeds"]) == {2}
    assert len(runs) == 2 * 2 * 2 * runs["epoch"].nunique() * 6 * len(estimators)
    for column in ("I_XT_bits_mean", "I_XT_bits_sem", "I_TY_bits_mean", "I_TY_bits_sem"):
        assert table[column].notna().all()
    # 4096 equiprobable inputs and a binary label bound every estimate
    assert runs["I_XT_bits"].between(-1e-9, 12 + 1e-9).all()
    assert runs["I_TY_bits"].between(-1e-9, 1 + 1e-9).all()
    # the mean over seeds is the mean of the per-run rows
    sub = runs[(runs.activation == "tanh") & (runs.initialisation == "orthogonal") & (runs.estimator == "ebab")
               & (runs.layer == 0) & (runs.epoch == 0)]
    row = table[(table.activation == "tanh") & (table.initialisation == "orthogonal") & (table.estimator == "ebab")
                & (table.layer == 0) & (table.epoch == 0)]
    assert row["I_XT_bits_mean"].item() == pytest.approx(sub["I_XT_bits"].mean())
    assert row["I_XT_bits_sem"].item() == pytest.approx(sub["I_XT_bits"].std(ddof=1) / np.sqrt(2))
    figures = sorted((work / "results/figures/information_plane/main").rglob("*.png"))
    # an information plane per activation x initialisation x estimator, the training curves, and
    # a compression figure per estimator
    assert len(figures) == 4 * len(estimators) + 1 + len(estimators)
    for figure in figures:
        assert_drawn(figure)
    scores = pd.read_csv(work / "results/tables/information_plane_compression.csv")
    assert len(scores) == len(runs.groupby(["run", "estimator", "layer"]))
    assert (scores["compression_bits"] >= 0).all() and scores["test_acc"].between(0, 1).all()
    cells = pd.read_csv(work / "results/tables/compression_generalisation.csv")
    assert set(cells["n_runs"]) == {2} and cells["r_low_test_acc"].isna().all()  # no interval from 2 runs
    assert cells.groupby(["activation", "initialisation", "estimator"])["last_hidden"].sum().eq(1).all()
    history = pd.read_csv(work / "results/tables/information_plane_history.csv")
    assert set(history["epoch"]) == set(range(13))
    with h5py.File(work / "results/runs/information_plane/main/tanh-truncnorm-s0/activations.h5") as h:
        assert h.attrs["format"] == "layerinfo-activations"
        assert h["layers/0/activations"].shape[1:] == (4096, 10)
        assert h["layers/5/activations"].shape[1:] == (4096, 2)
        # an uninterrupted run: one attempt, never resumed, on one arithmetic
        assert json.loads(h.attrs["resumed_from"]) == [] and h.attrs["arithmetic"] == "uniform"
        assert len(json.loads(h.attrs["attempts"])) == 1
        final_acc = h["history/train_acc"][-1]
    assert (history["arithmetic"] == "uniform").all()
    # the job's log reports the accuracy the file holds
    log = (work / "logs/train/information_plane/main/tanh-truncnorm.log").read_text()
    assert f"finished tanh-truncnorm-s0: train_acc={final_acc:.4f}" in log


def test_claims_table_and_page(finished_run):
    claims = pd.read_csv(finished_run / "results/tables/claims.csv", keep_default_na=False, na_values=[""])
    assert set(claims["study"]) == {"information_plane"}
    assert set(claims["verdict"]) <= {"reproduced", "not reproduced", "inconclusive"}
    assert claims["config"].str.fullmatch(r"config\.yaml@[0-9a-f]{12}").all()
    # two seeds give no correlation interval: the generalisation claims cannot be decided
    decided = dict(zip(claims["claim"], claims["verdict"]))
    assert decided["s2_output_compression_correlates_ebab"] == "inconclusive"
    assert decided["s2_hidden5_compression_not_correlated_akde_paper"] == "inconclusive"
    assert decided["s2_l2_increases_compression_hidden5_ebab"] == "inconclusive"  # no experiment with L2
    assert decided["s2_l2_prevents_overfitting"] == "inconclusive"
    # one row per estimator (EBAB, the paper's aKDE) and hidden layer; no row pools layers
    s2 = claims[claims["study"] == "information_plane"]
    assert len(s2) == 2 * (3 + 5 + 2 + 5) + 1
    assert (s2["n"] <= 8).all()  # 8 runs: 2 activations x 2 initialisations x 2 seeds
    page = (finished_run / "results/claims.html").read_text()
    assert page.count("<tr>") == len(claims) + 1


def test_second_run_does_nothing_and_report_builds(finished_run):
    proc = snakemake(finished_run)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr
    report = finished_run / "report.html"
    proc = snakemake(finished_run, "--report", str(report))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert report.stat().st_size > 100_000


def test_rerun_is_bit_identical(finished_run, tmp_path):
    """A fresh run of one job reproduces the activation file's datasets exactly."""
    target = "results/runs/information_plane/main/relu-orthogonal-s1/activations.h5"
    work = _workdir(tmp_path, yaml.safe_load(TINY.read_text()))
    proc = snakemake(work, target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with h5py.File(finished_run / target) as a, h5py.File(work / target) as b:
        names = []
        a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
        assert len(names) >= 12
        for name in names:
            np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)


def test_lint_is_clean():
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_snakefmt_clean():
    snakefmt = shutil.which("snakefmt", path=os.path.dirname(sys.executable)) or shutil.which("snakefmt")
    proc = subprocess.run([snakefmt, "--check", "Snakefile", "rules/"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "edit,fragments",
    [
        (lambda c: c["information_plane"]["experiments"]["main"]["activations"].append("tanhh"),
         ["information_plane.experiments.main.activations[2]", "allowed values: tanh, relu"]),
        (lambda c: c["information_plane"]["experiments"]["main"]["initialisations"].append("he"),
         ["'he' is not defined under 'initialisations'", "defined: truncnorm, orthogonal"]),
        (lambda c: c["information_plane"]["training"].update(epochs=-3),
         ["information_plane.training.epochs", "must be >= 1"]),
        (lambda c: c["information_plane"]["training"].update(batchsize=64),
         ["unknown key(s) 'batchsize'", "allowed keys: optimizer, learning_rate"]),
        (lambda c: c["information_plane"].update(seeds="0,1"),
         ["information_plane.seeds", "expected array"]),
    ],
    ids=["unknown-activation", "unknown-initialisation", "negative-epochs", "misspelt-key", "wrong-type"],
)
def test_invalid_config_stops_before_any_job(tmp_path, edit, fragments):
    config = yaml.safe_load(TINY.read_text())
    edit(config)
    work = _workdir(tmp_path, config)
    proc = snakemake(work)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for fragment in fragments:
        assert fragment in out, out[-3000:]
    assert "Traceback" not in out
    assert not (work / "results").exists() and not (work / "resources").exists()


def test_estimator_refuses_truncated_activation_file(finished_run, tmp_path):
    from layerinfo.infoplane.estimate import estimate_run
    from layerinfo.h5io import ActivationFileError

    source = finished_run / "results/runs/information_plane/main/tanh-truncnorm-s0/activations.h5"
    broken = tmp_path / "activations.h5"
    broken.write_bytes(source.read_bytes()[:5000])
    with pytest.raises(ActivationFileError, match=f"{broken}: not a readable HDF5 file"):
        estimate_run(broken, {"kde": {"method": "kde_upper"}})


def test_second_workflow_on_the_same_directory_is_refused(tmp_path):
    work = _workdir(tmp_path, yaml.safe_load(TINY.read_text()))
    target = "results/runs/information_plane/main/tanh-truncnorm-s0/activations.h5"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
           "--cores", "1", target]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        locks = work / ".snakemake" / "locks"
        for _ in range(600):
            if locks.exists() and any(locks.iterdir()):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the first workflow never took its lock")
        second = snakemake(work, target)
        assert second.returncode != 0
        assert "cannot be locked" in second.stdout + second.stderr
    finally:
        out, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out[-3000:]
    with h5py.File(work / target) as h:
        assert h.attrs["complete"]
