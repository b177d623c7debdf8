"""Training: snapshot schedule, loss, determinism, and that the networks learn the task."""

import copy

import h5py
import numpy as np
import pytest
import torch

from layerinfo.datasets import load_dataset, read_dataset, save_dataset, train_test_split
from layerinfo.h5io import open_activations
from layerinfo.models import MLP, MLPEnsemble
from layerinfo.training import (
    TrainingDivergedError,
    _make_optimizer,
    evaluate_all,
    snapshot_epochs,
    train_run,
    train_runs,
    training_loss,
)

RUN = {
    "study": "information_plane",
    "experiment": "main",
    "run": "tanh-truncnorm-s0",
    "dataset": {"name": "tishby", "test_fraction": 0.2, "split_seed": 0},
    "architecture": {"hidden_widths": [10, 7, 5, 4, 3]},
    "activation": "tanh",
    "initialisation": {"name": "truncnorm", "scheme": "truncated_normal", "gain": 1.0},
    "seed": 0,
    "training": {"optimizer": "adam", "learning_rate": 0.004, "batch_size": 256, "epochs": 8, "l2": 0.0},
    "snapshots": {"count": 4},
}


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tishby.npz"
    save_dataset(load_dataset("tishby"), path)
    return path


def test_snapshot_schedule_matches_reference_code():
    epochs = snapshot_epochs(8000, 400)
    assert len(epochs) == 274 + 1
    assert epochs[:20].tolist() == list(range(20))
    assert epochs[-2:].tolist() == [7999, 8000]
    assert np.all(np.diff(epochs) > 0)


