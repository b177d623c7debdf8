"""Downloads against a real HTTP server on 127.0.0.1 serving files made here: success, checksum
mismatch, server error, interrupted transfer, local mirrors; nothing complete-looking is left
behind by a failure. No traffic leaves 127.0.0.1."""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from layerinfo.datasets import read_dataset
from layerinfo.datasets.download import (
    VAR_U_SHA256,
    DownloadError,
    RemoteFile,
    download_and_save,
    download_dataset,
    fetch_file,
    file_table,
    sources,
)
from layerinfo.datasets.tishby import make_tishby
from localmirror import Server
from localmirror import fake_mnist, md5_table

# reference data beside the checkout (../shared/data), present where the project is developed
VAR_U = Path(__file__).resolve().parents[3] / "shared" / "data" / "var_u.mat"


@pytest.fixture
def mnist_files():
    return fake_mnist(np.random.default_rng(0))


def _table(files):
    """The file table of the fake MNIST: torchvision's names, the test files' MD5s."""
    return [RemoteFile(name, md5) for name, md5 in md5_table(files).items()]


def _complete_looking(directory):
    """Files a later step could take for a finished download (anything but nothing)."""
    return sorted(p.name for p in Path(directory).rglob("*") if p.is_file())


def test_sources_take_torchvision_tables():
    from torchvision.datasets import CIFAR10, MNIST

    table = sources()
    assert [(f.filename, f.checksum) for f in table["mnist"].files] == list(MNIST.resources)
    assert list(table["mnist"].mirrors) == MNIST.mirrors
    assert table["cifar10"].files[0].checksum == CIFAR10.tgz_md5
    assert table["tishby_published"].files[0] == RemoteFile("var_u.mat", VAR_U_SHA256, "sha256")


def test_download_success_converts_through_torchvision(tmp_path, mnist_files):
    files, images, labels = mnist_files
    with Server(files) as server:
        # the first mirror fails: the next one is tried
        mirrors = [server.url("error"), server.url("good")]
        dataset = download_dataset("mnist", tmp_path / "dl", mirrors, files=_table(files))
        assert len(server.requests) == 8
    np.testing.assert_array_equal(dataset.labels, labels)
    np.testing.assert_allclose(dataset.inputs, images / 255.0, rtol=1e-6)
    assert dataset.inputs.dtype == np.float32
    assert dataset.n_classes == 10
    assert not list((tmp_path / "dl").glob("*.part"))
    # a second call reuses the verified copies without any network access
    again = download_dataset("mnist", tmp_path / "dl", ["http://127.0.0.1:9/unused/"], files=_table(files))
    np.testing.assert_array_equal(again.labels, labels)


def test_checksum_mismatch_names_file_checksums_and_fix(tmp_path, mnist_files):
    files, _, _ = mnist_files
    table = _table(files)
    with Server(files) as server, pytest.raises(DownloadError) as info:
        download_dataset("mnist", tmp_path / "dl", [server.url("corrupt")], files=table)
    message = str(info.value)
    first = table[0]
    actual = hashlib.md5(bytes([files[first.filename][0] ^ 0xFF]) + files[first.filename][1:]).hexdigest()
    assert first.filename in message
    assert f"expected {first.checksum}, got {actual}" in message
    assert "datasets.mirrors.mnist" in message and "choose another mirror" in message
    assert _complete_looking(tmp_path / "dl") == []


@pytest.mark.parametrize("mode,expected", [("error", "HTTP Error 500"), ("missing", "HTTP Error 404")])
def test_server_error_leaves_nothing(tmp_path, mnist_files, mode, expected):
    files, _, _ = mnist_files
    output = tmp_path / "mnist.npz"
    with Server(files) as server, pytest.raises(DownloadError, match=expected):
        _save_with_table(files, output, tmp_path / "dl", [server.url(mode)])
    assert not output.exists()
    assert _complete_looking(tmp_path) == []


def test_interrupted_transfer_leaves_nothing(tmp_path, mnist_files):
    files, _, _ = mnist_files
    first = next(iter(files))
    with Server(files) as server, pytest.raises(DownloadError) as info:
        fetch_file(_table(files)[0], [server.url("cut")], tmp_path / "dl")
    half, full = len(files[first]) // 2, len(files[first])
    assert f"received {half} of {full} bytes" in str(info.value)
    assert _complete_looking(tmp_path) == []


def test_corrupted_leftover_is_replaced(tmp_path, mnist_files):
    files, _, _ = mnist_files
    entry = _table(files)[1]
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / entry.filename).write_bytes(b"truncated")
    with Server(files) as server:
        path = fetch_file(entry, [server.url("good")], tmp_path / "dl")
        assert server.requests == [f"/good/{entry.filename}"]
    assert path.read_bytes() == files[entry.filename]


def test_local_directory_and_file_url_mirrors(tmp_path, mnist_files):
    files, _, labels = mnist_files
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in files.items():
        (mirror / name).write_bytes(data)
    # half the files only in a second directory given as a file:// URL
    other = tmp_path / "other"
    other.mkdir()
    for name in list(files)[2:]:
        shutil.move(mirror / name, other / name)
    dataset = download_dataset("mnist", tmp_path / "dl", [str(mirror), other.as_uri() + "/"], files=_table(files))
    np.testing.assert_array_equal(dataset.labels, labels)


