"""Datasets fetched over the network: MNIST, Fashion-MNIST and CIFAR-10 through torchvision's
dataset classes, and the Shwartz-Ziv–Tishby file ``var_u.mat`` as published.

Each source is a table of files with a checksum and a list of mirrors, after torchvision's
datasets: the file names, MD5 checksums and default mirrors are read from torchvision's own
classes (``MNIST.resources``/``MNIST.mirrors``, ``CIFAR10.url``/``CIFAR10.tgz_md5``), so they
follow the pinned torchvision; ``var_u.mat`` is checked by SHA-256. A mirror is a base URL
(``https://``, ``http://``, ``file://``) or a local directory; the file name is appended.

A file is written as ``<name>.part`` and renamed only once its size and checksum are right, so
a failed, interrupted or corrupted transfer leaves nothing that looks complete.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layerinfo.datasets import Dataset

log = logging.getLogger(__name__)

#: SHA-256 of ``var_u.mat`` as published in the IDNNs repository (1003 bytes).
VAR_U_SHA256 = "0ba9551878a855396a8de0cbaae620788ede1e7b1eb2b8373bbe017d5ea02036"

#: Public copies of ``var_u.mat``: the repository's data folder, then the file as first committed.
VAR_U_MIRRORS = (
    "https://raw.githubusercontent.com/ravidziv/IDNNs/master/data/",
    "https://raw.githubusercontent.com/ravidziv/IDNNs/8c3c7641e6cf911af7502bccd8bd9ae75f68ee87/source/",
)

ALGORITHMS = ("md5", "sha256")
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """No mirror gave a file with the expected size and checksum."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a source: its name on the mirrors and its expected checksum (hex digest)."""

    filename: str
    checksum: str
    algorithm: str = "md5"

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {self.algorithm!r}")


@dataclass(frozen=True)
class Source:
    """A downloadable dataset: its files and the mirrors tried in order by default."""

    name: str
    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]


def _torchvision_class(name: str):
    from torchvision import datasets as tvd

    return {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]


def sources() -> dict[str, Source]:
    """Every downloadable dataset by name, with torchvision's file tables and mirrors."""
    table = {}
    for name in ("mnist", "fashion_mnist"):
        cls = _torchvision_class(name)
        table[name] = Source(name, tuple(RemoteFile(f, md5) for f, md5 in cls.resources), tuple(cls.mirrors))
    cifar = _torchvision_class("cifar10")
    base, filename = cifar.url.rsplit("/", 1)
    table["cifar10"] = Source("cifar10", (RemoteFile(filename, cifar.tgz_md5),), (base + "/",))
    table["tishby_published"] = Source(
        "tishby_published", (RemoteFile("var_u.mat", VAR_U_SHA256, "sha256"),), VAR_U_MIRRORS
    )
    return table


DOWNLOADABLE = ("mnist", "fashion_mnist", "cifar10", "tishby_published")


def file_table(name: str, checksums: dict | None) -> tuple[RemoteFile, ...] | None:
    """The file table of ``name`` with the digests of ``checksums`` (file name -> hex digest,
    config key ``datasets.checksums.<name>``), or ``None`` (the pinned table) when it is empty.

    A mirror that serves its own copies (recompressed, say) needs its own digests; the file
    names must be the pinned ones, because the conversion reads them by name.

    Raises
    ------
    ValueError
        Naming the key, when a file is missing or unknown or a digest is not of the right algorithm.
    """
    if not checksums:
        return None
    if name not in DOWNLOADABLE:
        raise ValueError(f"name must be one of {', '.join(DOWNLOADABLE)}, got {name!r}")
    pinned = sources()[name].files
    key = f"datasets.checksums.{name}"
    expected = [f.filename for f in pinned]
    if sorted(checksums) != sorted(expected):
        raise ValueError(f"invalid config key '{key}': it must give a digest for exactly the files "
                         f"{', '.join(expected)}; got {', '.join(sorted(checksums))}")
    table = []
    for f in pinned:
        digest = str(checksums[f.filename]).lower()
        length = hashlib.new(f.algorithm).digest_size * 2
        if len(digest) != length or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"invalid config key '{key}.{f.filename}': expected a {f.algorithm} digest "
                             f"({length} hex digits), got {checksums[f.filename]!r}")
        table.append(RemoteFile(f.filename, digest, f.algorithm))
    return tuple(table)


