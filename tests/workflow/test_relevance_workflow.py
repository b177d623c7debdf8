"""The relevance study (S1) end to end with real Snakemake on a tiny config."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from figurecheck import assert_drawn

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow

TINY = {
    "information_plane": {
        "dataset": {"name": "tishby"},
        "hidden_widths": [10, 7, 5, 4, 3],
        "seeds": [0],
        "training": {"optimizer": "adam", "learning_rate": 0.004, "batch_size": 256, "epochs": 8},
        "snapshots": {"count": 3},
        "experiments": {"main": {"activations": ["tanh", "relu"], "initialisations": ["truncnorm"]}},
        "estimators": {"bins_fixed": {"method": "bins_fixed", "n_bins": 30}},
    },
    "initialisations": {"truncnorm": {"scheme": "truncated_normal", "gain": 1.0}},
    "relevance": {
        "dataset": "digits",
        "hidden_widths": [32, 16, 8, 4, 2],
        "train_samples": 1500,
        "seed": 0,
        "training": {"protocol": "authors", "epochs": 20, "batch_size": 50},
        "snapshots": {"count": 3},
        "zipf": {"n_bootstrap": 20},
        "generation": {"n_samples": 40, "gibbs_steps": 10, "confidence": 0.9, "n_bootstrap": 20},
    },
}


def snakemake(workdir, *args):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(workdir), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})


def _workdir(tmp_path, config):
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return work


def test_relevance_target_builds_tables_and_figures(tmp_path):
    work = _workdir(tmp_path, TINY)
    proc = snakemake(work, "relevance")
    assert proc.returncode == 0, proc.stderr[-4000:]
    claims = pd.read_csv(work / "results/tables/claims_relevance.csv")
    assert list(claims["claim"]) == ["s1_relevance_interior_maximum", "s1_zipf_layer_exponent",
                                     "s1_zipf_layer_best_generator"]
    assert set(claims["verdict"]) <= {"reproduced", "not reproduced", "inconclusive"}
    table = pd.read_csv(work / "results/tables/relevance.csv")
    for column in ("network", "split", "layer", "units", "epoch", "H_s_norm", "H_k_norm", "slope_Hk_Hs",
                   "zipf_exponent", "zipf_ci_low", "zipf_ci_high", "zipf_lr_R", "zipf_lr_p", "generation_score",
                   "generation_nn_rms"):
        assert column in table.columns, column
    # the first 1500 images train the DBN and are measured; the other 297 are measured apart
    assert table.groupby("split")["n_samples"].unique().to_dict() == {"test": [297], "train": [1500]}
    fitted = table[table["zipf_status"] == "ok"]
    assert not fitted.empty and fitted["zipf_lr_p"].between(0, 1).all()
    held_out = table[table["split"] == "test"]
    assert held_out["generation_score"].isna().all()
    table = table[table["split"] == "train"]
    # layers 0 (pixels) .. 5, at the snapshot epochs 0, 3?, .., 20 of each RBM
    assert sorted(table["layer"].unique()) == [0, 1, 2, 3, 4, 5]
    assert table.groupby("epoch").size().eq(6).all() and table["epoch"].max() == 20 and table["epoch"].min() == 0
    assert table.set_index("layer")["units"].to_dict() == {0: 64, 1: 32, 2: 16, 3: 8, 4: 4, 5: 2}
    assert table["H_s_norm"].between(0, 1).all() and table["H_k_norm"].between(0, 1).all()
    assert (table["H_k_norm"] <= table["H_s_norm"] + 1e-12).all()  # relevance never exceeds resolution
    # at most 2^units states: the 2-unit top layer has H[s] <= ln 4 / ln 1500
    top = table[table["layer"] == 5]
    assert (top["n_states"] <= 4).all() and (top["H_s_norm"] <= np.log(4) / np.log(1500) + 1e-12).all()
    final = table[table["epoch"] == 20]
    assert final.loc[final["layer"] > 0, "generation_score"].between(0, 1).all()
    assert table.loc[table["epoch"] < 20, "generation_score"].isna().all()
    summary = pd.read_csv(work / "results/tables/relevance_summary.csv")
    assert {"zipf_layer_slope_closest_to_-1", "max_relevance_H_k", "best_generator_score"} <= set(summary["criterion"])
    generation = pd.read_csv(work / "results/tables/relevance_generation.csv")
    data_row = generation[generation["source"] == "data"].iloc[0]
    assert data_row["generation_score"] > 0.5  # the classifier recognises the data it was trained on
    layers = generation[generation["source"] == "layer"]
    for column in ("generation_precision", "generation_recall", "generation_f", "generation_first_support"):
        assert layers[column].between(0, 1).all(), column
    assert layers["generation_first_support"].sum() <= 1 + 1e-9  # at most one layer first per resample
    assert "best_generator_f" in set(summary["criterion"])
    traj = pd.read_csv(work / "results/tables/relevance_trajectories.csv")
    assert set(traj["activation"]) == {"tanh", "relu"} and traj["layer"].nunique() == 6
    assert len(traj) == 2 * traj["epoch"].nunique() * 6
    assert (traj["n_samples"] == 4096).all() and traj["H_s_norm"].between(0, 1).all()
    for name in ("relevance_curve", "rank_frequency", "generated", "generated_grid", "trajectories_main"):
        # the generated samples are greyscale digits; the others plot data in colour
        assert_drawn(work / f"results/figures/relevance/{name}.png", coloured=not name.startswith("generated"))
    log = (work / "logs/relevance/train_dbn.log").read_text()
    assert '"init": "glorot_sigmoid"' in log and '"n_chains": 25' in log  # the authors' protocol, resolved


def test_relevance_target_without_its_section_names_it(tmp_path):
    config = {k: v for k, v in TINY.items() if k != "relevance"}
    proc = snakemake(_workdir(tmp_path, config), "relevance", "-n")
    assert proc.returncode != 0
    assert "the config has no 'relevance' section" in proc.stdout + proc.stderr
