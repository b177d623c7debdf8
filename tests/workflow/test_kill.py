"""The workflow killed with SIGKILL at random moments, rerun until complete, gives outputs identical
to an uninterrupted run (activation files and tables)."""

import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from layerinfo.workflow.killtest import compare_outputs, run_with_kills

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow


def _config():
    config = yaml.safe_load((Path(__file__).with_name("tiny.yaml")).read_text())
    config["information_plane"]["training"]["epochs"] = 300  # long enough to be killed mid-training
    config["information_plane"]["estimators"] = {
        "bins_fixed": {"method": "bins_fixed"},
        "kde_upper": {"method": "kde_upper", "noise_variance": 0.1},
    }
    config["runtime"] = {"checkpoint_seconds": 0}
    return config


# What is compared: the activation files and every table (figures are not compared, so their
# jobs are left out of both runs).
TARGETS = ["results/tables/claims.csv", "results/tables/information_plane.csv",
           "results/tables/information_plane_history.csv"]


def _command(work, *extra):
    return [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
            "--cores", "2", *extra]


def test_killed_workflow_completes_with_identical_outputs(tmp_path):
    dirs = {}
    for name in ("reference", "killed"):
        dirs[name] = tmp_path / name
        dirs[name].mkdir()
        (dirs[name] / "config.yaml").write_text(yaml.safe_dump(_config(), sort_keys=False))
    start = time.monotonic()
    reference = run_with_kills(_command(dirs["reference"], *TARGETS), _command(dirs["reference"], "--unlock"), 0,
                               np.random.default_rng(0), (0, 0))
    uninterrupted = time.monotonic() - start
    report = run_with_kills(_command(dirs["killed"], *TARGETS), _command(dirs["killed"], "--unlock"), 4,
                            np.random.default_rng(3), (2.0, 0.3 * uninterrupted))
    print(f"survived {report.kills} kills at {report.kill_times} s in {report.attempts} attempts; "
          f"{report.seconds:.0f} s against {uninterrupted:.0f} s uninterrupted "
          f"({report.seconds - uninterrupted:.0f} s redone or restarted)")
    # kills come at random moments; a run may finish before the last one is due
    assert reference.kills == 0 and report.kills >= 2
    assert compare_outputs(dirs["reference"] / "results", dirs["killed"] / "results") == []
    assert not list((dirs["killed"] / "results").rglob("*.partial"))
    assert not list((dirs["killed"] / "results").rglob("*.checkpoint.pt"))