def test_split_is_seeded_and_80_20():
    train, test = train_test_split(4096, 0.2, seed=0)
    assert len(test) == 819 and len(train) == 3277
    assert np.intersect1d(train, test).size == 0
    again, _ = train_test_split(4096, 0.2, seed=0)
    other, _ = train_test_split(4096, 0.2, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_dataset_file_round_trip(dataset_file, tmp_path):
    data = read_dataset(dataset_file)
    assert data.inputs.shape == (4096, 12) and data.labels.sum() == 2118 and data.n_classes == 2
    bad = tmp_path / "bad.npz"
    bad.write_text("not an archive")
    with pytest.raises(ValueError, match="bad.npz: not a readable layerinfo dataset file"):
        read_dataset(bad)


def test_l2_penalises_hidden_weights_only():
    torch.manual_seed(0)
    model = MLPEnsemble([MLP(12, [10, 7], 2, "tanh") for _ in range(2)])
    x, y = torch.randn(2, 12, 32), torch.randint(0, 2, (2, 32))
    grads = {}
    for l2 in (0.0, 0.1):
        model.zero_grad()
        training_loss(model, x, y, l2).backward()
        grads[l2] = [p.grad.clone() for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]
    for name, g0, g1, p in zip(names, grads[0.0], grads[0.1], model.parameters()):
        if name in ("weights.0", "weights.1"):
            # d/dW of 0.1 * ||W||^2 / 2 is 0.1 W
            assert torch.allclose(g1 - g0, 0.1 * p.detach(), atol=1e-6), name
        else:
            assert torch.allclose(g1, g0), name


def test_members_do_not_interact():
    torch.manual_seed(2)
    model = MLPEnsemble([MLP(12, [10, 7], 2, "relu") for _ in range(3)])
    x, y = torch.randn(3, 12, 16), torch.randint(0, 2, (3, 16))
    training_loss(model, x, y, 0.0).backward()
    before = [p.grad[1].clone() for p in model.parameters()]
    model.zero_grad()
    x2 = x.clone()
    x2[0] += 5.0  # change member 0's batch only
    training_loss(model, x2, y, 0.0).backward()
    for b, p in zip(before, model.parameters()):
        assert torch.equal(b, p.grad[1])


@pytest.mark.parametrize("activation", ["tanh", "prelu", "relu", "linear"])
def test_ensemble_gradients_are_each_members_own(activation):
    """One step's gradients of the ensemble loss equal, member by member, autograd on the member
    alone (its own mean cross-entropy plus l2 * sum(W**2) / 2 over its hidden weights)."""
    torch.manual_seed(3)
    l2 = 0.015
    members = [MLP(12, [10, 7, 5], 2, activation) for _ in range(4)]
    if activation == "prelu":
        for k, m in enumerate(members):
            for nl in m.nonlinearities:
                nl.weight.data.fill_(0.1 * (k + 1))
    ensemble = MLPEnsemble(members)
    x, y = torch.randn(4, 12, 32), torch.randint(0, 2, (4, 32))
    training_loss(ensemble, x, y, l2).backward()
    for k, m in enumerate(members):
        loss = torch.nn.functional.cross_entropy(m(x[k].T), y[k])
        loss = loss + 0.5 * l2 * sum((lin.weight**2).sum() for lin in m.hidden_linears)
        loss.backward()
        for l, lin in enumerate(m.linears):
            torch.testing.assert_close(ensemble.weights[l].grad[k], lin.weight.grad, rtol=0, atol=1e-6)
            torch.testing.assert_close(ensemble.biases[l].grad[k, :, 0], lin.bias.grad, rtol=0, atol=1e-6)
        if activation == "prelu":
            for l, nl in enumerate(m.nonlinearities):
                torch.testing.assert_close(ensemble.slopes[l].grad[k].reshape(1), nl.weight.grad, rtol=0, atol=1e-6)
        assert any(lin.weight.grad.abs().max() > 1e-3 for lin in m.linears)  # a real gradient, not zeros


@pytest.mark.parametrize("name,momentum", [("adam", 0.0), ("sgd", 0.9)])
def test_optimizer_is_fused_on_the_cpu(name, momentum):
    params = [torch.nn.Parameter(torch.ones(3))]
    optimizer = _make_optimizer(params, {"optimizer": name, "learning_rate": 0.1, "momentum": momentum})
    assert optimizer.defaults["fused"] is True
    params[0].sum().backward()
    optimizer.step()
    assert torch.allclose(params[0].detach(), torch.full((3,), 0.9))  # both take a first step of lr * sign


def test_one_pass_evaluation_equals_separate_splits(dataset_file):
    """The history from one forward over all samples equals forward passes over each split alone."""
    torch.manual_seed(4)
    data = read_dataset(dataset_file)
    model = MLPEnsemble([MLP(12, [10, 7, 5, 4, 3], 2, "tanh") for _ in range(3)])
    train_idx, test_idx = train_test_split(len(data.labels), 0.2, 0)
    x = torch.as_tensor(data.inputs, dtype=torch.float32)
    y = torch.as_tensor(data.labels)
    splits = {"train": torch.as_tensor(train_idx), "test": torch.as_tensor(test_idx)}
    scores, layers = evaluate_all(model, x.T.contiguous(), y, splits, layers=True)
    assert [t.shape for t in layers] == [(3, u, 4096) for u in (10, 7, 5, 4, 3, 2)]
    for name, idx in splits.items():
        with torch.no_grad():
            logits = model(x[idx].T.contiguous())  # (M, classes, n): this split only
        for k in range(3):
            loss = torch.nn.functional.cross_entropy(logits[k].T, y[idx]).item()
            acc = (logits[k].argmax(dim=0) == y[idx]).float().mean().item()
            assert scores[name][0][k] == pytest.approx(loss, rel=1e-6, abs=0)
            assert scores[name][1][k] == pytest.approx(acc, rel=1e-6, abs=0)
        assert 0.2 < scores[name][1].mean() < 0.8  # untrained: about chance


def test_same_config_gives_identical_file_and_seed_matters(dataset_file, tmp_path):
    a, b, c = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "c.h5"
    train_run(RUN, dataset_file, a)
    train_run(RUN, dataset_file, b)
    other = copy.deepcopy(RUN)
    other["seed"] = 1
    train_run(other, dataset_file, c)
    with h5py.File(a) as fa, h5py.File(b) as fb, h5py.File(c) as fc:
        assert fa["epochs"][()].tolist() == [0, 1, 3, 7, 8]  # 2**linspace(0, 3, 4) - 1, plus 8
        for l in range(6):
            name = f"layers/{l}/activations"
            np.testing.assert_array_equal(fa[name][()], fb[name][()])
            assert not np.array_equal(fa[name][()], fc[name][()])
        np.testing.assert_array_equal(fa["history/train_loss"][()], fb["history/train_loss"][()])
        assert fa.attrs["config_hash"] == fb.attrs["config_hash"] != fc.attrs["config_hash"]
        assert fa.attrs["device"] == "cpu"


@pytest.mark.parametrize("activation,init", [("tanh", "truncated_normal"), ("relu", "orthogonal")])
def test_network_learns_the_task(dataset_file, tmp_path, activation, init):
    run = copy.deepcopy(RUN)
    run["activation"] = activation
    run["initialisation"] = {"name": init, "scheme": init}
    run["training"]["epochs"] = 150
    run["snapshots"]["count"] = 3
    path = train_run(run, dataset_file, tmp_path / "run.h5")
    with open_activations(path) as f:
        hist = f.history()
        final = f.activations(len(f.epochs) - 1, f.n_layers - 1)
    assert hist["train_loss"][-1] < 0.8 * hist["train_loss"][0]
    assert hist["train_acc"][-1] > 0.8
    assert hist["test_acc"][-1] > 0.7
    np.testing.assert_allclose(final.sum(axis=1), 1.0, rtol=1e-5)  # softmax output recorded


@pytest.mark.parametrize(
    "activation,init,l2",
    [("tanh", "truncated_normal", 0.015), ("prelu", "orthogonal", 0.0)],
)
def test_ensemble_member_matches_the_run_trained_alone(dataset_file, tmp_path, activation, init, l2):
    """Same seed, same batches, same arithmetic up to the rounding of batched products: after 20
    epochs the recorded activations of a member of a 5-member ensemble and of the same run alone
    agree to 1e-5 (measured: 5e-7 for tanh with L2, 3e-6 for PReLU), the history to 1e-6."""
    runs = []
    for seed in (3, 4, 5, 6, 7):
        run = copy.deepcopy(RUN)
        run.update(seed=seed, run=f"{activation}-s{seed}", activation=activation)
        run["initialisation"] = {"name": init, "scheme": init}
        run["training"].update(l2=l2, epochs=20)
        runs.append(run)
    together = train_runs(runs, dataset_file, [tmp_path / f"m{k}.h5" for k in range(5)])
    again = train_runs(runs, dataset_file, [tmp_path / f"again{k}.h5" for k in range(5)])
    alone = train_run(runs[1], dataset_file, tmp_path / "alone.h5")
    with h5py.File(together[1]) as a, h5py.File(again[1]) as a2, h5py.File(alone) as b, \
            h5py.File(together[0]) as other:
        for name in [f"layers/{l}/activations" for l in range(6)]:
            np.testing.assert_array_equal(a[name][()], a2[name][()], err_msg=name)  # same ensemble: exact
            # the same initialisation: equal up to the rounding of the batched product, whose
            # kernel depends on the CPU (bit-equal on some, 1.5e-7 apart on others); another
            # initialisation would differ by O(0.1)
            np.testing.assert_allclose(a[name][0], b[name][0], rtol=0, atol=1e-6, err_msg=name)
            np.testing.assert_allclose(a[name][()], b[name][()], rtol=0, atol=1e-5, err_msg=name)
        for name in ["history/train_loss", "history/test_loss", "history/train_acc", "history/test_acc"]:
            np.testing.assert_array_equal(a[name][()], a2[name][()], err_msg=name)
            np.testing.assert_allclose(a[name][()], b[name][()], rtol=0, atol=1e-6, err_msg=name)
        assert not np.allclose(a["layers/0/activations"][-1], other["layers/0/activations"][-1], atol=1e-2)
        assert a.attrs["seed"] == 4 and a.attrs["config"] == b.attrs["config"]
        assert a.attrs["ensemble_size"] == 5 and b.attrs["ensemble_size"] == 1


def test_ensemble_refuses_runs_that_differ_in_shared_settings(dataset_file, tmp_path):
    other = copy.deepcopy(RUN)
    other["training"]["learning_rate"] = 0.1
    with pytest.raises(ValueError, match="differ in training"):
        train_runs([RUN, other], dataset_file, [tmp_path / "a.h5", tmp_path / "b.h5"])
    assert list(tmp_path.iterdir()) == []


def test_diverging_training_stops_with_a_clear_error_and_no_file(dataset_file, tmp_path):
    run = copy.deepcopy(RUN)
    run["activation"] = "linear"
    run["training"].update(optimizer="sgd", learning_rate=1e6, epochs=5)
    with pytest.raises(TrainingDivergedError, match=r"run tanh-truncnorm-s0: training loss is (nan|inf) at epoch \d"):
        train_run(run, dataset_file, tmp_path / "run.h5")
    assert list(tmp_path.iterdir()) == []
