"""The coding-schemes study (S4) end to end: `snakemake coding` on a tiny config."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

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
    coding["tasks"] = {"toy": {**coding["tasks"]["toy"], "n_test": 64}}
    coding["network"]["width"] = 120
    coding["sampler"].update(n_steps=6000, burn_in=3000, thin=300)
    return config


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    work = tmp_path_factory.mktemp("coding")
    (work / "config.yaml").write_text(yaml.safe_dump(tiny_config(), sort_keys=False))
    proc = snakemake(work, "coding")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work


def test_coding_table_and_figures(finished):
    table = pd.read_csv(finished / "results/tables/coding_schemes.csv")
    assert len(table) == 3
    for column in ("task", "nonlinearity", "scaling", "scheme", "readout_excess_kurtosis", "readout_bimodality",
                   "code_fraction", "code_purity", "train_mse", "train_mse_rhat", "kernel_chain_rel_diff",
                   "test_error", "test_error_gp"):
        assert column in table.columns
    labels = dict(zip(table["nonlinearity"], table["scheme"]))
    assert labels == {"linear": "analog", "erf": "redundant", "relu": "sparse"}, table.to_string()
    assert table["train_mse"].lt(0.05).all()  # the targets (variance 0.1875) are fitted
    assert set(table["scheme"]) <= {"analog", "redundant", "sparse", "unclassified"}
    per_class = pd.read_csv(finished / "results/tables/coding_generalisation.csv")
    assert set(per_class["class"]) == {0, 1, 2} and set(per_class["model"]) == {"network", "gp_lazy"}
    assert per_class["test_error"].between(0, 1).all()
    claims = pd.read_csv(finished / "results/tables/claims_coding.csv")
    assert set(claims["study"]) == {"coding"} and len(claims) >= 4
    assert set(claims["verdict"]) <= {"reproduced", "not reproduced", "inconclusive"}
    codes = pd.read_csv(finished / "results/tables/coding_codes.csv")
    for _, run in codes.groupby(["task", "nonlinearity", "scaling"]):
        assert run["neuron_fraction"].sum() == pytest.approx(1.0)
    relu = codes[codes["nonlinearity"] == "relu"]
    assert relu.loc[relu["code"] == 0, "neuron_fraction"].item() > 0.65  # the bulk carries no code
    figures = sorted((finished / "results/figures/coding/toy").glob("*.png"))
    assert [f.name for f in figures] == ["activation_maps.png", "generalisation.png", "kernels.png",
                                         "readout_weights.png", "traces.png"]
    assert all(f.stat().st_size > 10_000 for f in figures)
    assert (finished / "results/runs/coding/toy/erf-feature/posterior.h5").exists()
    assert (finished / "logs/coding/table.log").exists()


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
