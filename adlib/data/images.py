"""Image datasets as in-memory uint8 tensors (decoded once per process, no per-batch PIL work).

Every loader returns ``(images, labels)``: ``images`` is ``uint8`` with shape ``(N, H, W)`` for
grayscale sets or ``(N, 3, H, W)`` for colour sets, ``labels`` is ``int64`` with shape ``(N,)``
(``-1`` where a set has no labels). Files are found and verified through
:func:`adlib.data.manifests.locate`; pass ``root=`` to read files from a directory of your own
instead (no verification).

**The returned tensors are cached and shared between callers: never modify them in place**
(``x = x.float() / 255`` is fine, ``x.div_(255)`` is not); call ``.clone()`` if you must.

Use :func:`load_images` with a name from :data:`IMAGE_LOADERS` for a uniform entry point::

    x, y = load_images("fashion_mnist", "test")   # uint8 (10000, 28, 28), int64 (10000,)
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
import tarfile
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
import torch

from adlib.data.manifests import ensure_unpacked, locate_file

Split = Literal["train", "test"]
PathLike = str | os.PathLike[str]

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_EMNIST_LETTERS_FILES = {
    split: (f"emnist-letters-{split}-images-idx3-ubyte.gz", f"emnist-letters-{split}-labels-idx1-ubyte.gz")
    for split in ("train", "test")
}


def _check_split(split: str, allowed: Sequence[str]) -> None:
    if split not in allowed:
        raise ValueError(f"unknown split {split!r}; expected one of {list(allowed)}")


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


# --------------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST, EMNIST)
# --------------------------------------------------------------------------------------------


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw; detected from the content) into a NumPy array."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4].hex()})")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes) but the file has {len(data)}")
    # astype copies: the result is writeable and in native byte order.
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_in_root(root: PathLike, filename: str, folder: str = "") -> Path:
    """``root/filename`` or its uncompressed twin (``.gz`` removed); with ``folder``, also looked
    for in ``root/folder`` (an archive's top-level directory, e.g. EMNIST's ``gzip/``)."""
    root = Path(root)
    for directory in (root, root / folder) if folder else (root,):
        for name in (filename, filename.removesuffix(".gz")):
            if (directory / name).is_file():
                return directory / name
    where = f"{root} or {root / folder}" if folder else str(root)
    raise FileNotFoundError(f"neither {filename} nor {filename.removesuffix('.gz')} is in {where}")


@functools.lru_cache(maxsize=16)
def _idx_pair_cached(images_key: tuple[str, int, int], labels_key: tuple[str, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(images_key[0])
    labels = read_idx(labels_key[0])
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{images_key[0]}: expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{labels_key[0]}: {labels.shape[0]} labels for {images.shape[0]} images")
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def _idx_paths(dataset: str, names: Sequence[str], root: PathLike | None, archive: str | None = None,
               folder: str = "") -> list[Path]:
    """The IDX files ``names`` of ``dataset``: from ``root`` (directly or in ``root/folder``; not
    verified), else each verified through the manifest, or, where the manifest lists one
    ``archive`` holding them, inside that verified archive once unpacked (under ``folder``)."""
    if root is not None:
        return [_find_in_root(root, name, folder) for name in names]
    if archive is None:
        return [locate_file(dataset, name) for name in names]
    directory = ensure_unpacked(dataset, archive)
    return [_find_in_root(directory, name, folder) for name in names]


def _load_idx_dataset(dataset: str, split: str, root: PathLike | None) -> tuple[torch.Tensor, torch.Tensor]:
    _check_split(split, ("train", "test"))
    images_path, labels_path = _idx_paths(dataset, _MNIST_FILES[split], root)
    return _idx_pair_cached(_stat_key(images_path), _stat_key(labels_path))


def load_fashion_mnist(split: Split, root: PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST ``split``: uint8 images ``(N, 28, 28)`` and int64 labels ``(N,)``.

    60,000 train / 10,000 test. Reads the IDX files (``.gz`` or raw) found by
    ``locate("fashion_mnist")`` (e.g. the Debian package's copy), or from ``root``.
    """
    return _load_idx_dataset("fashion_mnist", split, root)


