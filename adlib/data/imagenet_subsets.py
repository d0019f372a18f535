"""The fine-grained ILSVRC2012 subsets of Ahmed & Courville (2020), read from your own ImageNet.

The subsets (Dog, Car, Snake, Spider, Fungus; paper Table 7) are synset lists in the manifest
``data_manifests/imagenet_subsets_ahmed2020.yaml``, which has no files of its own: the images come
from the user's ILSVRC2012 (manifest ``imagenet1k``, registration required). Members keep the
paper's order and names (including its "Norweigian elkhound"); a loader's labels are member
indices ``0..K-1`` in that order.

Layouts read (in a data directory of ``imagenet1k``, or ``root=``), per split:

* ``train``: ``train/<wnid>/*.JPEG`` (extracted), ``train/<wnid>.tar`` (the outer archive
  extracted), or ``ILSVRC2012_img_train.tar`` itself (a tar of per-synset tars, read in place);
* ``val`` (the paper's test images, 50 per member): ``val/<wnid>/*.JPEG`` (the usual
  ``valprep.sh`` layout), or ``ILSVRC2012_img_val.tar`` / a flat ``val/*.JPEG`` folder together with
  the devkit (``ILSVRC2012_devkit_t12.tar.gz`` or its extracted ``ILSVRC2012_devkit_t12/``), whose
  ``data/meta.mat`` and ``data/ILSVRC2012_validation_ground_truth.txt`` give each image's synset.

The archives are found by name and size only (hashing 150 GB on every start would take
minutes): run ``python -m adlib.data verify imagenet1k`` once to check them against their md5s.

Images are resized so the shorter side is ``size`` (256 in the paper), then centre-cropped to
``size`` × ``size`` (torchvision ``Resize`` + ``CenterCrop`` on the RGB image), and returned as
uint8 ``(N, 3, size, size)``. A decoded subset is cached on disk (an ``.npz`` under
``<data dir of imagenet_subsets_ahmed2020>/cache``, keyed by the exact files read) and in memory.
**Never modify the returned tensors in place** (they are shared, as in :mod:`adlib.data.images`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Sequence

import numpy as np
import torch

from adlib.atomic import atomic_write
from adlib.data import manifests as m

MANIFEST = "imagenet_subsets_ahmed2020"
SOURCE = "imagenet1k"
TRAIN_TAR = "ILSVRC2012_img_train.tar"
VAL_TAR = "ILSVRC2012_img_val.tar"
DEVKIT_TAR = "ILSVRC2012_devkit_t12.tar.gz"
DEVKIT_DIR = "ILSVRC2012_devkit_t12"
VERIFY_COMMAND = f"python -m adlib.data verify {SOURCE}"
TEST_PER_MEMBER = 50
"""The paper's test set: the 50 ILSVRC2012 validation images of each member (Table 1)."""
PAPER_SIZE = 256
"""Shorter side resized to 256, then a centre crop (paper, Appendix A)."""
_IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")

Split = Literal["train", "val", "test"]
PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------------------------
# Metadata (no image data needed)
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _manifest() -> m.Manifest:
    return m.load_manifest(MANIFEST)


def subset_names() -> tuple[str, ...]:
    """The subsets in the paper's order: ``("dog", "car", "snake", "spider", "fungus")``."""
    return tuple(s.name for s in _manifest().subsets)


def _subset(name: str) -> m.Subset:
    return _manifest().subset(name)


def subset_members(name: str) -> tuple[tuple[str, str], ...]:
    """``(wnid, paper's name)`` of every member of subset ``name``, in the paper's order."""
    return _subset(name).members


def subset_wnids(name: str) -> tuple[str, ...]:
    """The members' ILSVRC2012 WordNet ids, in the paper's order (label ``i`` is ``wnids[i]``)."""
    return _subset(name).wnids


def subset_title(name: str) -> str:
    """The subset's name as Table 1 prints it (e.g. ``"Dog (hound dog)"``)."""
    return _subset(name).title


