"""In-memory image loaders: real Fashion-MNIST and sklearn digits, plus small fake files in the
real CIFAR (pickle), SVHN (.mat), IDX and image-folder formats written by the tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from scipy.io import savemat

from adlib.data import images as im
from adlib.data import manifests as m


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.delenv(m.ENV_MANIFESTS, raising=False)
    m.clear_verification_cache()




def _write_manifest(manifest_dir: Path, name: str, files: dict[str, bytes], unpack: str = "none") -> None:
    doc = {
        "name": name, "title": name, "homepage": "https://example.org", "licence": "test",
        "citation": "Test (2024).", "registration_required": False, "used_by": ["ruff2021"],
        "local_locations": [], "notes": "fake files written by the tests",
        "files": [{"name": fname, "urls": ["https://example.org/" + fname], "md5": None,
                   "sha256": hashlib.sha256(content).hexdigest(), "size": len(content), "unpack": unpack}
                  for fname, content in files.items()],
    }
    (manifest_dir / f"{name}.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST (the Debian package's files) and sklearn digits
# ---------------------------------------------------------------------------------------------


def test_fashion_mnist_train_and_test():
    x, y = im.load_fashion_mnist("train")
    assert x.shape == (60000, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (60000,) and y.dtype == torch.int64
    assert torch.equal(torch.bincount(y), torch.full((10,), 6000))
    xt, yt = im.load_fashion_mnist("test")
    assert xt.shape == (10000, 28, 28) and torch.equal(torch.bincount(yt), torch.full((10,), 1000))
    assert int(x.max()) == 255 and int(x.min()) == 0
    # Loaded from files that verify against the manifest's payload checksums.
    fm = m.load_manifest("fashion_mnist")
    for entry in fm.files:
        path = m.locate_file("fashion_mnist", entry.name)
        _, sha, size = m.file_hashes(path, decompress=path.suffix == ".gz")
        assert (sha, size) == (entry.payload.sha256, entry.payload.size)
    # The exact bytes: the decoded tensor is the IDX payload after its 16-byte header.
    raw = gzip.decompress(m.locate_file("fashion_mnist", "t10k-images-idx3-ubyte.gz").read_bytes())
    assert hashlib.sha256(xt.numpy().tobytes()).hexdigest() == hashlib.sha256(raw[16:]).hexdigest()


def test_fashion_mnist_is_cached_and_registered():
    a = im.load_fashion_mnist("test")
    b = im.load_images("fashion_mnist", "test")
    assert a[0] is b[0] and a[1] is b[1]
    with pytest.raises(ValueError, match="unknown split"):
        im.load_fashion_mnist("val")  # type: ignore[arg-type]


def test_unknown_loader_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        im.load_images("cifar11", "test")
    assert "cifar10" in str(info.value) and "fashion_mnist" in str(info.value) and "svhn" in str(info.value)


def _bilinear_reference(img8: np.ndarray, out: int = 28) -> np.ndarray:
    """Independent NumPy bilinear resize with half-pixel centres (align_corners=False)."""
    n = img8.shape[0]
    scale = n / out
    coords = np.clip((np.arange(out) + 0.5) * scale - 0.5, 0, n - 1)
    lo = np.floor(coords).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = coords - lo
    rows = img8[lo] * (1 - w)[:, None] + img8[hi] * w[:, None]
    return rows[:, lo] * (1 - w)[None, :] + rows[:, hi] * w[None, :]


def test_digits_28():
    from sklearn.datasets import load_digits

    x, y = im.load_digits_28()
    assert x.shape == (1797, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (1797,) and y.dtype == torch.int64
    assert int(x.min()) == 0 and int(x.max()) == 255
    counts = torch.bincount(y)
    assert counts.numel() == 10 and int(counts.min()) >= 174 and int(counts.max()) <= 183
    src = load_digits().images
    for i in (0, 1, 500, 1796):
        expected = np.clip(np.round(_bilinear_reference(src[i]) * 255 / 16), 0, 255)
        assert np.abs(x[i].numpy().astype(int) - expected.astype(int)).max() <= 1, i
    assert im.load_images("digits_28", "all")[0] is x


# ---------------------------------------------------------------------------------------------
# IDX files
# ---------------------------------------------------------------------------------------------


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_idx_raw_gz_and_corrupt(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(images))  # raw
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))  # gzip
    x, y = im.load_fashion_mnist("train", root=tmp_path)
    assert np.array_equal(x.numpy(), images) and y.tolist() == labels.tolist() and y.dtype == torch.int64
    bad = tmp_path / "bad"
    bad.write_bytes(_idx(images)[:-5])
    with pytest.raises(ValueError, match="IDX header says"):
        im.read_idx(bad)
    bad.write_bytes(b"\x89PNG" + b"\0" * 20)
    with pytest.raises(ValueError, match="not an IDX file"):
        im.read_idx(bad)


def _emnist_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def test_emnist_letters_from_the_verified_zip_shift_and_transpose(data_env):
    manifests, data = data_env
    rng = np.random.default_rng(0)
    raw = {"train": rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
           "test": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)}
    file_labels = {"train": np.array([1, 26, 5, 1, 13, 2], dtype=np.uint8),
                   "test": np.array([26, 3, 1], dtype=np.uint8)}
    members = {}
    for split in ("train", "test"):
        members[f"gzip/emnist-letters-{split}-images-idx3-ubyte.gz"] = gzip.compress(_idx(raw[split]))
        members[f"gzip/emnist-letters-{split}-labels-idx1-ubyte.gz"] = gzip.compress(_idx(file_labels[split]))
    # another EMNIST split in the same zip must not be picked up
    members["gzip/emnist-digits-train-images-idx3-ubyte.gz"] = gzip.compress(_idx(raw["test"]))
    archive = _emnist_zip(members)
    _write_manifest(manifests, "emnist", {"gzip.zip": archive}, unpack="zip")
    (data / "emnist").mkdir()
    (data / "emnist" / "gzip.zip").write_bytes(archive)

    x, y = im.load_images("emnist_letters", "train")
    assert x.shape == (6, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert y.tolist() == [0, 25, 4, 0, 12, 1]  # the files' 1..26 shifted to 0..25
    # default: transposed to MNIST orientation, image[n, h, w] == file[n, w, h]
    assert np.array_equal(x.numpy(), raw["train"].transpose(0, 2, 1)) and x.is_contiguous()
    assert x[2, 3, 17].item() == raw["train"][2, 17, 3]
    # transpose=False: the files' orientation, as the ruff2021 code uses them
    xf, yf = im.load_emnist_letters("train", transpose=False)
    assert np.array_equal(xf.numpy(), raw["train"]) and torch.equal(yf, y)
    xt, yt = im.load_emnist_letters("test")
    assert np.array_equal(xt.numpy(), raw["test"].transpose(0, 2, 1)) and yt.tolist() == [25, 2, 0]
    assert (data / "emnist" / "gzip" / "emnist-letters-test-labels-idx1-ubyte.gz").is_file()  # unpacked once

    # root=: the unpacked directory (files under gzip/) or the gzip/ folder itself, not verified
    im.clear_cache()
    xr, yr = im.load_emnist_letters("test", root=data / "emnist")
    assert torch.equal(xr, xt) and torch.equal(yr, yt)
    xr, _ = im.load_emnist_letters("test", root=data / "emnist" / "gzip", transpose=False)
    assert np.array_equal(xr.numpy(), raw["test"])
    with pytest.raises(ValueError, match="split"):
        im.load_emnist_letters("valid")

    # Labels outside 1..26 (e.g. a 0-based file) are an error, not a silent shift to -1.
    bad = data / "bad"
    bad.mkdir()
    (bad / "emnist-letters-train-images-idx3-ubyte").write_bytes(_idx(raw["test"]))
    (bad / "emnist-letters-train-labels-idx1-ubyte").write_bytes(_idx(np.array([0, 1, 2], dtype=np.uint8)))
    with pytest.raises(ValueError, match="1..26"):
        im.load_emnist_letters("train", root=bad)

    # A tampered zip no longer verifies: the default path refuses it.
    im.clear_cache()
    m.clear_verification_cache()
    (data / "emnist" / "gzip.zip").write_bytes(archive[:-10] + b"0" * 10)
    with pytest.raises(m.DatasetMissingError, match="python -m adlib.data fetch emnist"):
        im.load_emnist_letters("train")


# ---------------------------------------------------------------------------------------------
# CIFAR pickles
# ---------------------------------------------------------------------------------------------


def _cifar_images(n: int, offset: int) -> np.ndarray:
    """(n, 3, 32, 32) uint8 whose pixel encodes (image, channel, row, col)."""
    i, c, h, w = np.meshgrid(np.arange(n), np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    return ((i + offset) * 7 + c * 50 + h * 3 + w).astype(np.uint8)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def test_cifar10_from_a_verified_archive(data_env):
    manifests, data = data_env
    members, all_x, all_y = {}, [], []
    for b in range(1, 6):
        x = _cifar_images(4, offset=10 * b)
        y = [(b + k) % 10 for k in range(4)]
        members[f"cifar-10-batches-py/data_batch_{b}"] = pickle.dumps({b"data": x.reshape(4, -1), b"labels": y})
        all_x.append(x)
        all_y += y
    test_x = _cifar_images(3, offset=99)
    members["cifar-10-batches-py/test_batch"] = pickle.dumps({b"data": test_x.reshape(3, -1), b"labels": [7, 8, 9]})
    archive = _tar_gz(members)
    _write_manifest(manifests, "cifar10", {"cifar-10-python.tar.gz": archive})
    (data / "cifar10").mkdir()
    (data / "cifar10" / "cifar-10-python.tar.gz").write_bytes(archive)

    x, y = im.load_cifar10("train")
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert np.array_equal(x.numpy(), np.concatenate(all_x)) and y.tolist() == all_y
    assert x[5, 2, 10, 3].item() == ((1 + 20) * 7 + 2 * 50 + 10 * 3 + 3) % 256  # image 1 of batch 2, (i, c, h, w)
    xt, yt = im.load_images("cifar10", "test")
    assert np.array_equal(xt.numpy(), test_x) and yt.tolist() == [7, 8, 9]

    # A tampered archive no longer verifies: the loader refuses it and says how to get the data.
    (data / "cifar10" / "cifar-10-python.tar.gz").write_bytes(archive[:-10] + b"0" * 10)
    with pytest.raises(m.DatasetMissingError, match="python -m adlib.data fetch cifar10"):
        im.load_cifar10("test")


def test_cifar100_fine_and_coarse_from_an_extracted_dir(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    x = _cifar_images(5, offset=0)
    (folder / "train").write_bytes(pickle.dumps(
        {b"data": x.reshape(5, -1), b"fine_labels": [0, 42, 99, 7, 3], b"coarse_labels": [4, 1, 19, 0, 2]}))
    (folder / "test").write_bytes(pickle.dumps(
        {b"data": x[:2].reshape(2, -1), b"fine_labels": [1, 2], b"coarse_labels": [3, 4]}))
    fx, fy = im.load_cifar100("train", root=tmp_path)
    cx, cy = im.load_cifar100("train", coarse=True, root=tmp_path)
    assert np.array_equal(fx.numpy(), x) and torch.equal(fx, cx)
    assert fy.tolist() == [0, 42, 99, 7, 3] and cy.tolist() == [4, 1, 19, 0, 2]
    assert im.load_cifar100("test", root=folder)[1].tolist() == [1, 2]


# ---------------------------------------------------------------------------------------------
# SVHN .mat
# ---------------------------------------------------------------------------------------------


def _svhn_mat(path: Path, n: int, labels: list[int], offset: int) -> np.ndarray:
    """Write an SVHN-format .mat (X: (32, 32, 3, N) uint8, y: (N, 1)); return images as (N, 3, 32, 32)."""
    nchw = _cifar_images(n, offset)
    savemat(path, {"X": np.transpose(nchw, (2, 3, 1, 0)), "y": np.array(labels, dtype=np.uint8).reshape(-1, 1)})
    return nchw


def test_svhn_mat_layout_and_label_10(data_env):
    manifests, data = data_env
    d = data / "svhn"
    d.mkdir()
    train = _svhn_mat(d / "train_32x32.mat", 4, [10, 1, 2, 10], offset=0)
    test = _svhn_mat(d / "test_32x32.mat", 3, [5, 10, 9], offset=30)
    extra = _svhn_mat(d / "extra_32x32.mat", 2, [3, 10], offset=60)
    _write_manifest(manifests, "svhn", {f.name: f.read_bytes() for f in sorted(d.iterdir())})

    x, y = im.load_svhn("test")
    assert x.shape == (3, 3, 32, 32) and x.dtype == torch.uint8
    assert np.array_equal(x.numpy(), test) and y.tolist() == [5, 0, 9] and y.dtype == torch.int64
    assert im.load_svhn("train")[1].tolist() == [0, 1, 2, 0]
    xa, ya = im.load_images("svhn", "train_and_extra")
    assert np.array_equal(xa.numpy(), np.concatenate([train, extra])) and ya.tolist() == [0, 1, 2, 0, 3, 0]
    # Only the file a split needs must be present.
    (d / "extra_32x32.mat").unlink()
    m.clear_verification_cache()
    assert im.load_svhn("test")[0] is x
    with pytest.raises(m.DatasetMissingError, match="extra_32x32.mat missing"):
        im.load_svhn("extra")


# ---------------------------------------------------------------------------------------------
# Image folders
# ---------------------------------------------------------------------------------------------


def _png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (40, 24), mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, color)
    (img.convert("L") if mode == "L" else img).save(path)


def test_image_folder_with_classes_and_flat(tmp_path):
    _png(tmp_path / "classes" / "blue" / "a.png", (0, 0, 255))
    _png(tmp_path / "classes" / "red" / "b.png", (255, 0, 0), size=(24, 40))
    _png(tmp_path / "classes" / "red" / "c.png", (255, 0, 0), mode="L")  # grayscale becomes RGB
    x, y, classes = im.load_labelled_image_folder(tmp_path / "classes", size=16)
    assert x.shape == (3, 3, 16, 16) and x.dtype == torch.uint8
    assert classes == ("blue", "red") and y.tolist() == [0, 1, 1]
    assert x[0, 2].min() == 255 and x[0, :2].max() == 0  # solid blue survives Resize + CenterCrop
    assert x[1, 0].min() == 255 and x[1, 1:].max() == 0
    assert torch.all(x[2, 0] == x[2, 1])  # gray: equal channels
    _png(tmp_path / "flat" / "1.png", (10, 20, 30))
    _png(tmp_path / "flat" / "2.jpg", (200, 200, 200))
    flat = im.load_image_folder(tmp_path / "flat", size=8)
    assert flat.shape == (2, 3, 8, 8) and flat[0, :, 4, 4].tolist() == [10, 20, 30]
    assert im.load_image_folder(tmp_path / "flat", size=8) is flat  # cached


def test_image_folder_limit_is_a_fixed_random_subset(tmp_path):
    for i in range(10):
        _png(tmp_path / "many" / f"{i:02d}.png", (i * 20, 0, 0), size=(8, 8))
    a = im.load_image_folder(tmp_path / "many", size=8, limit=4, seed=1)
    b = im.load_image_folder(tmp_path / "many", size=8, limit=4, seed=1)
    c = im.load_image_folder(tmp_path / "many", size=8, limit=4, seed=2)
    assert a.shape == (4, 3, 8, 8) and torch.equal(a, b)
    reds = a[:, 0, 0, 0].tolist()
    assert reds == sorted(reds) and len(set(reds)) == 4  # distinct images, kept in file order
    assert not torch.equal(a, c)
    with pytest.raises(FileNotFoundError):
        im.load_image_folder(tmp_path / "nowhere")


def test_textures_unpacks_the_verified_archive(data_env):
    manifests, data = data_env
    pngs = {}
    for cls, color in (("banded", (1, 2, 3)), ("zigzagged", (200, 100, 50))):
        buf = io.BytesIO()
        Image.new("RGB", (50, 40), color).save(buf, format="PNG")
        pngs[f"dtd/images/{cls}/{cls}_0001.png"] = buf.getvalue()
    archive = _tar_gz(pngs)
    _write_manifest(manifests, "textures", {"dtd-r1.0.1.tar.gz": archive}, unpack="tar")
    (data / "textures").mkdir()
    (data / "textures" / "dtd-r1.0.1.tar.gz").write_bytes(archive)
    x, y = im.load_images("textures", "all")
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [0, 1]
    assert x[1, :, 16, 16].tolist() == [200, 100, 50]
    assert (data / "textures" / "dtd" / "images" / "banded" / "banded_0001.png").is_file()


def test_random_300k_npy_becomes_channels_first(data_env):
    manifests, data = data_env
    array = np.random.default_rng(0).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    np.save(buf, array)
    _write_manifest(manifests, "random_300k", {"300K_random_images.npy": buf.getvalue()})
    (data / "random_300k").mkdir()
    (data / "random_300k" / "300K_random_images.npy").write_bytes(buf.getvalue())
    x, y = im.load_images("random_300k", "train")
    assert x.dtype == torch.uint8 and x.shape == (5, 3, 32, 32)
    assert torch.equal(x[2, :, 7, 9], torch.from_numpy(array[2, 7, 9]))
    assert (y == -1).all()
    with pytest.raises(ValueError, match="split"):
        im.load_images("random_300k", "test")


def test_random_300k_rejects_a_wrong_shape(data_env):
    manifests, data = data_env
    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 3, 32, 32), dtype=np.uint8))
    _write_manifest(manifests, "random_300k", {"300K_random_images.npy": buf.getvalue()})
    (data / "random_300k").mkdir()
    (data / "random_300k" / "300K_random_images.npy").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match=r"\(N, 32, 32, 3\)"):
        im.load_images("random_300k", "train")