def file_checksum(path: str | os.PathLike, algorithm: str) -> str:
    """Hex digest of a file (``algorithm`` one of ``md5``, ``sha256``)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mirror_location(mirror: str, filename: str) -> str:
    """Where ``filename`` lives on ``mirror``: a URL, or a path for a local directory."""
    if "://" in mirror:
        return mirror.rstrip("/") + "/" + filename
    return str(Path(mirror) / filename)


def _transfer(location: str, target: Path, timeout: float) -> None:
    """Copy one URL or local path to ``target``; an incomplete transfer raises ``OSError``."""
    if "://" not in location:
        shutil.copyfile(location, target)
        return
    with urllib.request.urlopen(location, timeout=timeout) as response, open(target, "wb") as out:
        expected = response.headers.get("Content-Length")
        received = 0
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            out.write(chunk)
            received += len(chunk)
    # http.client returns a short body without complaint when the server closes early.
    if expected is not None and received != int(expected):
        raise OSError(f"transfer interrupted: received {received} of {int(expected)} bytes")


def fetch_file(file: RemoteFile, mirrors, directory: str | os.PathLike, *, timeout: float = 60.0,
               config_key: str = "datasets.mirrors") -> Path:
    """Return ``directory/file.filename`` with the expected checksum, downloading it if needed.

    Mirrors are tried in order. Each transfer goes to ``<filename>.part``, which is renamed only
    when complete and verified, and removed otherwise. ``config_key`` is where the user sets
    the mirrors, for the message.

    Raises
    ------
    DownloadError
        When no mirror gave the right file; the message names the file, the expected checksum,
        what each mirror gave, and how to fix it.
    """
    mirrors = list(mirrors)
    if not mirrors:
        raise ValueError("mirrors must list at least one base URL or local directory")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / file.filename
    if dest.exists():
        actual = file_checksum(dest, file.algorithm)
        if actual == file.checksum:
            log.info("%s: present, %s verified", dest, file.algorithm)
            return dest
        log.warning("%s: %s %s instead of %s; removing it and downloading again",
                    dest, file.algorithm, actual, file.checksum)
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    problems = []
    for mirror in mirrors:
        location = mirror_location(mirror, file.filename)
        log.info("fetching %s", location)
        try:
            _transfer(location, part, timeout)
        except (OSError, urllib.error.URLError, http.client.HTTPException) as err:
            part.unlink(missing_ok=True)
            problems.append(f"{location}: {err}")
            log.warning("%s: %s", location, err)
            continue
        except BaseException:  # interrupted (Ctrl-C, job killed): leave no partial file
            part.unlink(missing_ok=True)
            raise
        actual = file_checksum(part, file.algorithm)
        if actual != file.checksum:
            part.unlink()
            problems.append(f"{location}: {file.algorithm} checksum mismatch: expected {file.checksum}, got {actual}")
            log.warning("%s: checksum mismatch", location)
            continue
        os.replace(part, dest)
        log.info("%s: %s verified (%s)", dest, file.algorithm, actual)
        return dest
    tried = "\n".join(f"  - {problem}" for problem in problems)
    raise DownloadError(
        f"could not get {file.filename} ({file.algorithm} {file.checksum}) into {dest}; no file was kept. "
        f"Tried:\n{tried}\n"
        f"To fix: if a mirror is down or unreachable, list another under the config key "
        f"{config_key} (a base URL, a file:// URL or a local directory holding {file.filename}); "
        f"a checksum mismatch means that mirror serves a corrupted or different file: choose another "
        f"mirror or replace the copy in your local directory, then rerun."
    )


def fetch_source(source: Source, directory: str | os.PathLike, mirrors=None, *, timeout: float = 60.0) -> list[Path]:
    """Fetch every file of ``source`` into ``directory``; ``mirrors`` (if given and non-empty)
    replace the source's own."""
    mirrors = list(mirrors) if mirrors else list(source.mirrors)
    key = f"datasets.mirrors.{source.name}"
    return [fetch_file(f, mirrors, directory, timeout=timeout, config_key=key) for f in source.files]


