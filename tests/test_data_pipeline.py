"""Sources, views and deficits: file formats on fixtures, exact geometry."""

import gzip
import pickle
import tarfile

import numpy as np
import pytest
import torch

from cpkit import ConfigError, deficits, sources, views


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files(tmp_path):
    gen = np.random.default_rng(0)
    images = gen.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    x, y = sources.fashion_mnist("test", root=tmp_path)
    assert np.array_equal(x, images)
    assert y.tolist() == [3, 1, 4, 1, 5] and y.dtype == np.int64
    with pytest.raises(ConfigError, match="apt-get install"):
        sources.fashion_mnist("train", root=tmp_path)
    with pytest.raises(ConfigError, match="split = 'val'"):
        sources.fashion_mnist("val", root=tmp_path)


def test_truncated_idx_file_is_reported(tmp_path):
    path = tmp_path / "x.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(ConfigError, match="header promises 18"):
        sources.read_idx_gz(path)


def _fake_cifar(folder, n=4):
    folder.mkdir(parents=True)
    gen = np.random.default_rng(1)
    expected = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = gen.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = gen.integers(0, 10, n).tolist()
        (folder / name).write_bytes(
            pickle.dumps({"data": data, "labels": labels}, protocol=2)
        )
        expected[name] = (data, labels)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": []}))
    return expected


def test_cifar10_folder_and_tarball(tmp_path):
    expected = _fake_cifar(tmp_path / "cifar-10-batches-py")
    x, y = sources.cifar10(tmp_path, "test", check_md5=False)
    data, labels = expected["test_batch"]
    assert x.shape == (4, 32, 32, 3)
    # channel-planar rows become HWC images
    assert np.array_equal(x[0, :, :, 1].ravel(), data[0, 1024:2048])
    assert y.tolist() == labels
    tarball = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tmp_path / "cifar-10-batches-py", "cifar-10-batches-py")
    x_tar, _ = sources.cifar10(tarball, "train", check_md5=False)
    assert x_tar.shape == (20, 32, 32, 3)
    with pytest.raises(ConfigError, match="fails its md5 check"):
        sources.cifar10(tarball, "test")
    with pytest.raises(ConfigError, match="CIFAR-10 not found"):
        sources.cifar10(tmp_path / "nowhere", "test")


def test_views_split_columns_exactly():
    x = torch.randn(2, 3, 32, 32)
    a, b = views.split_views(x, 16)
    assert torch.equal(a + b, x)  # disjoint halves rebuild the image
    a, b = views.split_views(x, 14)
    assert torch.all(a[..., 14:] == 0) and torch.equal(
        a[..., :14], x[..., :14]
    )
    assert torch.all(b[..., :18] == 0) and torch.equal(
        b[..., 18:], x[..., 18:]
    )
    assert torch.all((a + b)[..., 14:18] == 0)  # the gap nobody sees
    a, b = views.split_views(x, 18)
    assert torch.equal(a[..., 14:18], b[..., 14:18])  # shared columns
    with pytest.raises(ConfigError, match="view_size = 33"):
        views.split_views(x, 33)
    with pytest.raises(ConfigError, match="view_size = 0"):
        views.split_views(x, 0)


def test_augment_is_a_shared_crop_or_its_mirror():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 1, 8, 8)
    assert torch.equal(views.augment(x, gen, pad=0, flip=False), x)
    out = views.augment(x, gen, pad=2, flip=True)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(6):
        windows = [
            padded[i, :, r : r + 8, c : c + 8]
            for r in range(5)
            for c in range(5)
        ]
        windows += [w.flip(-1) for w in windows]
        assert any(torch.equal(out[i], w) for w in windows)


def test_to_tensor_normalises_and_reuses_statistics():
    images = np.random.default_rng(0).integers(0, 256, (50, 4, 4, 3))
    x, mean, std = views.to_tensor(images.astype(np.uint8))
    assert x.shape == (50, 3, 4, 4)
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    x2, _, _ = views.to_tensor(images[:5].astype(np.uint8), mean, std)
    assert torch.allclose(x2, x[:5])
    with pytest.raises(ConfigError, match="must be uint8"):
        views.to_tensor(images.astype(np.float32))


def test_random_view_zeroing_is_exclusive_with_rate_p():
    gen = torch.Generator().manual_seed(0)
    ones = torch.ones(20000, 1, 1, 1)
    a, b = views.random_view_zeroing(ones, ones, 0.1, gen)
    zero_a, zero_b = a.flatten() == 0, b.flatten() == 0
    assert not torch.any(zero_a & zero_b)
    assert abs(zero_a.float().mean() - 0.1) < 0.01
    assert abs(zero_b.float().mean() - 0.1) < 0.01
    with pytest.raises(ConfigError, match="at most 0.5"):
        views.random_view_zeroing(ones, ones, 0.6, gen)


def test_blur_removes_fine_detail_and_keeps_constants():
    const = torch.full((1, 1, 32, 32), 0.7)
    assert torch.allclose(deficits.blur(const), const, atol=1e-6)
    checker = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2
    checker = checker.float()[None, None] * 2 - 1  # +-1, period 2 pixels
    out = deficits.blur(checker)
    assert out.shape == checker.shape
    assert out.abs().max() < 0.1  # 4x down-sampling averages it away


def test_dissociation_permutes_view_b_and_mixes_labels():
    gen = torch.Generator().manual_seed(0)
    n = 4000
    x_b = torch.arange(n, dtype=torch.float32)[:, None, None, None]
    y = torch.arange(n)
    x_perm, labels, from_b = deficits.dissociate(x_b, y, gen)
    perm = x_perm.flatten().long()
    assert sorted(perm.tolist()) == list(range(n))
    assert torch.equal(labels[from_b], perm[from_b])
    assert torch.equal(labels[~from_b], y[~from_b])
    assert abs(from_b.float().mean() - 0.5) < 0.03


def test_deficit_window():
    w = deficits.DeficitWindow("blur", onset=3, length=2, total_epochs=10)
    assert [w.active(e) for e in range(6)] == [0, 0, 0, 1, 1, 0]
    assert not deficits.DeficitWindow("none", 0, 5, 10).active(1)
    with pytest.raises(
        ConfigError,
        match=r"\[150, 200\) ends after the "
        r"run's 180 epochs",
    ):
        deficits.DeficitWindow("blur", 150, 50, 180)
    with pytest.raises(ConfigError, match="deficit = 'noise'"):
        deficits.DeficitWindow("noise", 0, 1, 10)
    with pytest.raises(ConfigError, match="deficit_onset = -1"):
        deficits.DeficitWindow("blur", -1, 1, 10)
