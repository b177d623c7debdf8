"""The coding-schemes study (S4) end to end: one `snakemake coding` run on a tiny config with the
toy task and MNIST-format files fetched from a local mirror (the MNIST path of config/paper.yaml)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from localmirror import Server, fake_mnist, md5_table
from figurecheck import assert_drawn
from layerinfo.coding.posterior import read_posterior

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow


def snakemake(workdir, *args, timeout=600):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(workdir), "--cores", "2", *args]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout, env=env)


def tiny_config():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    coding = config["coding"]
    coding["scalings"] = ["feature"]
    coding["tasks"] = {"toy": {**coding["tasks"]["toy"], "n_test": 64, "depth": 1}}
    coding["network"]["width"] = 40
    coding["network"]["width_scan"]["factors"] = [2]
    # beta 1e4: at the default 1e6 the tamed drift fits the data more slowly, and 300 burn-in steps
    # leave a training MSE of ~3e-3 (the configs' 1500 reach ~1e-7)
    coding["sampler"].update(n_steps=600, burn_in=300, thin=60, n_chains=2, beta=1e4)
    return config


MNIST_FILES = fake_mnist(np.random.default_rng(3), n_train=60, n_test=20, class_structure=True)[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One `snakemake coding` run of the toy task and of MNIST-format files made here, served by
    an HTTP mirror on 127.0.0.1 (their MD5s under datasets.checksums, as for a mirror with its
    own copies). Returns the work directory and the paths the mirror was asked for."""
    work = tmp_path_factory.mktemp("coding")
    config = tiny_config()
    config["coding"]["tasks"]["mnist"] = {"kind": "dataset", "dataset": "mnist", "n_train": 40, "n_test": 30,
                                          "depth": 1}
    config["datasets"]["checksums"] = {"mnist": md5_table(MNIST_FILES)}
    with Server(MNIST_FILES) as server:
        config["datasets"]["mirrors"] = {"mnist": [server.url("good")]}
        (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        proc = snakemake(work, "coding")
        assert proc.returncode == 0, proc.stderr[-4000:]
        requests = list(server.requests)
    return work, requests


def _task(frame, task="toy"):
    return frame[frame["task"] == task]


def test_coding_table_and_figures(finished):
    finished, _ = finished
    table = _task(pd.read_csv(finished / "results/tables/coding_schemes.csv"))
    assert len(table) == 4  # three nonlinearities, ReLU also at twice the width
    for column in ("task", "nonlinearity", "scaling", "width", "readout_excess_kurtosis", "n_branches",
                   "n_outliers", "outliers_per_class", "outlier_output_share", "max_readout_over_sqrt_n", "eta2_mean",
                   "eta2_prior", "binary_fraction", "pattern_multiplicity", "kernel_alignment", "drift", "train_mse",
                   "test_bias2", "test_variance", "predictor_rel_l2_to_gp", "gp_ridge_rel_l2_to_interpolant",
                   "outlier_count_slope", "converged", "plateau_step", "rhat_max", "rhat_threshold"):
        assert column in table.columns, column
    assert table["train_mse"].lt(1e-3).all()  # zero temperature: the data are interpolated
    sigmoid = table.set_index("nonlinearity").loc["sigmoid"]
    assert sigmoid["kernel_alignment"] > 0.8, sigmoid  # feature learning aligns even this short, narrow chain
    # the burn-in rule: steps, burn-in and thinning x N / 40 at N = 80
    relu = table[table["nonlinearity"] == "relu"].set_index("width")
    assert relu.loc[40, ["n_steps", "burn_in"]].tolist() == [600, 300]
    assert relu.loc[80, ["n_steps", "burn_in"]].tolist() == [1200, 600]
    # 2 chains and 5 kept samples per chain are too few for R-hat and the trend test: every run
    # unconverged, and says why
    assert not table["converged"].any()
    assert table["convergence_reason"].str.contains("2 chains").all()
    assert table["convergence_reason"].str.contains("5 kept samples per chain").all()
    assert table["rhat_threshold"].gt(1.01).all() and table["plateau_step"].le(table["n_steps"]).all()
    diagnostics = _task(pd.read_csv(finished / "results/tables/coding_diagnostics.csv"))
    assert len(diagnostics) == 4 * 9 and set(diagnostics["statistic"]) >= {"max_readout_over_sqrt_n", "n_outliers"}
    widths = _task(pd.read_csv(finished / "results/tables/coding_widths.csv"))
    assert widths["width"].tolist() == [40, 80] and widths["outlier_count_slope"].nunique() == 1
    layers = _task(pd.read_csv(finished / "results/tables/coding_layers.csv"))
    assert set(layers["layer"]) == {1} and len(layers) == 4 and not layers["converged"].any()
    per_class = _task(pd.read_csv(finished / "results/tables/coding_generalisation.csv"))
    assert set(per_class["class"]) == {0, 1, 2} and set(per_class["model"]) == {"network", "gp_lazy"}
    assert per_class["test_error"].between(0, 1).all()
    claims = pd.read_csv(finished / "results/tables/claims_coding.csv")
    assert set(claims["study"]) == {"coding"} and len(claims) >= 10
    # no claim is decided on chains that failed their diagnostics
    assert set(claims["verdict"]) == {"inconclusive"}
    assert claims["statistic"].str.contains("chains not converged").all()
    codes = _task(pd.read_csv(finished / "results/tables/coding_codes.csv"))
    for _, run in codes.groupby(["task", "nonlinearity", "scaling", "width"]):
        assert run["neuron_fraction"].sum() == pytest.approx(1.0)
    figures = sorted((finished / "results/figures/coding/toy").glob("*.png"))
    assert [f.name for f in figures] == ["activation_maps.png", "drift.png", "equilibrium.png", "generalisation.png",
                                         "kernels.png", "readout_weights.png", "traces.png"]
    for figure in [*figures, finished / "results/figures/coding/widths.png"]:
        assert_drawn(figure)
    posterior = read_posterior(finished / "results/runs/coding/toy/sigmoid-feature-w40/posterior.h5")
    assert (posterior.config["nonlinearity"], posterior.config["width"]) == ("sigmoid", 40)
    assert posterior.chains[0]["readout"].shape[1:] == (40, 3)
    # the table job logs each run's convergence as the table has it
    log = (finished / "logs/coding/table.log").read_text()
    row = table[(table["nonlinearity"] == "sigmoid") & (table["scaling"] == "feature") & (table["width"] == 40)]
    assert f"toy sigmoid feature N=40: converged {row['converged'].item()} {row['convergence_reason'].item()}" in log


def test_coding_target_names_a_missing_section(tmp_path):
    config = tiny_config()
    del config["coding"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    # the other studies still run without it
    proc = snakemake(tmp_path, "--dry-run")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "coding_sample" not in proc.stdout
    proc = snakemake(tmp_path, "coding", "--dry-run")
    assert proc.returncode != 0
    assert "no 'coding' section" in proc.stderr + proc.stdout


def test_report_shows_the_tables(finished):
    finished, _ = finished
    report = finished / "report.html"
    proc = snakemake(finished, "coding", "--report", str(report))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = report.read_text()
    for table in ("coding_schemes.csv", "coding_layers.csv", "coding_generalisation.csv", "coding_codes.csv",
                  "coding_diagnostics.csv", "coding_widths.csv"):
        assert table in text, table
    # the tables' captions (file names alone also appear as the figures' inputs)
    assert "the measures the claims judge" in text and "the share of neurons that carry it" in text
    assert "rank-normalised split R-hat" in text


def test_mnist_path_from_a_local_mirror(finished):
    """S4 on MNIST as `config/paper.yaml` runs it, at toy size: rule dataset_download fetches the
    files from the local mirror and converts them through torchvision, then one hidden layer is
    sampled on a class-balanced subset, each input scaled to |x|^2 = N0, and measured per class."""
    import h5py

    work, requests = finished
    assert sorted(requests) == sorted(f"/good/{name}" for name in MNIST_FILES)
    with h5py.File(work / "results/runs/coding/mnist/sigmoid-feature-w40/posterior.h5") as f:
        x_train, labels = f["data/x_train"][()], f["data/labels_train"][()]
        assert len(f["data/labels_test"]) == 30
    assert np.bincount(labels).tolist() == [4] * 10  # class-balanced, sorted by class
    assert (np.diff(labels) >= 0).all()
    assert np.allclose(np.sum(x_train ** 2, 1), 784)  # normalise: length, |x|^2 = N0
    schemes = _task(pd.read_csv(work / "results/tables/coding_schemes.csv"), "mnist").set_index("nonlinearity")
    assert len(schemes) == 3 and set(schemes["n_classes"]) == {10}  # not in the width scan
    per_class = _task(pd.read_csv(work / "results/tables/coding_generalisation.csv"), "mnist")
    assert set(per_class["class"]) <= set(range(10)) and per_class["test_error"].between(0, 1).all()
    for (nl, model), rows in per_class.groupby(["nonlinearity", "model"]):
        assert rows["n_test"].sum() == 30
        pooled = float((rows["test_error"] * rows["n_test"]).sum() / 30)  # per-class errors add up to the run's
        column = "test_error" if model == "network" else "test_error_gp"
        assert pooled == pytest.approx(schemes.loc[nl, column]), (nl, model)
    claims = pd.read_csv(work / "results/tables/claims_coding.csv")
    assert {"s4_linear_analog_mnist", "s4_sigmoid_redundant_mnist", "s4_relu_sparse_mnist"} <= set(claims["claim"])
    figures = sorted(p.name for p in (work / "results/figures/coding/mnist").glob("*.png"))
    assert len(figures) == 7