def _from_mnist_like(name: str, directory: Path, files: list[Path]) -> Dataset:
    """Inputs ``(70000, 784)`` float32 in [0, 1] (training images then test images), labels 0..9."""
    from torchvision.datasets.utils import extract_archive

    cls = _torchvision_class(name)
    raw = directory / cls.__name__ / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for path in files:
        # torchvision reads the decompressed idx files from <root>/<class>/raw/; they are
        # decompressed again on every run, so a killed run leaves no stale copy behind.
        extract_archive(str(path), str(raw))
    parts = [cls(root=str(directory), train=train, download=False) for train in (True, False)]
    images = np.concatenate([p.data.numpy() for p in parts]).reshape(-1, 28 * 28)
    labels = np.concatenate([p.targets.numpy() for p in parts]).astype(np.int64)
    return Dataset(name, (images / 255.0).astype(np.float32), labels, 10)


def _from_cifar10(directory: Path, files: list[Path]) -> Dataset:
    """Inputs ``(60000, 3072)`` float32 in [0, 1], channel-major (3, 32, 32) per image."""
    from torchvision.datasets.utils import extract_archive

    extract_archive(str(files[0]), str(directory))
    cls = _torchvision_class("cifar10")
    # The class checks every extracted batch against its own MD5 table.
    parts = [cls(root=str(directory), train=train, download=False) for train in (True, False)]
    images = np.concatenate([p.data for p in parts]).transpose(0, 3, 1, 2).reshape(-1, 3 * 32 * 32)
    labels = np.concatenate([np.asarray(p.targets) for p in parts]).astype(np.int64)
    return Dataset("cifar10", (images / 255.0).astype(np.float32), labels, 10)


def read_var_u(path: str | os.PathLike) -> Dataset:
    """The published ``var_u.mat``, checked bit for bit against :func:`~layerinfo.datasets.tishby.make_tishby`.

    Shwartz-Ziv & Tishby 2017, arXiv:1703.00810: ``F`` is ``(4096, 12)`` binary inputs, ``y``
    ``(1, 4096)`` binary labels.

    Raises
    ------
    ValueError
        If the file's patterns or labels differ from the generated task.
    """
    from scipy.io import loadmat

    from layerinfo.datasets.tishby import make_tishby

    data = loadmat(path)
    inputs, labels = np.asarray(data["F"]), np.asarray(data["y"]).reshape(-1)
    expected_inputs, expected_labels = make_tishby()
    if inputs.shape != expected_inputs.shape or not np.array_equal(inputs, expected_inputs):
        raise ValueError(f"{path}: the input patterns F differ from the generated 12-bit task")
    if labels.shape != expected_labels.shape or not np.array_equal(labels, expected_labels):
        differ = int(np.sum(labels != expected_labels)) if labels.shape == expected_labels.shape else "all"
        raise ValueError(f"{path}: the labels y differ from the generated task in {differ} patterns")
    return Dataset("tishby_published", inputs.astype(np.float32), labels.astype(np.int64), 2)


def download_dataset(name: str, directory: str | os.PathLike, mirrors=None, *, files=None,
                     timeout: float = 60.0) -> Dataset:
    """Fetch (or reuse verified copies of) a dataset's files and convert them to a :class:`Dataset`.

    Parameters
    ----------
    name : str
        One of ``mnist``, ``fashion_mnist``, ``cifar10``, ``tishby_published``.
    directory : path
        Download folder of this dataset (e.g. ``resources/downloads/mnist``).
    mirrors : list of str, optional
        Base URLs or local directories tried in order; empty or ``None`` means the defaults
        (torchvision's mirrors, or the IDNNs repository for ``tishby_published``).
    files : sequence of RemoteFile, optional
        Replaces the file table (names and checksums), e.g. for a private mirror with its own
        files; by default torchvision's table.
    timeout : float
        Seconds without data after which a transfer is abandoned.
    """
    if name not in DOWNLOADABLE:
        raise ValueError(f"name must be one of {', '.join(DOWNLOADABLE)}, got {name!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    source = sources()[name]
    if files is not None:
        source = Source(name, tuple(files), source.mirrors)
    directory = Path(directory)
    paths = fetch_source(source, directory, mirrors, timeout=timeout)
    if name == "tishby_published":
        return read_var_u(paths[0])
    if name == "cifar10":
        return _from_cifar10(directory, paths)
    return _from_mnist_like(name, directory, paths)


def download_and_save(name: str, output: str | os.PathLike, directory: str | os.PathLike, mirrors=None, *,
                      files=None, timeout: float = 60.0) -> Dataset:
    """:func:`download_dataset`, then write the ``.npz`` atomically (nothing on failure)."""
    from layerinfo.datasets import save_dataset

    dataset = download_dataset(name, directory, mirrors, files=files, timeout=timeout)
    save_dataset(dataset, output)
    return dataset
