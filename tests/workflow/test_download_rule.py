"""Rule dataset_download through real Snakemake: a local mirror holding a wrong file fails the
job with the checksum message and leaves no .npz and no downloaded file; the published var_u.mat
from a local mirror gives the tishby_published dataset."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from layerinfo.datasets import read_dataset
from layerinfo.datasets.tishby import make_tishby

ROOT = Path(__file__).resolve().parents[2]
TINY = Path(__file__).with_name("tiny.yaml")
VAR_U = ROOT.parent / "shared" / "data" / "var_u.mat"
pytestmark = pytest.mark.workflow


def _run(tmp_path, mirrors, target):
    work = tmp_path / "work"
    work.mkdir()
    config = yaml.safe_load(TINY.read_text())
    config["datasets"] = {"mirrors": mirrors, "timeout_seconds": 5}
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
           "--cores", "1", target]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    return work, proc


def test_corrupted_local_mirror_fails_cleanly(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "train-images-idx3-ubyte.gz").write_bytes(b"not the MNIST training images")
    work, proc = _run(tmp_path, {"mnist": [str(mirror)]}, "resources/datasets/mnist.npz")
    assert proc.returncode != 0
    log = (work / "logs" / "datasets" / "mnist.log").read_text()
    assert "could not get train-images-idx3-ubyte.gz (md5 f68b3c2dcbeaaa9fbdd348bbdeb94873)" in log
    assert "md5 checksum mismatch: expected f68b3c2dcbeaaa9fbdd348bbdeb94873, got" in log
    assert "datasets.mirrors.mnist" in log
    assert not (work / "resources" / "datasets" / "mnist.npz").exists()
    assert [p for p in (work / "resources").rglob("*") if p.is_file()] == []


@pytest.mark.skipif(not VAR_U.exists(), reason="the published var_u.mat is not available")
def test_published_file_from_a_local_mirror(tmp_path):
    work, proc = _run(tmp_path, {"tishby_published": [str(VAR_U.parent)]}, "resources/datasets/tishby_published.npz")
    assert proc.returncode == 0, proc.stderr[-3000:]
    dataset = read_dataset(work / "resources" / "datasets" / "tishby_published.npz")
    inputs, labels = make_tishby()
    np.testing.assert_array_equal(dataset.inputs, inputs)
    np.testing.assert_array_equal(dataset.labels, labels)