def load_mnist(split: Split, root: PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split``: uint8 images ``(N, 28, 28)`` and int64 labels ``(N,)`` (60,000 / 10,000)."""
    return _load_idx_dataset("mnist", split, root)


@functools.lru_cache(maxsize=4)
def _emnist_letters_cached(images_key: tuple[str, int, int], labels_key: tuple[str, int, int],
                           transpose: bool) -> tuple[torch.Tensor, torch.Tensor]:
    # the uncached reader: only the shifted (and possibly transposed) result is kept in memory
    images, labels = _idx_pair_cached.__wrapped__(images_key, labels_key)
    if labels.numel() and (int(labels.min()) < 1 or int(labels.max()) > 26):
        raise ValueError(f"{labels_key[0]}: EMNIST-Letters labels must be 1..26, got "
                         f"{int(labels.min())}..{int(labels.max())}")
    if transpose:
        images = images.transpose(1, 2).contiguous()
    return images, labels - 1


def load_emnist_letters(split: Split, root: PathLike | None = None,
                        transpose: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """EMNIST-Letters ``split``: uint8 images ``(N, 28, 28)`` and int64 labels 0-25 (a = 0 ... z = 25).

    124,800 train / 20,800 test images, 26 balanced classes (upper- and lower-case letters merged).
    The IDX files number the letters 1-26; **1 is subtracted** so that labels start at 0 like every
    other loader's. ruff2021 uses the train split as Outlier Exposure for MNIST.

    The EMNIST files store every image transposed (mirrored across its main diagonal) relative to
    MNIST. ``transpose=True`` (the default) swaps height and width back, so letters stand upright
    in MNIST orientation. The ruff2021 code reads the files through torchvision's ``EMNIST``
    without transposing them back, so its OE letters are transposed: the paper-scale configuration
    passes ``transpose=False`` to match the authors.

    Reads ``gzip/emnist-letters-{train,test}-{images-idx3,labels-idx1}-ubyte.gz`` from the verified
    ``gzip.zip`` of the ``emnist`` manifest (unpacked beside it on first use), or from ``root``: a
    directory holding those files (``.gz`` or uncompressed) directly or in a ``gzip/`` sub-folder
    (not verified).
    """
    _check_split(split, ("train", "test"))
    images_path, labels_path = _idx_paths("emnist", _EMNIST_LETTERS_FILES[split], root, archive="gzip.zip",
                                          folder="gzip")
    return _emnist_letters_cached(_stat_key(images_path), _stat_key(labels_path), bool(transpose))


# --------------------------------------------------------------------------------------------
# scikit-learn digits
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def load_digits_28() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 8x8 digits upsampled to 28x28: uint8 ``(1797, 28, 28)``, int64 labels.

    The 0-16 values are upsampled bilinearly (``torch.nn.functional.interpolate``,
    ``align_corners=False``) and scaled by 255/16 to 0-255 (rounded), so the images match
    (Fashion-)MNIST's size, range and polarity (ink high, background 0).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images.astype(np.float32)).unsqueeze(1)  # (N, 1, 8, 8), 0..16
    up = torch.nn.functional.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)
    images = (up.squeeze(1) * (255.0 / 16.0)).round().clamp(0, 255).to(torch.uint8)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    return images, labels


@functools.lru_cache(maxsize=1)
def load_digits_8() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 digits at their own 8x8 size: uint8 ``(1797, 8, 8)`` (0-16 scaled by
    255/16, rounded), int64 labels. ahmed2020's small-data (STL-10) analogue (spec §8.0)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(np.round(digits.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8))
    return images, torch.from_numpy(digits.target.astype(np.int64))


# --------------------------------------------------------------------------------------------
# CIFAR (python pickles)
# --------------------------------------------------------------------------------------------


def _read_members(source: Path, members: Sequence[str]) -> dict[str, bytes]:
    """Read the files called ``members`` (base names) from a tar archive or a directory."""
    wanted = set(members)
    found: dict[str, bytes] = {}
    if source.is_dir():
        for name in members:
            hits = [p for p in (source / name, *source.glob(f"*/{name}")) if p.is_file()]
            if hits:
                found[name] = hits[0].read_bytes()
    else:
        with tarfile.open(source) as tf:
            for member in tf:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted and base not in found:
                    fh = tf.extractfile(member)
                    assert fh is not None
                    found[base] = fh.read()
    missing = [n for n in members if n not in found]
    if missing:
        raise FileNotFoundError(f"{source} lacks {missing}")
    return found


def _unpickle(data: bytes) -> dict[str, object]:
    obj = pickle.loads(data, encoding="bytes")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _cifar_source(root: PathLike | None, dataset: str, archive: str) -> Path:
    if root is None:
        return locate_file(dataset, archive)
    root = Path(root)
    if root.is_file() or (root / archive).is_file():
        return root if root.is_file() else root / archive
    return root  # an extracted directory (the batches directly or one level below)


@functools.lru_cache(maxsize=8)
def _cifar_cached(source_key: tuple[str, int, int], members: tuple[str, ...], label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    raw = _read_members(Path(source_key[0]), members)
    images, labels = [], []
    for name in members:
        batch = _unpickle(raw[name])
        data = np.asarray(batch["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise ValueError(f"{name}: expected data of shape (N, 3072), got {data.shape}")
        batch_labels = np.asarray(batch[label_key], dtype=np.int64)
        if batch_labels.shape != (data.shape[0],):
            raise ValueError(f"{name}: {batch_labels.shape} labels for {data.shape[0]} images")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(batch_labels)
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def _source_key(source: Path) -> tuple[str, int, int]:
    if source.is_dir():
        return str(source.resolve()), 0, source.stat().st_mtime_ns
    return _stat_key(source)


def load_cifar10(split: Split, root: PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 ``split``: uint8 images ``(N, 3, 32, 32)`` and int64 labels (50,000 / 10,000).

    Reads the python pickles straight from the verified ``cifar-10-python.tar.gz``; ``root`` may
    instead be that archive, a directory holding it, or the extracted ``cifar-10-batches-py``.
    """
    _check_split(split, ("train", "test"))
    members = tuple(f"data_batch_{i}" for i in range(1, 6)) if split == "train" else ("test_batch",)
    source = _cifar_source(root, "cifar10", "cifar-10-python.tar.gz")
    return _cifar_cached(_source_key(source), members, "labels")


def load_cifar100(split: Split, coarse: bool = False, root: PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-100 ``split``: uint8 ``(N, 3, 32, 32)``; fine labels (0-99) or, with ``coarse``, the 20 superclasses."""
    _check_split(split, ("train", "test"))
    source = _cifar_source(root, "cifar100", "cifar-100-python.tar.gz")
    return _cifar_cached(_source_key(source), (split,), "coarse_labels" if coarse else "fine_labels")


# --------------------------------------------------------------------------------------------
# SVHN (.mat)
# --------------------------------------------------------------------------------------------

SvhnSplit = Literal["train", "test", "extra", "train_and_extra"]


@functools.lru_cache(maxsize=4)
def _svhn_cached(key: tuple[str, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    from scipy.io import loadmat

    mat = loadmat(key[0], variable_names=["X", "y"])
    x, y = mat["X"], mat["y"]
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise ValueError(f"{key[0]}: expected X of shape (32, 32, 3, N), got {x.shape}")
    labels = np.asarray(y, dtype=np.int64).reshape(-1)
    if labels.shape[0] != x.shape[3]:
        raise ValueError(f"{key[0]}: {labels.shape[0]} labels for {x.shape[3]} images")
    labels[labels == 10] = 0  # SVHN stores digit 0 as label 10
    images = np.ascontiguousarray(np.transpose(x, (3, 2, 0, 1)), dtype=np.uint8)  # (N, 3, 32, 32)
    return torch.from_numpy(images), torch.from_numpy(labels)


def load_svhn(split: SvhnSplit, root: PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """SVHN cropped digits: uint8 ``(N, 3, 32, 32)`` and int64 labels 0-9 (label 10 becomes 0).

    ``split`` is ``train`` (73,257), ``test`` (26,032), ``extra`` (531,131) or
    ``train_and_extra`` (604,388, hendrycks2019's training set). Only the needed ``.mat`` files
    must be present.
    """
    _check_split(split, ("train", "test", "extra", "train_and_extra"))
    parts = ("train", "extra") if split == "train_and_extra" else (split,)
    keys = []
    for part in parts:
        filename = f"{part}_32x32.mat"
        path = locate_file("svhn", filename) if root is None else _find_in_root(root, filename)
        keys.append(_stat_key(path))
    if len(keys) == 1:
        return _svhn_cached(keys[0])
    return _svhn_concat_cached(tuple(keys))


@functools.lru_cache(maxsize=1)  # train+extra is ~1.9 GB: keep one concatenation at most
def _svhn_concat_cached(keys: tuple[tuple[str, int, int], ...]) -> tuple[torch.Tensor, torch.Tensor]:
    parts = [_svhn_cached(k) for k in keys]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


# --------------------------------------------------------------------------------------------
# Image folders (Textures, Places365, LSUN, Icons-50, ...)
# --------------------------------------------------------------------------------------------


def _image_files(root: Path) -> list[tuple[str, int]]:
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import IMG_EXTENSIONS

    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    flat = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)
    if flat:
        return [(str(p), 0) for p in flat]
    return list(ImageFolder(str(root)).samples)  # class sub-folders, searched recursively


@functools.lru_cache(maxsize=16)
def _image_folder_cached(root: str, size: int, limit: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    from torchvision import transforms
    from torchvision.datasets.folder import default_loader

    samples = _image_files(Path(root))
    if not samples:
        raise FileNotFoundError(f"no images in {root}")
    if limit is not None and limit < len(samples):
        pick = np.sort(np.random.default_rng(seed).choice(len(samples), size=limit, replace=False))
        samples = [samples[i] for i in pick]
    transform = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.PILToTensor()])
    images = torch.empty((len(samples), 3, size, size), dtype=torch.uint8)
    for i, (path, _) in enumerate(samples):
        images[i] = transform(default_loader(path))  # default_loader converts to RGB
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    root_path = Path(root)
    classes = tuple(sorted({Path(p).relative_to(root_path).parts[0] for p, _ in samples
                            if len(Path(p).relative_to(root_path).parts) > 1}))
    return images, labels, classes


def load_labelled_image_folder(root: PathLike, size: int = 32, *, limit: int | None = None,
                               seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Decode every image under ``root`` to uint8 ``(N, 3, size, size)`` with labels and class names.

    Layout: either image files directly in ``root`` (one class, label 0, no class names) or one
    sub-folder per class (torchvision ``ImageFolder``; labels index the sorted class names).
    Each image is converted to RGB, then ``Resize(size)`` (shorter side) + ``CenterCrop(size)``.
    ``limit`` keeps a random subset of that many images (fixed by ``seed``, kept in file order).
    """
    return _image_folder_cached(str(Path(root).resolve()), int(size), limit, int(seed))


def load_image_folder(root: PathLike, size: int = 32, *, limit: int | None = None, seed: int = 0) -> torch.Tensor:
    """Decode every image under ``root`` to uint8 ``(N, 3, size, size)``; see :func:`load_labelled_image_folder`."""
    return load_labelled_image_folder(root, size, limit=limit, seed=seed)[0]


def _unlabelled(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return images, torch.full((images.shape[0],), -1, dtype=torch.int64)


def load_textures(split: str = "all", size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """DTD (Textures): all 5,640 images, uint8 ``(N, 3, size, size)`` and the 47 category labels."""
    _check_split(split, ("all",))
    directory = ensure_unpacked("textures", "dtd-r1.0.1.tar.gz")
    images, labels, _ = load_labelled_image_folder(directory / "dtd" / "images", size)
    return images, labels


def load_lsun(split: str = "test", variant: Literal["crop", "resize"] = "crop", size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """ODIN's LSUN OOD sets (10,000 images each): uint8 ``(N, 3, size, size)``, labels -1."""
    _check_split(split, ("test",))
    archive, folder = ("LSUN.tar.gz", "LSUN") if variant == "crop" else ("LSUN_resize.tar.gz", "LSUN_resize")
    directory = ensure_unpacked("lsun", archive)
    return _unlabelled(load_image_folder(directory / folder, size))


def load_tiny_imagenet_odin(split: str = "test", variant: Literal["crop", "resize"] = "crop",
                            size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """ODIN's TinyImageNet OOD sets (10,000 images each, 32x32): uint8 ``(N, 3, size, size)``, labels -1.

    ``variant="crop"``: random 32x32 crops (``Imagenet.tar.gz``); ``"resize"``: downsampled images
    (``Imagenet_resize.tar.gz``). Manifest ``tiny_imagenet_odin``.
    """
    _check_split(split, ("test",))
    if variant not in ("crop", "resize"):
        raise ValueError(f"variant must be 'crop' or 'resize'; got {variant!r}")
    archive, folder = ("Imagenet.tar.gz", "Imagenet") if variant == "crop" else ("Imagenet_resize.tar.gz",
                                                                                  "Imagenet_resize")
    directory = ensure_unpacked("tiny_imagenet_odin", archive)
    return _unlabelled(load_image_folder(directory / folder, size))


def load_isun(split: str = "test", size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """ODIN's iSUN OOD set (8,925 images, 32x32): uint8 ``(N, 3, size, size)``, labels -1 (manifest ``isun``)."""
    _check_split(split, ("test",))
    directory = ensure_unpacked("isun", "iSUN.tar.gz")
    return _unlabelled(load_image_folder(directory / "iSUN", size))


def load_places365(split: Literal["val", "test"] = "test", size: int = 32, *, limit: int | None = None,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Places365 small images (``val_256``/``test_256``) as an OOD set: uint8, labels -1.

    ``test`` has 328,500 images; pass ``limit`` to decode a fixed random subset.
    """
    _check_split(split, ("val", "test"))
    directory = ensure_unpacked("places365", f"{split}_256.tar")
    return _unlabelled(load_image_folder(directory / f"{split}_256", size, limit=limit, seed=seed))


@functools.lru_cache(maxsize=2)
def _random_300k_cached(key: tuple[str, int, int]) -> torch.Tensor:
    array = np.load(key[0], mmap_mode="r")
    if array.ndim != 4 or array.shape[1:] != (32, 32, 3) or array.dtype != np.uint8:
        raise ValueError(f"{key[0]}: expected a uint8 array of shape (N, 32, 32, 3), "
                         f"got {array.dtype} {tuple(array.shape)}")
    return torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))


def load_random_300k(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """The 300K Random Images OE set (debiased 80 Million Tiny Images subset, hendrycks2019 §4.2):
    uint8 ``(300000, 3, 32, 32)``, labels -1. ``split`` is ``"train"``: it is only ever D_out^OE."""
    _check_split(split, ("train",))
    path = ensure_unpacked("random_300k", "300K_random_images.npy") / "300K_random_images.npy"
    return _unlabelled(_random_300k_cached(_stat_key(path)))


CATS_VS_DOGS_TRAIN_PER_CLASS = 10_000
"""GEOM's split of Cats vs Dogs (Golan & El-Yaniv 2018; spec rafiee2021 §2.10 item 15): the first
10,000 readable images of each class (by file number) train, the rest test."""


def _numeric_stem(path: Path) -> tuple[int, str]:
    return (int(path.stem), "") if path.stem.isdigit() else (1 << 62, path.name)


@functools.lru_cache(maxsize=4)
def _cats_vs_dogs_cached(root: str, size: int, train_per_class: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    from PIL import Image, UnidentifiedImageError

    splits: dict[str, tuple[list[torch.Tensor], list[int]]] = {"train": ([], []), "test": ([], [])}
    for label, folder in enumerate(("Cat", "Dog")):
        directory = Path(root) / folder
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory} does not exist: expected PetImages/Cat and PetImages/Dog")
        kept = 0
        for path in sorted((p for p in directory.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")),
                           key=_numeric_stem):
            try:
                with Image.open(path) as im:
                    im = im.convert("RGB").resize((size, size), Image.BILINEAR)
                    array = np.asarray(im, dtype=np.uint8)
            except (UnidentifiedImageError, OSError, ValueError):
                continue  # the archive holds corrupt and empty files: skip them
            split = "train" if kept < train_per_class else "test"
            splits[split][0].append(torch.from_numpy(array.transpose(2, 0, 1).copy()))
            splits[split][1].append(label)
            kept += 1
    return {k: (torch.stack(x) if x else torch.empty((0, 3, size, size), dtype=torch.uint8),
                torch.tensor(y, dtype=torch.int64)) for k, (x, y) in splits.items()}


def load_cats_vs_dogs(split: Split, size: int = 64, root: PathLike | None = None,
                      train_per_class: int = CATS_VS_DOGS_TRAIN_PER_CLASS) -> tuple[torch.Tensor, torch.Tensor]:
    """Cats vs Dogs (Microsoft PetImages): uint8 ``(N, 3, size, size)`` resized to ``size``×``size``
    (rafiee2021 rescales to 64×64, aspect ratio not kept), labels 0 = Cat, 1 = Dog.

    ``root``: a ``PetImages`` folder (default: the verified ``cats_vs_dogs`` download, unpacked).
    Undecodable files are skipped; per class the first ``train_per_class`` readable images in
    file-number order are ``train``, the rest ``test`` (:data:`CATS_VS_DOGS_TRAIN_PER_CLASS`).
    """
    _check_split(split, ("train", "test"))
    if root is None:
        root = ensure_unpacked("cats_vs_dogs", "kagglecatsanddogs_5340.zip") / "PetImages"
    return _cats_vs_dogs_cached(str(Path(root).resolve()), int(size), int(train_per_class))[split]


# --------------------------------------------------------------------------------------------
# STL-10 (binary format)
# --------------------------------------------------------------------------------------------

STL10_CLASSES: tuple[str, ...] = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship",
                                  "truck")
_STL10_FILES = {"train": ("train_X.bin", "train_y.bin"), "test": ("test_X.bin", "test_y.bin"),
                "unlabeled": ("unlabeled_X.bin", None)}


def _stl10_source(root: PathLike | None) -> Path:
    """The ``stl10_binary`` folder (unpacked, verified download), or ``root``: the archive itself,
    a directory holding it, or a directory with the ``.bin`` files directly or in ``stl10_binary/``."""
    if root is None:
        return ensure_unpacked("stl10", "stl10_binary.tar.gz") / "stl10_binary"
    root = Path(root)
    if root.is_file():
        return root
    for candidate in (root, root / "stl10_binary"):
        if (candidate / "test_X.bin").is_file() or (candidate / "train_X.bin").is_file():
            return candidate
    if (root / "stl10_binary.tar.gz").is_file():
        return root / "stl10_binary.tar.gz"
    raise FileNotFoundError(f"{root} holds neither stl10_binary.tar.gz nor the STL-10 .bin files "
                            "(directly or in stl10_binary/)")


@functools.lru_cache(maxsize=4)
def _stl10_cached(source_key: tuple[str, int, int], split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images_name, labels_name = _STL10_FILES[split]
    raw = _read_members(Path(source_key[0]), [n for n in (images_name, labels_name) if n])
    pixels = 3 * 96 * 96
    data = np.frombuffer(raw[images_name], dtype=np.uint8)
    if data.size % pixels:
        raise ValueError(f"{images_name}: {data.size} bytes is not a whole number of 3x96x96 images")
    # each image is stored channel by channel, each channel column-major: (N, C, W, H) -> (N, C, H, W)
    images = np.ascontiguousarray(data.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2))
    if labels_name is None:
        return _unlabelled(torch.from_numpy(images))
    labels = np.frombuffer(raw[labels_name], dtype=np.uint8).astype(np.int64)
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{labels_name}: {labels.shape[0]} labels for {images.shape[0]} images")
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(f"{labels_name}: STL-10 labels must be 1..10, got {labels.min()}..{labels.max()}")
    return torch.from_numpy(images), torch.from_numpy(labels - 1)


def load_stl10(split: Literal["train", "test", "unlabeled"], root: PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """STL-10 ``split``: uint8 ``(N, 3, 96, 96)`` and int64 labels 0-9 (:data:`STL10_CLASSES`).

    ``train`` has the 5,000 labelled training images, ``test`` 8,000; ``unlabeled`` the 100,000
    unlabelled ones (labels -1; ahmed2020 does not use them). The binary files store labels 1-10
    (**1 is subtracted**) and each image channel by channel in column-major order (transposed here
    to row-major ``(C, H, W)``). Reads the verified ``stl10_binary.tar.gz`` (unpacked beside it on
    first use), or ``root``: that archive (read in place), a directory holding it, or the extracted
    ``.bin`` files (directly or in ``stl10_binary/``; not verified).
    """
    _check_split(split, tuple(_STL10_FILES))
    return _stl10_cached(_source_key(_stl10_source(root)), split)


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def _digits(split: str = "all") -> tuple[torch.Tensor, torch.Tensor]:
    _check_split(split, ("all",))
    return load_digits_28()


IMAGE_LOADERS: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
    "fashion_mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "emnist_letters": load_emnist_letters,
    "digits_28": _digits,
    "cifar10": load_cifar10,
    "cifar100": load_cifar100,
    "svhn": load_svhn,
    "textures": load_textures,
    "lsun_crop": functools.partial(load_lsun, variant="crop"),
    "lsun_resize": functools.partial(load_lsun, variant="resize"),
    "tiny_imagenet_crop": functools.partial(load_tiny_imagenet_odin, variant="crop"),
    "tiny_imagenet_resize": functools.partial(load_tiny_imagenet_odin, variant="resize"),
    "isun": load_isun,
    "places365": load_places365,
    "random_300k": load_random_300k,
    "cats_vs_dogs": load_cats_vs_dogs,
    "stl10": load_stl10,
}
"""Name -> loader taking ``split`` (and loader-specific keywords), returning ``(images, labels)``."""


def load_images(name: str, split: str, **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
    """``IMAGE_LOADERS[name](split, **kwargs)``, with a clear error for an unknown ``name``."""
    try:
        loader = IMAGE_LOADERS[name]
    except KeyError:
        raise ValueError(f"unknown image dataset {name!r}; valid names: {', '.join(sorted(IMAGE_LOADERS))}") from None
    return loader(split, **kwargs)


def clear_cache() -> None:
    """Drop every decoded dataset held in memory."""
    for fn in (_idx_pair_cached, _emnist_letters_cached, _cifar_cached, _svhn_cached, _svhn_concat_cached,
               _image_folder_cached, _random_300k_cached, _cats_vs_dogs_cached, _stl10_cached, load_digits_28,
               load_digits_8):
        fn.cache_clear()


__all__ = [
    "IMAGE_LOADERS",
    "clear_cache",
    "load_cifar10",
    "load_cats_vs_dogs",
    "load_cifar100",
    "load_digits_28",
    "load_emnist_letters",
    "load_fashion_mnist",
    "load_image_folder",
    "load_images",
    "load_isun",
    "load_labelled_image_folder",
    "load_lsun",
    "load_random_300k",
    "load_mnist",
    "load_stl10",
    "STL10_CLASSES",
    "load_places365",
    "load_svhn",
    "load_textures",
    "load_tiny_imagenet_odin",
    "read_idx",
]
