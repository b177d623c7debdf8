"""Study S3 end to end: `snakemake isometry` on a tiny config, and a config without the section."""

import math

import pandas as pd
import pytest
import yaml

from figurecheck import assert_drawn
from test_workflow import TINY, _workdir, snakemake

pytestmark = pytest.mark.workflow

ISOMETRY = yaml.safe_load("""
nonlinearity: tanh
sigma_b: 0.005
meanfield:
  nonlinearities: [tanh, relu]
  sigma_w: {min: 0.5, max: 2.0, count: 4}
  sigma_b: [0.0, 0.2]
networks:
  inits: [gaussian, orthogonal]
  sigma_w: [critical, 1.6]
  seeds: [0]
  jacobian: {width: 64, depths: [4, 48], inputs: 1}
  information:
    width: 8
    depths: [2, 8]
    sigma_w: [0.8, critical, 2.2]
    sigma_b: [0.005]
    inputs: 32
    draws: {fit: 8, eval: 8}
    linearisation_points: 2
training:
  dataset: {name: digits}
  depth: 3
  width: 16
  seeds: [0]
  initialisations:
    orthogonal_critical: {scheme: orthogonal, sigma_w: critical}
    gaussian_chaotic: {scheme: gaussian, sigma_w: 2.0}
  optimisation: {optimizer: sgd, learning_rate: 0.05, momentum: 0.9, batch_size: 64, epochs: 3}
  snapshots: {count: 3}
  estimators:
    kde_upper: {method: kde_upper, noise_variance: 0.1}
""")


@pytest.fixture(scope="module")
def isometry_run(tmp_path_factory):
    config = yaml.safe_load(TINY.read_text())
    config["isometry"] = ISOMETRY
    work = _workdir(tmp_path_factory.mktemp("iso"), config)
    proc = snakemake(work, "isometry")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work


def test_mean_field_table(isometry_run):
    table = pd.read_csv(isometry_run / "results/tables/isometry_meanfield.csv")
    assert len(table) == 2 * 2 * 4
    relu = table[(table["nonlinearity"] == "relu") & (table["sigma_b"] == 0.2) & (table["sigma_w"] == 1.0)]
    assert relu["q_star"].iloc[0] == pytest.approx(0.04 / (1 - 0.5), rel=1e-9)
    line = pd.read_csv(isometry_run / "results/tables/isometry_critical_line.csv")
    tanh0 = line[(line["nonlinearity"] == "tanh") & (line["sigma_b"] == 0.0)]
    assert tanh0["sigma_w_critical"].iloc[0] == pytest.approx(1.0, abs=1e-6)


def test_orthogonal_critical_spectrum_is_far_narrower(isometry_run):
    table = pd.read_csv(isometry_run / "results/tables/isometry_jacobian.csv")
    deep = table[(table["depth"] == 48) & table["critical"]].set_index("init")
    # both keep the mean squared singular value near chi_1^L = 1 ...
    assert 0.3 < deep.loc["orthogonal", "mean_sq_singular"] < 3
    # ... but only orthogonal weights keep the spectrum concentrated
    assert deep.loc["orthogonal", "var_sq_singular"] < 0.2 * deep.loc["gaussian", "var_sq_singular"]
    assert deep.loc["orthogonal", "median_singular"] > 1e3 * deep.loc["gaussian", "median_singular"]


def test_information_table(isometry_run):
    table = pd.read_csv(isometry_run / "results/tables/isometry_information.csv")
    assert set(table["channel"]) == {"per_layer_relative", "output_fixed"}
    assert set(table["method"]) == {"decoding", "kt_upper", "kt_lower", "linearised", "linearised_exact",
                                    "mean_field_classic", "mean_field_corrected"}
    measured = table[table["method"].isin(["decoding", "kt_upper", "kt_lower"])]
    assert (measured["I_bits"] <= math.log2(32) + 1e-9).all() and measured["floor_bits"].notna().all()
    field = table[table["method"] == "mean_field_classic"].groupby(["channel", "sigma_w", "depth"])["I_bits"]
    assert (field.nunique() == 1).all()  # the classic mean field cannot tell the initialisations apart
    theory = pd.read_csv(isometry_run / "results/tables/isometry_channel_theory.csv")
    assert (theory["classic_own_mean_bits"] >= theory["linearised_bits"] - 1e-9).all()  # Jensen
    claims = pd.read_csv(isometry_run / "results/tables/claims_isometry.csv")
    assert len(claims) == 6 and set(claims["verdict"]) <= {"reproduced", "not reproduced", "inconclusive"}


def test_training_outputs(isometry_run):
    history = pd.read_csv(isometry_run / "results/tables/isometry_training_history.csv")
    assert set(history["initialisation"]) == {"orthogonal_critical", "gaussian_chaotic"}
    assert history["epoch"].max() == 3
    # the trained values: every network trained (its training loss fell) from the initialisation
    # whose recorded epoch-0 loss is that of a network with 10 near-uniform outputs, ln 10
    for _, run in history.groupby("run"):
        run = run.sort_values("epoch")
        assert run["train_loss"].iloc[-1] < run["train_loss"].iloc[0], run[["epoch", "train_loss"]]
    critical = history[(history["initialisation"] == "orthogonal_critical") & (history["epoch"] == 0)]
    assert critical["train_loss"].between(0.5 * math.log(10), 2 * math.log(10)).all()
    estimates = pd.read_csv(isometry_run / "results/tables/isometry_training.csv")
    assert set(estimates["estimator"]) == {"kde_upper"} and (estimates["study"] == "isometry").all()
    for name in ("phase_diagram", "jacobian_spectra", "information_vs_sigma_w", "information_theory",
                 "trained/training_curves",
                 "trained/tanh-orthogonal_critical/kde_upper"):
        assert_drawn(isometry_run / f"results/figures/isometry/{name}.png")


def test_missing_section_is_named(tmp_path):
    work = _workdir(tmp_path, yaml.safe_load(TINY.read_text()))
    proc = snakemake(work, "isometry", "-n")
    assert proc.returncode != 0
    assert "the config has no 'isometry' section" in proc.stderr + proc.stdout