def skew(name: str) -> float:
    """AP of a random detector in percent, ``100 / K`` (one of K members held out, 50 test images each)."""
    return 100.0 / len(subset_members(name))


def subsets_frame():
    """One row per subset: title, number of members, members, wnids, test images (50·K), skew (%)."""
    import pandas as pd

    rows = []
    for name in subset_names():
        sub = _subset(name)
        rows.append({"subset": name, "title": sub.title, "members": len(sub.members),
                     "member names": ", ".join(sub.names), "wnids": ", ".join(sub.wnids),
                     "test images": TEST_PER_MEMBER * len(sub.members), "skew": round(skew(name), 2)})
    return pd.DataFrame(rows).set_index("subset")


# --------------------------------------------------------------------------------------------
# Finding the user's ILSVRC2012
# --------------------------------------------------------------------------------------------


def _split_kind(split: str) -> str:
    if split not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}; expected one of ['train', 'val', 'test'] (test = val)")
    return "train" if split == "train" else "val"


def _wnid_dirs(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(p.is_dir() and p.name.startswith("n") for p in folder.iterdir())
    except OSError:
        return False


def _has_images(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(p.suffix.lower() in _IMAGE_SUFFIXES for p in folder.iterdir())
    except OSError:
        return False


def _devkit(root: Path) -> Path | None:
    for candidate in (root / DEVKIT_DIR, root / DEVKIT_TAR):
        if candidate.exists():
            return candidate
    return None


@dataclass(frozen=True)
class _Layout:
    kind: str  # train: folder | member_tars | tar; val: folder | tar | flat
    path: Path  # the folder or archive
    devkit: Path | None = None

    def key(self) -> list[object]:
        def stat(p: Path | None) -> list[object]:
            if p is None:
                return []
            st = p.stat()
            return [str(p.resolve()), st.st_size if p.is_file() else 0, st.st_mtime_ns]

        return [self.kind, *stat(self.path), *stat(self.devkit)]


def _layout_in(root: Path, kind: str) -> _Layout | None:
    """The layout of split ``kind`` ("train"/"val") in ``root``, or None."""
    if kind == "train":
        train = root / "train"
        if _wnid_dirs(train):
            return _Layout("folder", train)
        if train.is_dir() and any(train.glob("n*.tar")):
            return _Layout("member_tars", train)
        if (root / TRAIN_TAR).is_file():
            return _Layout("tar", root / TRAIN_TAR)
        return None
    val = root / "val"
    if _wnid_dirs(val):
        return _Layout("folder", val)
    devkit = _devkit(root)
    if devkit is None:
        return None
    if (root / VAL_TAR).is_file():
        return _Layout("tar", root / VAL_TAR, devkit)
    if _has_images(val):
        return _Layout("flat", val, devkit)
    return None


def _missing(searched: Sequence[tuple[Path, str]], kind: str) -> m.DatasetMissingError:
    what = ("train/<wnid>/*.JPEG, train/<wnid>.tar or ILSVRC2012_img_train.tar" if kind == "train" else
            "val/<wnid>/*.JPEG, or ILSVRC2012_img_val.tar (or a flat val/ folder) with "
            "ILSVRC2012_devkit_t12.tar.gz (or ILSVRC2012_devkit_t12/)")
    lines = [f"The ILSVRC2012 {kind} images of the fine-grained subsets (manifest {MANIFEST}, which reads "
             f"the files of manifest {SOURCE}) were not found.", "Searched:"]
    lines += [f"  - {d}: {reason}" for d, reason in searched]
    lines.append(f"Expected one of: {what}.")
    lines.append(f"ImageNet needs registration: {m.load_manifest(SOURCE).obtain}")
    lines.append(f"Then check the files with: {VERIFY_COMMAND}")
    return m.DatasetMissingError("\n".join(lines))


def find_source(split: Split, root: PathLike | None = None) -> _Layout:
    """Where the ``split`` images are: in ``root``, else in the first ``imagenet1k`` data directory
    that has one of the supported layouts; raises :class:`~adlib.data.manifests.DatasetMissingError`
    naming the manifest and ``python -m adlib.data verify imagenet1k`` otherwise."""
    kind = _split_kind(split)
    dirs = [Path(root)] if root is not None else m.data_dirs(SOURCE)
    searched = []
    for d in dirs:
        if not d.is_dir():
            searched.append((d, "no such directory"))
            continue
        layout = _layout_in(d, kind)
        if layout is not None:
            return layout
        searched.append((d, f"no {kind} images in a supported layout"))
    raise _missing(searched, kind)


# --------------------------------------------------------------------------------------------
# Listing and reading
# --------------------------------------------------------------------------------------------


def _devkit_member(devkit: Path, relative: str) -> bytes:
    if devkit.is_dir():
        return (devkit / relative).read_bytes()
    with tarfile.open(devkit) as tf:
        for member in tf:
            if member.isfile() and member.name.rstrip("/").endswith(relative):
                fh = tf.extractfile(member)
                assert fh is not None
                return fh.read()
    raise FileNotFoundError(f"{devkit} has no {relative}")


@functools.lru_cache(maxsize=4)
def _val_ground_truth(devkit_key: tuple[str, int, int]) -> dict[str, list[str]]:
    """wnid -> sorted validation file names, from the devkit's meta.mat and ground truth."""
    from scipy.io import loadmat

    devkit = Path(devkit_key[0])
    meta = loadmat(io.BytesIO(_devkit_member(devkit, "data/meta.mat")), squeeze_me=True)["synsets"]
    id_to_wnid = {int(i): str(w) for i, w in zip(meta["ILSVRC2012_ID"], meta["WNID"])}
    truth = _devkit_member(devkit, "data/ILSVRC2012_validation_ground_truth.txt").decode().split()
    by_wnid: dict[str, list[str]] = {}
    for index, ident in enumerate(truth, start=1):
        by_wnid.setdefault(id_to_wnid[int(ident)], []).append(f"ILSVRC2012_val_{index:08d}.JPEG")
    return by_wnid


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size if path.is_file() else 0, st.st_mtime_ns


def _image_names(names: Sequence[str]) -> list[str]:
    return sorted(n for n in names if n.lower().endswith(_IMAGE_SUFFIXES))


def _list_tar(fileobj_or_path) -> list[str]:
    if isinstance(fileobj_or_path, Path):
        tf = tarfile.open(fileobj_or_path)
    else:
        tf = tarfile.open(fileobj=fileobj_or_path, mode="r:")
    with tf:
        return _image_names([mem.name.rsplit("/", 1)[-1] for mem in tf if mem.isfile()])


def _list_files(layout: _Layout, wnids: Sequence[str]) -> dict[str, list[str]]:
    """wnid -> sorted image file names of that synset in ``layout`` (empty if it has none)."""
    if layout.kind == "folder":
        return {w: _image_names([p.name for p in (layout.path / w).iterdir() if p.is_file()])
                if (layout.path / w).is_dir() else [] for w in wnids}
    if layout.kind == "member_tars":
        return {w: _list_tar(layout.path / f"{w}.tar") if (layout.path / f"{w}.tar").is_file() else []
                for w in wnids}
    if layout.kind == "tar" and layout.devkit is None:  # the training archive: a tar of per-synset tars
        found: dict[str, list[str]] = {w: [] for w in wnids}
        with tarfile.open(layout.path) as outer:
            for member in outer:
                wnid = member.name.rsplit("/", 1)[-1].removesuffix(".tar")
                if member.isfile() and wnid in found:
                    found[wnid] = _list_tar(outer.extractfile(member))
        return found
    assert layout.devkit is not None  # val archive or flat val folder: the devkit says which is which
    truth = _val_ground_truth(_stat_key(layout.devkit))
    return {w: list(truth.get(w, [])) for w in wnids}


def _read_files(layout: _Layout, selection: dict[str, list[str]]) -> Iterator[tuple[str, str, bytes]]:
    """Yield ``(wnid, file name, bytes)`` for every selected file, in ``selection`` order."""
    if layout.kind == "folder":
        for w, names in selection.items():
            for n in names:
                yield w, n, (layout.path / w / n).read_bytes()
        return
    if layout.kind in ("member_tars", "tar") and layout.devkit is None:
        outer = tarfile.open(layout.path) if layout.kind == "tar" else None
        try:
            members = {}
            if outer is not None:
                members = {mem.name.rsplit("/", 1)[-1].removesuffix(".tar"): mem for mem in outer if mem.isfile()}
            for w, names in selection.items():
                if not names:
                    continue
                inner = (tarfile.open(fileobj=outer.extractfile(members[w]), mode="r:") if outer is not None
                         else tarfile.open(layout.path / f"{w}.tar"))
                with inner:
                    content = {}
                    wanted = set(names)
                    for mem in inner:
                        base = mem.name.rsplit("/", 1)[-1]
                        if mem.isfile() and base in wanted:
                            fh = inner.extractfile(mem)
                            assert fh is not None
                            content[base] = fh.read()
                    for n in names:
                        yield w, n, content[n]
        finally:
            if outer is not None:
                outer.close()
        return
    if layout.kind == "flat":
        for w, names in selection.items():
            for n in names:
                yield w, n, (layout.path / n).read_bytes()
        return
    # the validation archive: one pass over it, keeping the wanted files
    owner = {n: w for w, names in selection.items() for n in names}
    content: dict[str, bytes] = {}
    with tarfile.open(layout.path) as tf:
        for mem in tf:
            base = mem.name.rsplit("/", 1)[-1]
            if mem.isfile() and base in owner:
                fh = tf.extractfile(mem)
                assert fh is not None
                content[base] = fh.read()
    missing = [n for n in owner if n not in content]
    if missing:
        raise FileNotFoundError(f"{layout.path} lacks {len(missing)} validation images, e.g. {missing[:3]}")
    for w, names in selection.items():
        for n in names:
            yield w, n, content[n]


def _decode(data: bytes, size: int) -> np.ndarray:
    from PIL import Image
    from torchvision import transforms

    transform = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size)])
    with Image.open(io.BytesIO(data)) as im:
        out = transform(im.convert("RGB"))
    return np.asarray(out, dtype=np.uint8).transpose(2, 0, 1)


