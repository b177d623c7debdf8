"""Workflow jobs in a real Apptainer image: the data stage, built from containers/ and run with --sdm apptainer.

tests/containers/apptainer.sh puts Apptainer on PATH (sid's 1.4.5 in a cached root tree, since
bookworm has none); containers/build.sh builds the debootstrap base (no registry is reachable
here) and the ``data`` stage image on it, the same recipe a cluster builds on the registry
base. The images are cached by their inputs in LAYERINFO_IMAGE_CACHE (default
/var/tmp/layerinfo-apptainer/images): a changed recipe or lock rebuilds them.

Then the dataset jobs (rule dataset_builtin: tishby and digits) run twice in fresh work
directories, once with ``--sdm apptainer`` and runtime.containers.data = the built image and
once without containers, and the test checks that

* every job's Python in the container run was the image's (/opt/venv, its lock file
  /opt/layerinfo/data.lock present, numpy from /opt/venv), recorded by a ``sitecustomize`` put on
  PYTHONPATH; in the run without containers, the host's;
* the datasets of the two runs hold the same arrays (the .npz zip entries carry write times, so
  the files themselves differ);
* the image passes its %test (``apptainer test``) and holds Python >= 3.11 (Snakemake binds
  the host's Python search path into ``script:`` jobs).

Cost on the 2-core CI machine: see benchmarks/README.md, "The test suite" (about 12-15 minutes with
an empty cache, most of it the 3 GB data image with torch; about a minute with the cache).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TINY = Path(__file__).with_name("tiny.yaml")
SCRIPT = ROOT / "tests" / "containers" / "apptainer.sh"
CACHE = Path(os.environ.get("LAYERINFO_IMAGE_CACHE", "/var/tmp/layerinfo-apptainer/images"))
DATASETS = ["tishby", "digits"]
pytestmark = pytest.mark.workflow

# Imported by every Python started with this directory on PYTHONPATH: records where it runs.
PROBE = '''
import json, os, sys
if os.environ.get("LAYERINFO_PROBE_LOG") and sys.argv and sys.argv[0].endswith(".py"):
    import numpy
    with open(os.environ["LAYERINFO_PROBE_LOG"], "a") as log:
        log.write(json.dumps({"script": os.path.basename(sys.argv[0]), "prefix": sys.prefix,
                              "executable": sys.executable, "version": list(sys.version_info[:3]),
                              "numpy": numpy.__file__,
                              "lock": os.path.exists("/opt/layerinfo/data.lock")}) + "\\n")
'''


def run(cmd, env, timeout, cwd=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd, check=False)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def apptainer():
    """PATH with the apptainer wrapper, and the built data image."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("the Apptainer test needs root on Linux (CI runs it as root on Debian 12)")
    scratch = Path(tempfile.mkdtemp(prefix="layerinfo-apptainer-", dir="/tmp"))
    try:
        up = run([str(SCRIPT), "up", str(scratch)], os.environ, timeout=1200)
        env = {**os.environ, "PATH": os.pathsep.join([str(scratch / "bin"), os.environ["PATH"]])}
        build = run([str(ROOT / "containers" / "build.sh"), "-b", "debootstrap", "-o", str(CACHE), "data"],
                    env, timeout=2400)
        print(up.stderr + build.stdout[-2000:])  # shown with pytest -s: times and sizes
        yield env, CACHE / "data.sif"
    finally:
        subprocess.run([str(SCRIPT), "down", str(scratch)], timeout=60, check=False)
        shutil.rmtree(scratch, ignore_errors=True)


def workflow(parent, name, env, containers=None):
    """Run the dataset jobs in a fresh work directory; returns it and the probe records."""
    work = parent / name
    work.mkdir()
    config = yaml.safe_load(TINY.read_text())
    if containers:
        config["runtime"] = {"containers": containers}
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    probe = parent / "probe"
    probe.mkdir(exist_ok=True)
    (probe / "sitecustomize.py").write_text(PROBE)
    log = work / "probe.jsonl"
    env = {**env, "LAYERINFO_PROBE_LOG": str(log), "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(probe), env.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
           "--cores", "2", *[f"resources/datasets/{name}.npz" for name in DATASETS]]
    if containers:
        # the checkout (PYTHONPATH=<checkout>/src) is outside the work directory: bind it in
        cmd += ["--sdm", "apptainer", f"--apptainer-args=--bind {ROOT}"]
    proc = run(cmd, env, timeout=900)
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return work, records, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def runs(apptainer, tmp_path_factory):
    env, image = apptainer
    parent = tmp_path_factory.mktemp("apptainer-runs")
    inside = workflow(parent, "inside", env, containers={"data": str(image), "compute": str(image),
                                                         "figures": str(image)})
    outside = workflow(parent, "outside", env)
    return inside, outside


def test_image_passes_its_test(apptainer):
    env, image = apptainer
    test = run(["apptainer", "test", str(image)], env, timeout=300, cwd="/")
    assert "torchvision" in test.stdout + test.stderr
    version = run(["apptainer", "exec", str(image), "python", "-c",
                   "import sys; print(sys.prefix, *sys.version_info[:2])"], env, timeout=300, cwd="/")
    prefix, major, minor = version.stdout.split()
    assert prefix == "/opt/venv" and (int(major), int(minor)) >= (3, 11)


def test_jobs_ran_inside_the_image(runs):
    (_, inside, output), (_, outside, _) = runs
    assert "apptainer" in output.lower()
    assert len(inside) == len(DATASETS) and all("data_builtin" in r["script"] for r in inside), inside
    for record in inside:
        assert record["prefix"] == "/opt/venv" and record["executable"].startswith("/opt/venv/"), record
        assert record["numpy"].startswith("/opt/venv/lib/python3.11/site-packages/"), record
        assert record["lock"] and record["version"][:2] == [3, 11], record
    assert len(outside) == len(DATASETS)
    for record in outside:
        assert record["prefix"] == sys.prefix and not record["lock"], record


def test_datasets_equal_those_made_without_containers(runs):
    (inside, _, _), (outside, _, _) = runs
    for name in DATASETS:
        a = np.load(inside / f"resources/datasets/{name}.npz")
        b = np.load(outside / f"resources/datasets/{name}.npz")
        assert sorted(a.files) == sorted(b.files) and a.files, name
        for key in a.files:
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), (name, key)
