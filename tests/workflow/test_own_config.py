"""A config given with --configfile replaces config.yaml instead of being merged into it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow

OWN = {
    "information_plane": {
        "dataset": {"name": "tishby", "test_fraction": 0.2, "split_seed": 0},
        "hidden_widths": [4, 3],
        "seeds": [0],
        "training": {"optimizer": "adam", "learning_rate": 0.004, "batch_size": 256, "epochs": 2},
        "snapshots": {"count": 2},
        "experiments": {"x1": {"activations": ["tanh"], "initialisations": ["truncnorm"]}},
        "estimators": {"ebab": {"method": "ebab", "n_bins": 30}},
    },
    "initialisations": {"truncnorm": {"scheme": "truncated_normal", "gain": 1.0}},
}


def snakemake(work, *args):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
           "--cores", "2", *args, "--configfile", str(work / "own.yaml")]  # --configfile takes all that follows
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MPLBACKEND": "Agg"})


@pytest.fixture
def work(tmp_path):
    # the default config sits in the working directory, where Snakemake would merge it in
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(OWN, sort_keys=False))
    return tmp_path


def job_counts(text: str) -> dict[str, int]:
    """Rule -> job count from the "Job stats" table of a dry run."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    counts = {}
    for line in lines[start + 3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_own_config_plans_only_its_experiment_and_studies(work):
    proc = snakemake(work, "--dry-run")
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    counts = job_counts(text)
    # one run: one training and one estimate job, and no study the own config leaves out
    assert counts["train"] == 1 and counts["estimate"] == 1, counts
    assert not [rule for rule in counts if rule.split("_")[0] in ("relevance", "isometry", "coding")], counts
    assert "information_plane/x1/" in text and "information_plane/main/" not in text


def test_own_config_estimates_only_its_estimator(work):
    target = "results/estimates/information_plane/x1/tanh-truncnorm-s0.csv"
    proc = snakemake(work, target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = pd.read_csv(work / target)
    assert set(rows["estimator"]) == {"ebab"}
    assert set(rows["experiment"]) == {"x1"}


def _dry_run(tmp_path, text, target):
    """Plan ``target`` for the config ``text`` (a file of its own beside config.yaml); the job counts."""
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    (tmp_path / "own.yaml").write_text(text)
    proc = snakemake(tmp_path, "--dry-run", target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return job_counts(proc.stdout + proc.stderr), proc.stdout + proc.stderr


def test_four_line_config_changes_one_width_of_s4(tmp_path):
    """Only what differs from the defaults: S4 at width 50, everything else as config.yaml's coding
    section (6 runs per task x 2 tasks, plus the toy task's relu/feature scan at 2 x 50)."""
    counts, text = _dry_run(tmp_path, "# S4 alone, hidden width 50\ncoding:\n  network:\n    width: 50\n", "coding")
    assert counts["coding_sample"] == 2 * 3 * 2 + 1, counts
    # every run at 50, and the scan (factor 2: 100) only for relu/feature on the toy task
    assert "results/runs/coding/toy/linear-lazy-w50/posterior.h5" in text
    assert "results/runs/coding/toy/relu-feature-w100/posterior.h5" in text and "linear-feature-w100" not in text
    assert not [rule for rule in counts if rule.split("_")[0] in ("train", "estimate", "relevance", "isometry")]


def test_relevance_section_alone_runs_relevance(tmp_path):
    counts, text = _dry_run(tmp_path, "relevance:\n  seed: 1\n", "relevance")
    assert counts["relevance_train_dbn"] == 1 and counts["relevance_claims"] == 1, counts
    # no information_plane section: no S2 training, no trajectories of its networks
    assert "train" not in counts and "relevance_trajectories" not in counts, counts


def test_missing_study_section_is_named(tmp_path):
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    (tmp_path / "own.yaml").write_text("relevance:\n  seed: 1\n")
    proc = snakemake(tmp_path, "--dry-run", "coding")
    assert proc.returncode != 0
    assert "the config has no 'coding' section, so the 'coding' study cannot run" in proc.stdout + proc.stderr


def test_isometry_section_alone_plans_isometry(tmp_path):
    counts, _ = _dry_run(tmp_path, "isometry:\n  sigma_b: 0.05\n", "isometry")
    # config.yaml's three initialisations of the trained networks, each one training job
    assert counts["isometry_train"] == 3 and counts["isometry_claims"] == 1, counts
    assert "train" not in counts and "relevance_train" not in counts and "coding_sample" not in counts, counts


def test_information_plane_section_alone_plans_its_defaults(tmp_path):
    counts, text = _dry_run(tmp_path, "information_plane:\n  seeds: [0]\n", "information_plane")
    # config.yaml's experiment: 4 activations x 2 initialisations, one seed
    assert counts["train"] == 8 and counts["estimate"] == 8, counts
    assert "information_plane/main/tanh-truncnorm-s0" in text and "-s1/" not in text