def count_images(name: str, split: Split, root: PathLike | None = None) -> dict[str, int]:
    """Images per member (wnid, paper order) of subset ``name`` in the user's ILSVRC2012 (no decoding).

    For ``train`` the paper's Table 1 totals are 14864 / 13000 / 11700 / 7800 / 7800; for ``val``
    (= ``test``) 50 per member.
    """
    wnids = subset_wnids(name)
    return {w: len(files) for w, files in _list_files(find_source(split, root), wnids).items()}


# --------------------------------------------------------------------------------------------
# Loading (with caches)
# --------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``<data dir of imagenet_subsets_ahmed2020>/cache`` (``$ADLIB_DATA/...`` or ``<repo>/data/...``)."""
    return m.default_data_dir(MANIFEST) / "cache"


@functools.lru_cache(maxsize=2)
def _load_cached(cache_file: str | None, layout: _Layout, selection_json: str, wnids: tuple[str, ...], size: int,
                 workers: int) -> tuple[torch.Tensor, torch.Tensor]:
    if cache_file is not None and Path(cache_file).is_file():
        with np.load(cache_file) as npz:
            return torch.from_numpy(npz["images"]), torch.from_numpy(npz["labels"])
    selection: dict[str, list[str]] = json.loads(selection_json)
    total = sum(len(v) for v in selection.values())
    images = np.empty((total, 3, size, size), dtype=np.uint8)
    labels = np.empty((total,), dtype=np.int64)
    label_of = {w: i for i, w in enumerate(wnids)}
    chunk: list[tuple[int, bytes]] = []

    def flush(pool: ThreadPoolExecutor) -> None:
        for (i, _), arr in zip(chunk, pool.map(lambda item: _decode(item[1], size), chunk)):
            images[i] = arr
        chunk.clear()

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, (w, _, data) in enumerate(_read_files(layout, selection)):
            labels[i] = label_of[w]
            chunk.append((i, data))
            if len(chunk) >= 256:
                flush(pool)
        flush(pool)
    if cache_file is not None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, images=images, labels=labels)

        atomic_write(cache_file, write)
    return torch.from_numpy(images), torch.from_numpy(labels)


