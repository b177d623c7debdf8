"""Activation files: round trip, layout, atomic writing, and refusal of bad files."""

import json

import h5py
import numpy as np
import pytest

from layerinfo.h5io import (
    COMPRESSIONS,
    FORMAT,
    FORMAT_VERSION,
    ActivationFileError,
    ActivationWriter,
    open_activations,
)

LAYERS = [{"name": "hidden1", "activation": "tanh", "units": 3}, {"name": "output", "activation": "softmax", "units": 2}]


def _write(path, epochs=(0, 1, 5), n=8, skip=None, history=True, compression="none", values=None):
    rng = np.random.default_rng(0)
    if values is None:
        values = {e: [rng.normal(size=(n, spec["units"])).astype(np.float32) for spec in LAYERS]
                  for e in range(len(epochs))}
    with ActivationWriter(
        path,
        epochs=np.array(epochs),
        layers=LAYERS,
        probe_indices=np.arange(n),
        probe_labels=np.arange(n) % 2,
        probe_train_mask=np.arange(n) < 6,
        attrs={"config": {"run": "r", "seed": 3}, "seed": 3, "device": "cpu"},
        compression=compression,
    ) as w:
        for i in range(len(epochs)):
            if i != skip:
                w.write_snapshot(i, values[i])
        if history:
            hist = {k: np.linspace(0, 1, 6) for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
            w.write_history({"epoch": np.arange(6), **hist})
    return values


def test_round_trip(tmp_path):
    path = tmp_path / "run" / "activations.h5"
    values = _write(path)
    with open_activations(path) as f:
        assert f.epochs.tolist() == [0, 1, 5]
        assert f.labels.tolist() == [0, 1] * 4
        assert f.train_mask.sum() == 6
        assert [l["name"] for l in f.layers] == ["hidden1", "output"]
        assert f.config == {"run": "r", "seed": 3}
        for e in range(3):
            for l in range(2):
                np.testing.assert_array_equal(f.activations(e, l), values[e][l])
        assert f.history()["train_acc"].shape == (6,)
    with h5py.File(path) as h:
        assert h.attrs["format"] == FORMAT and h.attrs["format_version"] == FORMAT_VERSION
        ds = h["layers/0/activations"]
        assert ds.chunks == (1, 8, 3) and ds.compression is None  # default: uncompressed
        assert json.loads(h.attrs["config"])["seed"] == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["activations.h5"]


@pytest.mark.parametrize("compression,filter_name", [("none", None), ("lzf", "lzf"), ("gzip", "gzip")])
def test_each_compression_round_trips_bit_exactly(tmp_path, compression, filter_name):
    """Layer-like values (ReLU zeros, saturated tanh, NaN-free extremes) come back bit for bit."""
    assert set(COMPRESSIONS) == {"none", "lzf", "gzip"}
    rng = np.random.default_rng(1)
    n = 4096
    hidden = np.tanh(3 * rng.normal(size=(n, 3))).astype(np.float32)
    hidden[:, 0] = np.maximum(hidden[:, 0], 0)  # runs of exact zeros, as ReLU gives
    hidden[0] = [np.finfo(np.float32).max, np.finfo(np.float32).tiny, -0.0]
    output = rng.dirichlet([1, 1], size=n).astype(np.float32)
    values = {e: [np.roll(hidden, e, axis=0), np.roll(output, e, axis=0)] for e in range(3)}
    path = tmp_path / f"{compression}.h5"
    _write(path, n=n, compression=compression, values=values)
    with open_activations(path) as f:
        for e in range(3):
            for l in range(2):
                got = f.activations(e, l)
                assert got.dtype == np.float32
                assert got.tobytes() == values[e][l].tobytes(), (e, l)
    with h5py.File(path) as h:
        assert h["layers/0/activations"].compression == filter_name
        assert h["layers/1/activations"].compression == filter_name
        stored = h["layers/0/activations"].id.get_storage_size()
    raw = 3 * n * 3 * 4
    assert stored == raw if compression == "none" else stored < 0.9 * raw


def test_unknown_compression_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown compression 'zstd'; allowed: none, lzf, gzip"):
        _write(tmp_path / "a.h5", compression="zstd")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "activations.h5"
    with pytest.raises(RuntimeError):
        with ActivationWriter(path, epochs=np.array([0]), layers=LAYERS, probe_indices=np.arange(2),
                              probe_labels=np.zeros(2, int), probe_train_mask=np.ones(2, bool), attrs={}):
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_missing_snapshot_is_refused_and_leaves_nothing(tmp_path):
    path = tmp_path / "activations.h5"
    with pytest.raises(ActivationFileError, match=r"epochs \[1\] were never written"):
        _write(path, skip=1)
    assert list(tmp_path.iterdir()) == []


def test_missing_file(tmp_path):
    with pytest.raises(ActivationFileError, match="missing.h5: activation file does not exist"):
        with open_activations(tmp_path / "missing.h5"):
            pass


def test_truncated_file(tmp_path):
    path = tmp_path / "activations.h5"
    _write(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ActivationFileError, match="activations.h5: not a readable HDF5 file"):
        with open_activations(path):
            pass


def test_not_hdf5(tmp_path):
    path = tmp_path / "activations.h5"
    path.write_text("epoch,value\n1,2\n")
    with pytest.raises(ActivationFileError, match="not a readable HDF5 file"):
        with open_activations(path):
            pass


def test_foreign_and_wrong_version_and_incomplete(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as h:
        h.attrs["format"] = "anndata"
    with pytest.raises(ActivationFileError, match="foreign.h5: format is 'anndata', expected 'layerinfo-activations'"):
        with open_activations(foreign):
            pass
    path = tmp_path / "activations.h5"
    _write(path)
    with h5py.File(path, "a") as h:
        h.attrs["format_version"] = 99
    with pytest.raises(ActivationFileError, match="format_version 99 is not supported"):
        with open_activations(path):
            pass
    with h5py.File(path, "a") as h:
        h.attrs["format_version"] = FORMAT_VERSION
        h.attrs["complete"] = False
    with pytest.raises(ActivationFileError, match="incomplete"):
        with open_activations(path):
            pass


def test_estimator_refuses_nan_activations_naming_file_layer_and_epoch(tmp_path):
    from layerinfo.infoplane.estimate import estimate_run

    path = tmp_path / "activations.h5"
    _write(path)
    with h5py.File(path, "a") as h:
        h["layers/1/activations"][2, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"activations.h5: layer 1 \(output\) has NaN or infinite activations at epoch 5"):
        estimate_run(path, {"bins": {"method": "bins_fixed"}})


def _row_writer(path, n=10, **kw):
    return ActivationWriter(path, epochs=np.array([0, 1]), layers=LAYERS, probe_indices=np.arange(n),
                            probe_labels=np.arange(n) % 2, probe_train_mask=np.ones(n, bool), attrs={},
                            chunk_rows=4, **kw)


def test_row_blocks_round_trip_in_chunks_of_rows(tmp_path):
    """A recorder streams each snapshot in blocks of samples; chunks then hold chunk_rows samples."""
    rng = np.random.default_rng(0)
    values = [[rng.normal(size=(10, s["units"])).astype(np.float32) for s in LAYERS] for _ in range(2)]
    path = tmp_path / "rows.h5"
    with _row_writer(path) as w:
        for e in range(2):
            for start in (0, 4, 8):
                for l in range(len(LAYERS)):
                    w.write_rows(e, l, start, values[e][l][start:start + 4])
        w.write_history({"epoch": np.zeros(0, int), **{k: np.zeros(0) for k in
                         ("train_loss", "train_acc", "test_loss", "test_acc")}})
    with h5py.File(path) as f:
        assert f["layers/0/activations"].chunks == (1, 4, 3)
    with open_activations(path) as f:
        for e in range(2):
            for l in range(len(LAYERS)):
                np.testing.assert_array_equal(f.activations(e, l), values[e][l])


def test_row_blocks_out_of_order_or_incomplete_are_refused(tmp_path):
    path = tmp_path / "rows.h5"
    with pytest.raises(ValueError, match=r"rows must be written in order \(next is 0, got 4..8\)"):
        with _row_writer(path) as w:
            w.write_rows(0, 0, 4, np.zeros((4, 3)))
    with pytest.raises(ActivationFileError, match=r"epochs \[0, 1\] were never written"):
        with _row_writer(path) as w:
            for l in range(len(LAYERS)):
                w.write_rows(0, l, 0, np.zeros((9, LAYERS[l]["units"])))  # one sample short
            w.write_history({"epoch": np.zeros(0, int), **{k: np.zeros(0) for k in
                             ("train_loss", "train_acc", "test_loss", "test_acc")}})
    assert list(tmp_path.iterdir()) == []
