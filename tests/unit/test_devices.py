"""Devices: auto/cpu/cuda resolution, a clear refusal of cuda without a GPU, the device recorded
in every output of the compute stages, and GPU requests that only a profile makes."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from layerinfo.datasets import load_dataset, save_dataset
from layerinfo.workflow.devices import resolve_device, stage_device
from layerinfo.infoplane.estimate import estimate_run
from layerinfo.h5io import open_activations
from layerinfo.isometry.study import information_table, jacobian_table, write_spectra
from layerinfo.tables import aggregate_over_seeds, histories
from layerinfo.training import train_runs
from rulefiles import rule_scripts

ROOT = Path(__file__).resolve().parents[2]

RUN = {
    "study": "information_plane",
    "experiment": "main",
    "run": "tanh-truncnorm-s0",
    "dataset": {"name": "tishby", "test_fraction": 0.2, "split_seed": 0},
    "architecture": {"hidden_widths": [6, 4]},
    "activation": "tanh",
    "initialisation": {"name": "truncnorm", "scheme": "truncated_normal", "gain": 1.0},
    "seed": 0,
    "training": {"optimizer": "adam", "learning_rate": 0.004, "batch_size": 256, "epochs": 2, "l2": 0.0},
    "snapshots": {"count": 2},
}

SECTION = {
    "nonlinearity": "tanh",
    "sigma_b": 0.0,
    "networks": {
        "inits": ["orthogonal"], "sigma_w": [1.0], "seeds": [0],
        "jacobian": {"width": 8, "depths": [2], "inputs": 1, "input_variance": 0.5},
        "information": {"noise": "per_layer_relative", "controls": [], "epsilon": 0.05, "noise_std": 0.5,
                        "width": 4, "depths": [1, 2], "sigma_w": [1.0], "sigma_b": [0.05], "inputs": 4,
                        "draws": {"fit": 8, "eval": 8}, "linearisation_points": 1},
    },
}


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_is_cpu_without_a_gpu_and_cuda_with_one(no_gpu, monkeypatch):
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("cpu") == "cpu"


def test_cuda_without_a_gpu_is_refused_naming_the_key_and_the_fix(no_gpu):
    with pytest.raises(RuntimeError) as info:
        stage_device({"runtime": {"device": {"train": "cuda"}}}, "train")
    message = str(info.value)
    assert "runtime.device.train is 'cuda' but torch sees no GPU" in message
    assert "gpu=1" in message and "'auto' or 'cpu'" in message


def test_settings_and_stages_are_validated():
    with pytest.raises(ValueError, match="must be one of auto, cpu, cuda"):
        resolve_device("gpu")
    with pytest.raises(ValueError, match="stage must be one of train, estimate, isometry"):
        stage_device({}, "plot")
    assert stage_device({}, "estimate") in ("cpu", "cuda")  # absent setting = auto


def test_device_is_recorded_in_activation_file_estimates_history_and_aggregate(tmp_path, no_gpu):
    data = tmp_path / "tishby.npz"
    save_dataset(load_dataset("tishby"), data)
    runs = [RUN, {**RUN, "run": "tanh-truncnorm-s1", "seed": 1}]
    outputs = [tmp_path / "s0.h5", tmp_path / "s1.h5"]
    device = resolve_device("auto")
    train_runs(runs, data, outputs, device=device)
    with open_activations(outputs[0]) as f:
        assert f.attrs["device"] == "cpu"
    estimators = {"kde_upper": {"method": "kde_upper", "noise_variance": 0.1},
                  "bins_fixed": {"method": "bins_fixed", "n_bins": 30}}
    rows = estimate_run(outputs[0], estimators, device)
    assert set(rows["device"]) == {"cpu"}
    assert np.isfinite(rows["I_XT_bits"]).all()
    # as if a second seed had run on a GPU node: the mean table names both devices
    other = rows.assign(seed=1, run="tanh-truncnorm-s1", device="cuda")
    mean = aggregate_over_seeds(pd.concat([rows, other], ignore_index=True))
    assert set(mean["device"]) == {"cpu,cuda"} and set(mean["n_seeds"]) == {2}
    assert set(histories(outputs)["device"]) == {"cpu"}


def test_device_is_recorded_in_isometry_tables_and_spectra(tmp_path, no_gpu):
    table, spectra = jacobian_table(SECTION, "cpu")
    assert set(table["device"]) == {"cpu"}
    write_spectra(spectra, tmp_path / "spectra.npz", "cpu")
    with np.load(tmp_path / "spectra.npz") as saved:
        assert str(saved["device"]) == "cpu"
        assert set(saved.files) == {*spectra, "device"}
    info = information_table(SECTION, "cpu")
    assert set(info["device"]) == {"cpu"}


def _rules_with_script(names):
    """Rules of rules/*.smk whose script is one of ``names``."""
    return {rule for rule, script in rule_scripts().items() if script in names}


def test_gpu_profile_requests_a_gpu_for_exactly_the_device_aware_rules():
    scripts = {p.name for p in (ROOT / "scripts").glob("*.py") if "stage_device" in p.read_text()}
    assert scripts == {"infoplane_train.py", "infoplane_estimate.py", "isometry_jacobian.py",
                       "isometry_information.py", "external_activations.py", "external_estimate.py"}
    gpu_rules = _rules_with_script(scripts)
    assert gpu_rules == {"train", "isometry_train", "estimate", "isometry_estimate", "isometry_jacobian",
                         "isometry_information", "external_activations", "external_estimate"}
    profile = yaml.safe_load((ROOT / "profiles" / "gpu" / "config.yaml").read_text())
    assert {rule for rule, res in profile["set-resources"].items() if res.get("gpu") == 1} == gpu_rules
    # the workflow itself asks for no GPU: only a profile does
    for path in (ROOT / "rules").glob("*.smk"):
        assert not re.search(r"\bgpu\s*=", path.read_text()), path
    default = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    assert "set-resources" not in default