def load_imagenet_subset(name: str, split: Split, root: PathLike | None = None, size: int = PAPER_SIZE, *,
                         per_member: int | None = None, cache_dir: PathLike | None | Literal[False] = None,
                         workers: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Subset ``name`` of ILSVRC2012: uint8 ``(N, 3, size, size)`` and int64 member labels ``0..K-1``.

    ``split`` is ``train`` (the members' training images) or ``test``/``val`` (their 50 validation
    images each). Images are ordered by member (paper order), then file name. ``size``: shorter
    side resized to ``size``, then centre-cropped (the paper: 256). ``per_member`` keeps only the
    first that many files of each member (by name; for sample grids and quick runs). ``root``: a
    directory with one of the layouts in the module docstring (default: the ``imagenet1k`` data
    directories). ``cache_dir``: where the decoded arrays are kept (default
    :func:`default_cache_dir`; ``False``: no disk cache). ``workers``: decoding threads.

    Raises :class:`~adlib.data.manifests.DatasetMissingError` (naming the manifest and
    ``python -m adlib.data verify imagenet1k``) when the images are not there, or when a member
    has no images at all.
    """
    wnids = subset_wnids(name)
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    if per_member is not None and per_member < 1:
        raise ValueError(f"per_member must be a positive integer or None, got {per_member}")
    layout = find_source(split, root)
    selection = _list_files(layout, wnids)
    empty = [f"{w} ({n})" for w, n in subset_members(name) if not selection[w]]
    if empty:
        raise m.DatasetMissingError(
            f"{layout.path} has no {_split_kind(split)} images of {', '.join(empty)} (subset {name!r} of manifest "
            f"{MANIFEST}); is this the full ILSVRC2012? Check it with: {VERIFY_COMMAND}")
    if per_member is not None:
        selection = {w: files[:per_member] for w, files in selection.items()}
    selection_json = json.dumps(selection)
    cache_file = None
    if cache_dir is not False:
        digest = hashlib.sha256(json.dumps([layout.key(), selection_json, size]).encode()).hexdigest()[:16]
        tag = f"-first{per_member}" if per_member is not None else ""
        cache_file = str(Path(cache_dir if cache_dir is not None else default_cache_dir())
                         / f"{name}-{_split_kind(split)}-{size}px{tag}-{digest}.npz")
    workers = workers if workers is not None else min(8, os.cpu_count() or 1)
    return _load_cached(cache_file, layout, selection_json, wnids, int(size), int(workers))


def clear_cache() -> None:
    """Drop the decoded subsets held in memory (the disk cache stays)."""
    _load_cached.cache_clear()
    _val_ground_truth.cache_clear()
    _manifest.cache_clear()


__all__ = [
    "MANIFEST",
    "PAPER_SIZE",
    "TEST_PER_MEMBER",
    "clear_cache",
    "count_images",
    "default_cache_dir",
    "find_source",
    "load_imagenet_subset",
    "skew",
    "subset_members",
    "subset_names",
    "subset_title",
    "subset_wnids",
    "subsets_frame",
]
