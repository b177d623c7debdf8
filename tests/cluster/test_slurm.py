"""The workflow on a real single-node SLURM cluster (tests/cluster/slurm.sh), run by `make test`.

The cluster is Debian's SLURM on 127.0.0.1 with a ``cpu`` and a ``gpu`` partition (the GPU is
a gres backed by /dev/null, so GPU jobs are scheduled without hardware and run on the CPU).
The tiny workflow goes through ``snakemake --executor slurm --profile profiles/slurm`` with the
test's account and the squeue status check; the test checks in SLURM's own records that every
job went through SLURM, that training and estimation (the study's, and those of an imported
network of the ``external`` section) ran on the GPU partition, that a job that fails once is
resubmitted with the memory of attempt 2 and the run completes, and that the tables equal those
of a local run.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TINY = ROOT / "tests" / "workflow" / "tiny.yaml"
TABLES = ["results/tables/information_plane.csv", "results/tables/information_plane_runs.csv",
          "results/estimates/external/theirs.csv"]
DEVICE_RULES = ("train", "estimate", "external_activations", "external_estimate")
pytestmark = pytest.mark.slurm


def small_config():
    """tiny.yaml cut to one training job (two seeds) and two estimators, one of them KDE."""
    config = yaml.safe_load(TINY.read_text())
    section = config["information_plane"]
    section["experiments"]["main"] = {"activations": ["tanh"], "initialisations": ["truncnorm"]}
    section["estimators"] = {k: section["estimators"][k] for k in ("bins_fixed", "kde_upper")}
    section["training"]["epochs"] = 6
    # your own network: activations imported and estimated by the external rules
    config["external"] = {"networks": {"theirs": {"activations": "theirs.npz"}}, "repeats": 4,
                          "estimators": {"kde_upper": {"method": "kde_upper"}}}
    return config


def workdir(parent, name):
    work = Path(parent) / name
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(small_config(), sort_keys=False))
    rng = np.random.default_rng(0)
    np.savez(work / "theirs.npz", layer=rng.normal(size=(2, 64, 3)), y=rng.integers(0, 2, 64))
    return work


def make_profile(tmp_path):
    """profiles/slurm with the test cluster's account; the status check uses squeue (no sacct here)."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    profile["default-resources"]["slurm_account"] = "layerinfo-test"
    profile.update({
        "jobs": 4,
        "slurm-status-command": "squeue",
        "slurm-init-seconds-before-status-checks": 5,
        "slurm-keep-successful-logs": True,
        "latency-wait": 5,
    })
    directory = tmp_path / "profile"
    directory.mkdir()
    (directory / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return directory


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("the test cluster needs root on Debian (CI runs it as root on Debian 12)")
    # Not pytest's tmp_path: munged (the munge user) must be able to traverse the directory.
    scratch = Path(tempfile.mkdtemp(prefix="layerinfo-slurm-", dir="/tmp"))
    script = HERE / "slurm.sh"
    try:
        up = subprocess.run([str(script), "up", str(scratch)], capture_output=True, text=True, timeout=300, check=False)
        assert up.returncode == 0, up.stdout + up.stderr
        yield {**os.environ, "SLURM_CONF": str(scratch / "slurm.conf"), "MPLBACKEND": "Agg"}, scratch
    finally:
        subprocess.run([str(script), "down", str(scratch)], timeout=120, check=False)
        shutil.rmtree(scratch, ignore_errors=True)


def jobcomp(scratch):
    """SLURM's job-completion log: {job id: {field: value}}."""
    records = {}
    for line in (scratch / "jobcomp.log").read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        records[fields["JobId"]] = fields
    return records


def slurm_jobs(work):
    """{job id: rule} from the executor's per-job logs (logs/slurm/rule_<rule>/<wildcards>/<id>.log)."""
    return {log.stem: log.relative_to(work / "logs" / "slurm").parts[0].removeprefix("rule_")
            for log in (work / "logs" / "slurm").rglob("*.log")}


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    env, scratch = cluster
    base = tmp_path_factory.mktemp("slurm")
    work = workdir(base, "work")
    cmd = ["timeout", "-s", "INT", "-k", "30", "540",
           sys.executable, "-m", "snakemake", "--snakefile", str(HERE / "Snakefile"),
           "--directory", str(work), "--profile", str(make_profile(base)),
           *TABLES, "results/slurm_retry.txt"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    # The controller still holds the finished jobs (MinJobAge): one line per job.
    show = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True, env=env, check=False)
    controller = [dict(re.findall(r"(\w+)=(\S*)", line)) for line in show.stdout.splitlines()]
    return work, scratch, proc, controller


def test_every_job_went_through_slurm_with_gpu_jobs_on_the_gpu_partition(slurm_run):
    work, scratch, proc, controller = slurm_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    jobs = slurm_jobs(work)
    records = jobcomp(scratch)
    assert set(jobs) <= set(records), (jobs, records)
    rules = sorted(jobs.values())
    assert rules == sorted(["dataset_builtin", "train", "estimate", "aggregate_information_plane",
                            "external_activations", "external_estimate", "fail_once", "fail_once"]), rules
    first_fail_once = min((j for j, r in jobs.items() if r == "fail_once"), key=int)
    for job, rule in jobs.items():
        expected = "gpu" if rule in DEVICE_RULES else "cpu"
        assert records[job]["Partition"] == expected, (rule, records[job])
        state = "FAILED" if job == first_fail_once else "COMPLETED"
        assert records[job]["JobState"] == state, (rule, records[job])
    # What the controller granted: one GPU for each job on the GPU partition, none elsewhere.
    granted = {job["JobId"]: job for job in controller}
    assert set(jobs) <= set(granted), controller
    for job, rule in jobs.items():
        gpus = "gpu:1" in granted[job].get("TresPerJob", "")
        assert gpus == (rule in DEVICE_RULES), (rule, granted[job])


def test_failed_job_is_retried_with_more_memory(slurm_run):
    work, scratch, _, _ = slurm_run
    attempts = (work / "results" / "slurm_retry.txt").read_text().splitlines()
    assert len(attempts) == 2
    first, second = (dict(re.findall(r"(\w+)=(\S+)", a)) for a in attempts)
    assert first["partition"] == second["partition"] == "cpu"
    assert first["job"] != second["job"]
    # profiles/slurm: mem_mb = 1000 * attempt
    assert (int(first["mem_mb"]), int(second["mem_mb"])) == (1000, 2000)
    records = jobcomp(scratch)
    assert records[first["job"]]["JobState"] == "FAILED"
    assert records[second["job"]]["JobState"] == "COMPLETED"
    assert "Tres=cpu=1,mem=2000M" in " ".join(f"{k}={v}" for k, v in records[second["job"]].items())


def test_outputs_equal_a_local_run(slurm_run, tmp_path):
    work, _, proc, _ = slurm_run
    assert proc.returncode == 0, proc.stderr[-5000:]
    local = workdir(tmp_path, "local")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(local), "--cores", "1", *TABLES]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, run.stderr[-3000:]
    for table in TABLES:
        a, b = pd.read_csv(work / table), pd.read_csv(local / table)
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b, check_exact=True)
