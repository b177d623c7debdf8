"""The information-plane reference protocol (split, minibatch order, initial gains, PReLU slope),
the adaptive-KDE readings and EBAB through the public API, against hand-computed values."""

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy import stats

from layerinfo import training
from layerinfo.datasets import load_dataset, save_dataset, train_test_split
from layerinfo.information import information_plane
from layerinfo.init import reference_gain
from layerinfo.models import MLP, MLPEnsemble
from layerinfo.workflow.config import ConfigError, validate_config

from test_training import RUN


@pytest.fixture(scope="module")
def tishby():
    return load_dataset("tishby")


def test_reference_split_is_the_shifted_test_set(tishby):
    train, test = train_test_split(4096, 0.2, seed=123, split="reference")
    assert (len(train), len(test)) == (3277, 819)
    assert train.tolist() == list(range(3277)) and test[0] == 3277
    x, y = tishby.inputs, tishby.labels
    assert (x[test, 0] == 1).all() and (x[test, 1] == 1).all()
    assert y[test].mean() == pytest.approx(0.836, abs=5e-4)
    assert y[train].mean() == pytest.approx(0.437, abs=5e-4)


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="allowed: random, reference"):
        train_test_split(10, 0.2, 0, split="sorted")


def test_reference_gain_of_a_relu_first_layer():
    # std of a normal truncated at +-2 sd: sqrt(1 - 2 * 2 phi(2) / (2 Phi(2) - 1)) = 0.8796
    factor = stats.truncnorm(-2, 2).std()
    assert 2 / math.sqrt(12) * factor == pytest.approx(0.508, abs=1e-3)
    run = {**RUN, "activation": "relu", "architecture": {"hidden_widths": [4000]},
           "initialisation": {"name": "ref", "scheme": "truncated_normal", "gain": "reference"}}
    model = training._member(run, 12, 2)
    assert model.linears[0].weight.std().item() == pytest.approx(2 / math.sqrt(12) * factor, rel=0.01)
    # tanh keeps gain 1
    tanh = training._member({**run, "activation": "tanh"}, 12, 2)
    assert tanh.linears[0].weight.std().item() == pytest.approx(1 / math.sqrt(12) * factor, rel=0.01)
    assert reference_gain("swish") == 2.0 and reference_gain("abs") == 1.0
    with pytest.raises(ValueError, match="no reference gain for activation 'erf'"):
        reference_gain("erf")


def test_prelu_initial_slope_is_configurable():
    members = [MLP(12, [5, 3], 2, "prelu", prelu_init=0.0) for _ in range(2)]
    assert all(float(n.weight.detach()) == 0.0 for m in members for n in m.nonlinearities)
    ensemble = MLPEnsemble(members)
    assert all(float(s.abs().max()) == 0.0 for s in ensemble.slopes)
    assert float(MLP(12, [5], 2, "prelu").nonlinearities[0].weight.detach()) == 0.25


def test_no_shuffle_takes_fixed_sequential_minibatches(tmp_path, tishby, monkeypatch):
    path = tmp_path / "tishby.npz"
    save_dataset(tishby, path)
    run = copy.deepcopy(RUN)
    run["dataset"]["split"] = "reference"
    run["training"].update(shuffle=False, batch_size=1000)
    job = training._EnsembleTraining([run, {**run, "seed": 7}], path, "cpu")
    seen = []
    real_loss = training.training_loss

    def recording_loss(model, x, y, l2):
        seen.append(y.clone())
        return real_loss(model, x, y, l2)

    monkeypatch.setattr(training, "training_loss", recording_loss)
    for _ in range(2):
        job.train_epoch()
    expected = torch.as_tensor(tishby.labels[:3277])
    batches = [expected[i:i + 1000] for i in range(0, 3277, 1000)]
    assert len(seen) == 2 * len(batches)
    for got, want in zip(seen, batches * 2):
        assert torch.equal(got[0], want) and torch.equal(got[1], want)  # every member, every epoch


def test_config_refuses_reference_gain_for_an_activation_without_one():
    root = Path(__file__).resolve().parents[2]
    schema = root / "schemas" / "config.schema.yaml"
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["initialisations"]["truncnorm"]["gain"] = "reference"
    config["information_plane"]["experiments"]["main"]["activations"] = ["tanh", "relu"]
    validate_config(copy.deepcopy(config), schema)  # both have one
    config["information_plane"]["experiments"]["main"]["activations"] = ["tanh", "erf"]
    with pytest.raises(ConfigError, match=r"main.activations\[1\]'.*'erf'"):
        validate_config(copy.deepcopy(config), schema)
    config["initialisations"]["truncnorm"]["gain"] = "the reference"
    with pytest.raises(ConfigError, match="initialisations.truncnorm.gain"):
        validate_config(config, schema)


def test_akde_paper_variance_follows_max_activity_and_range_is_scale_free():
    rng = np.random.default_rng(0)
    t = np.sign(rng.normal(size=(400, 4)))  # tanh at saturation: values +-1, max|T| = 1
    y = rng.integers(0, 2, 400)
    paper = information_plane(t, y, "akde", variant="paper", scale=0.1)
    assert paper == pytest.approx(information_plane(t, y, "kde_upper", noise_variance=0.1), rel=1e-12)
    # range: std 0.1 * (1 - (-1)) = 0.2, variance 0.04
    ranged = information_plane(t, y, "akde", variant="range", scale=0.1)
    assert ranged == pytest.approx(information_plane(t, y, "kde_upper", noise_variance=0.04), rel=1e-12)
    soft = np.tanh(rng.normal(size=(400, 4)))
    assert information_plane(3 * soft, y, "akde", variant="range", scale=0.1) == pytest.approx(
        information_plane(soft, y, "akde", variant="range", scale=0.1), rel=1e-10)
    # the paper form adapts to the activity: variance 0.3 * max|T| for T scaled by 3
    scaled = information_plane(3 * soft, y, "akde", variant="paper", scale=0.1)
    expected = information_plane(3 * soft, y, "kde_upper", noise_variance=0.1 * 3 * np.abs(soft).max())
    assert scaled == pytest.approx(expected, rel=1e-12)


def test_ebab_takes_the_activation_for_the_published_lower_edge():
    rng = np.random.default_rng(1)
    t = np.maximum(rng.normal(size=(500, 6)), 0.0).round(1)  # a ReLU layer with many exact zeros
    y = rng.integers(0, 2, 500)
    relu = information_plane(t, y, "ebab", activation="relu")
    assert relu == information_plane(t, y, "ebab", lower=0.0)
    assert information_plane(np.tanh(t), y, "ebab", activation="tanh") == information_plane(
        np.tanh(t), y, "ebab", lower=-1.000001)
    with pytest.raises(ValueError, match="not both"):
        information_plane(t, y, "ebab", activation="relu", lower=0.0)
    with pytest.raises(ValueError, match="allowed: softmax, tanh"):
        information_plane(t, y, "ebab", activation="rleu")