@pytest.mark.skipif(not VAR_U.exists(), reason="the published var_u.mat is not available")
def test_published_tishby_file_matches_the_generator(tmp_path):
    with Server({"var_u.mat": VAR_U.read_bytes()}) as server:
        download_and_save("tishby_published", tmp_path / "t.npz", tmp_path / "dl", [server.url("good")])
    dataset = read_dataset(tmp_path / "t.npz")
    inputs, labels = make_tishby()
    assert dataset.name == "tishby_published"
    np.testing.assert_array_equal(dataset.inputs, inputs)
    np.testing.assert_array_equal(dataset.labels, labels)
    assert int(dataset.labels.sum()) == 2118


@pytest.mark.skipif(not VAR_U.exists(), reason="the published var_u.mat is not available")
def test_published_tishby_with_a_flipped_label_is_refused(tmp_path):
    from scipy.io import loadmat, savemat

    data = loadmat(VAR_U)
    y = data["y"].copy()
    y[0, 7] ^= 1
    savemat(tmp_path / "var_u.mat", {"F": data["F"], "y": y})
    entry = RemoteFile("var_u.mat", hashlib.sha256((tmp_path / "var_u.mat").read_bytes()).hexdigest(), "sha256")
    with pytest.raises(ValueError, match="differ from the generated task in 1 patterns"):
        download_dataset("tishby_published", tmp_path / "dl", [str(tmp_path)], files=[entry])


def test_arguments_are_validated(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        download_dataset("imagenet", tmp_path)
    with pytest.raises(ValueError, match="timeout"):
        download_dataset("mnist", tmp_path, timeout=0)
    with pytest.raises(ValueError, match="algorithm"):
        RemoteFile("x", "0", "crc32")


def test_config_checksums_replace_the_pinned_table_and_name_the_key(mnist_files):
    files, _, _ = mnist_files
    assert file_table("mnist", {}) is None and file_table("mnist", None) is None
    table = file_table("mnist", md5_table(files))
    # torchvision's order and algorithm, the config's digests
    assert [f.filename for f in table] == [f.filename for f in sources()["mnist"].files]
    assert all(f.checksum == hashlib.md5(files[f.filename]).hexdigest() and f.algorithm == "md5" for f in table)
    assert file_table("tishby_published", {"var_u.mat": "A" * 64})[0] == RemoteFile("var_u.mat", "a" * 64, "sha256")
    partial = dict(list(md5_table(files).items())[:3])
    with pytest.raises(ValueError, match=r"invalid config key 'datasets.checksums.mnist': .*t10k-labels-idx1-ubyte.gz"):
        file_table("mnist", partial)
    with pytest.raises(ValueError, match=r"'datasets.checksums.mnist': .* got .*other.gz"):
        file_table("mnist", {**md5_table(files), "other.gz": "0" * 32})
    wrong = {**md5_table(files), "train-images-idx3-ubyte.gz": "0" * 64}  # a SHA-256 where MD5 is pinned
    with pytest.raises(ValueError, match=r"'datasets.checksums.mnist.train-images-idx3-ubyte.gz': expected a md5 "
                                         r"digest \(32 hex digits\)"):
        file_table("mnist", wrong)


def _save_with_table(files, output, directory, mirrors):
    from layerinfo.datasets import save_dataset

    save_dataset(download_dataset("mnist", directory, mirrors, files=_table(files)), output)


def test_cifar10_archive_through_torchvision_keeps_channel_major_pixels(tmp_path, monkeypatch):
    """A fake CIFAR-10 archive (2 images per batch); torchvision's per-batch MD5 table is pointed
    at the fake batches through its documented class attributes."""
    import io
    import pickle
    import tarfile

    from torchvision.datasets import CIFAR10

    rng = np.random.default_rng(1)
    batches, members = {}, {}
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batches[name] = (rng.integers(0, 256, size=(2, 3072), dtype=np.uint8), rng.integers(0, 10, size=2).tolist())
        members[name] = pickle.dumps({"data": batches[name][0], "labels": batches[name][1]})
    members["batches.meta"] = pickle.dumps({"label_names": [f"class{i}" for i in range(10)]})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = buffer.getvalue()
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in members.items()}
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names", "md5": md5["batches.meta"]})
    table = [RemoteFile("cifar-10-python.tar.gz", hashlib.md5(archive).hexdigest())]
    with Server({"cifar-10-python.tar.gz": archive}) as server:
        dataset = download_dataset("cifar10", tmp_path / "dl", [server.url("good")], files=table)
    order = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
    expected = np.concatenate([batches[name][0] for name in order])
    assert dataset.inputs.shape == (12, 3072) and dataset.n_classes == 10
    np.testing.assert_allclose(dataset.inputs, expected / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(dataset.labels, [label for name in order for label in batches[name][1]])
