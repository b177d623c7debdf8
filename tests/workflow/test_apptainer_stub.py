"""The apptainer command lines Snakemake generates with --profile profiles/apptainer-gpu.

Apptainer cannot run on the test machines, so a *recording stub* named ``apptainer`` is put on
PATH: it answers ``--version``, makes an empty file for ``pull``, and for ``exec`` records its
arguments and runs the shell command on the host. This checks the plumbing only (which image
each stage gets, ``--nv``, the pull of digest-pinned images), nothing about the images.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TINY = Path(__file__).with_name("tiny.yaml")
pytestmark = pytest.mark.workflow
DATA = "docker://ghcr.io/example/layerinfo-data@sha256:" + "1" * 64
COMPUTE = "docker://ghcr.io/example/layerinfo-compute@sha256:" + "2" * 64

STUB = r"""#!/bin/bash
# Recording stub standing in for apptainer (not Apptainer): logs argv, then imitates it.
printf '%s\0' "$@" >> "$APPTAINER_STUB_LOG"; printf '\n' >> "$APPTAINER_STUB_LOG"
case "$1" in
    --version) echo "apptainer version 1.3.6"; exit 0 ;;
    pull) : > "$3"; exit 0 ;;
esac
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    if [ "${args[i]}" = exec ]; then seen_exec=1; fi
    if [ -n "${seen_exec:-}" ] && [ "${args[i+1]:-}" = "-c" ]; then
        exec "${args[i]}" -c "${args[i+2]}"
    fi
done
echo "apptainer stub: unexpected call $*" >&2
exit 2
"""


def calls(log):
    """Each recorded call as its argument list."""
    return [line.split("\0")[:-1] for line in log.read_text().splitlines() if line]


@pytest.fixture(scope="module")
def stub_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("apptainer")
    bin_dir = base / "bin"
    bin_dir.mkdir()
    (bin_dir / "apptainer").write_text(STUB)
    (bin_dir / "apptainer").chmod(0o755)
    work = base / "work"
    work.mkdir()
    config = yaml.safe_load(TINY.read_text())
    section = config["information_plane"]
    section["experiments"]["main"] = {"activations": ["tanh"], "initialisations": ["truncnorm"]}
    section["training"]["epochs"] = 2
    config["runtime"] = {"containers": {"data": DATA, "compute": COMPUTE, "figures": "images/figures.sif"}}
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (work / "images").mkdir()
    (work / "images" / "figures.sif").write_bytes(b"")
    log = base / "apptainer.log"
    env = {**os.environ, "MPLBACKEND": "Agg", "APPTAINER_STUB_LOG": str(log),
           "PATH": os.pathsep.join([str(bin_dir), os.path.dirname(sys.executable), os.environ["PATH"]])}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
           "--profile", str(ROOT / "profiles" / "apptainer-gpu"), "--cores", "1",
           "results/figures/information_plane/main/training_curves.png"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    recorded = calls(log)
    print("\n".join(shlex.join(["apptainer", *call]) for call in recorded))  # shown with pytest -s
    return work, recorded


def test_registry_images_are_pulled_once_by_digest(stub_run):
    work, recorded = stub_run
    pulls = [c for c in recorded if c[0] == "pull"]
    assert sorted(c[-1] for c in pulls) == sorted([DATA, COMPUTE])
    for call in pulls:
        assert call[1] == "--name" and call[2].endswith(".simg")
        assert (work / ".snakemake" / "apptainer" / call[2]).exists()


def test_each_stage_runs_in_its_image_with_nv(stub_run):
    work, recorded = stub_run
    pulled = {c[-1]: c[2] for c in recorded if c[0] == "pull"}
    execs = [c for c in recorded if "exec" in c]
    by_script = {}
    for call in execs:
        command = call[-1]
        script = next(s for s in ("make_dataset", "train", "history", "plot_training_curves") if f".{s}.py" in command)
        by_script[script] = call
    assert sorted(by_script) == ["history", "make_dataset", "plot_training_curves", "train"]
    expected = {"make_dataset": pulled[DATA], "train": pulled[COMPUTE], "history": pulled[COMPUTE],
                "plot_training_curves": "images/figures.sif"}
    for script, call in by_script.items():
        i = call.index("exec")
        assert call[i + 1] == "--home" and call[i + 2] == str(work)
        assert "--nv" in call[i:]
        image = call[-4]
        assert image.endswith(expected[script]), (script, shlex.join(call))
        assert call[-3:-1] == ["bash", "-c"]
    # the stub ran the real commands, so the outputs exist
    assert (work / "results/figures/information_plane/main/training_curves.png").stat().st_size > 10_000
