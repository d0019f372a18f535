"""ahmed2020's data: the fine-grained ImageNet subsets (manifest, metadata, loader on a fake ILSVRC2012),
the STL-10 binary loader (on a fake archive) and the Fashion-MNIST analogue subsets."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from adlib.data import images as im
from adlib.data import imagenet_subsets as isub
from adlib.data import manifests as m
from adlib.data.__main__ import main as cli_main
from adlib.paper_values import load_values
from adlib.papers.ahmed2020 import subsets as ahs

REPO = Path(__file__).resolve().parents[1]
NAMES = ("dog", "car", "snake", "spider", "fungus")


@pytest.fixture(autouse=True)
def _fresh(monkeypatch, tmp_path):
    monkeypatch.delenv(m.ENV_MANIFESTS, raising=False)
    monkeypatch.setenv(m.ENV_DATA, str(tmp_path / "adlib-data"))  # never the machine's own data
    m.clear_verification_cache()
    isub.clear_cache()
    yield
    isub.clear_cache()


# --------------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------------


def test_subsets_in_paper_order_with_43_distinct_wnids():
    assert isub.subset_names() == NAMES
    counts = tuple(len(isub.subset_members(n)) for n in NAMES)
    assert counts == (12, 10, 9, 6, 6)
    wnids = [w for n in NAMES for w in isub.subset_wnids(n)]
    assert len(wnids) == len(set(wnids)) == 43
    assert all(re.fullmatch(r"n\d{8}", w) for w in wnids)


def test_members_spot_checks_and_the_papers_spelling():
    dog = dict((name, wnid) for wnid, name in isub.subset_members("dog"))
    assert dog["Norweigian elkhound"] == "n02091467"  # (sic), the paper's spelling
    assert isub.subset_members("dog")[0] == ("n02091244", "Ibizan hound")
    assert isub.subset_members("car")[-1] == ("n03670208", "limo")
    assert isub.subset_members("spider")[1] == ("n01773157", "Argiope aurantia")
    assert isub.subset_members("fungus")[-1] == ("n12985857", "coral fungus")
    assert isub.subset_wnids("snake")[3] == "n01728572"  # thunder snake, 4th in the paper's list


def test_member_names_and_order_match_appendix_b_and_c():
    for artefact in ("appendix_b", "appendix_c"):
        values = load_values("ahmed2020", artefact)
        for name in NAMES:
            rows = values[(values["subset"] == name) & (values["held_out_class"] != "Mean")]
            assert list(dict.fromkeys(rows["held_out_class"])) == [n for _, n in isub.subset_members(name)]


def test_sizes_and_skews_match_tables_1_5_6():
    t1 = load_values("ahmed2020", "table1")
    for name in NAMES:
        paper = t1[t1["subset"] == isub.subset_title(name)].set_index("metric")["value"]
        k = len(isub.subset_members(name))
        assert paper["Number of members"] == k
        assert paper["Total test images"] == isub.TEST_PER_MEMBER * k
    assert [isub.TEST_PER_MEMBER * len(isub.subset_members(n)) for n in NAMES] == [600, 500, 450, 300, 300]
    assert [round(isub.skew(n), 2) for n in NAMES] == [8.33, 10.00, 11.11, 16.67, 16.67]
    for table in ("table5", "table6"):
        skews = load_values("ahmed2020", table).query("metric == 'Skew'").set_index("subset")["value"]
        assert {n: round(isub.skew(n), 2) for n in NAMES} == skews.to_dict()


def test_unknown_subset_lists_the_valid_ones():
    with pytest.raises(ValueError, match="no subset 'cat'.*dog, car, snake, spider, fungus"):
        isub.subset_members("cat")


def test_subsets_frame():
    frame = isub.subsets_frame()
    assert list(frame.index) == list(NAMES)
    assert list(frame["members"]) == [12, 10, 9, 6, 6]
    assert frame.loc["car", "wnids"].startswith("n03777568, n04037443")


# --------------------------------------------------------------------------------------------
# Manifest schema
# --------------------------------------------------------------------------------------------


def _raw() -> dict:
    return yaml.safe_load((REPO / "data_manifests" / f"{isub.MANIFEST}.yaml").read_text(encoding="utf-8"))


def test_manifest_is_derived_from_imagenet1k():
    manifest = m.load_manifest(isub.MANIFEST)
    assert manifest.derived_from == "imagenet1k" and manifest.files == ()
    assert m.data_manifest(manifest).name == "imagenet1k"
    assert "ahmed2020" in manifest.used_by
    assert "python -m adlib.data verify imagenet1k" in manifest.obtain


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["subsets"]["dog"]["members"].append({"wnid": "n02091244", "name": "again"}), "lists a wnid twice"),
    (lambda d: d["subsets"]["car"]["members"][0].update(wnid="02701002"), "must look like n01234567"),
    (lambda d: d["subsets"]["car"]["members"][0].update(colour="red"), "unknown key"),
    (lambda d: d["subsets"]["car"].update(members=[]), "non-empty list"),
    (lambda d: d.pop("derived_from"), "`derived_from` must name it"),
    (lambda d: d.update(derived_from=d["name"]), "derived_from must name another manifest"),
    (lambda d: d.update(files=[{"name": "x.tar", "urls": []}]), "lists no files of its own"),
])
def test_manifest_schema_violations_are_rejected(mutate, message):
    data = _raw()
    m.parse_manifest(data)  # the committed manifest is valid
    mutate(data)
    with pytest.raises(ValueError, match=re.escape(message)):
        m.parse_manifest(data, "imagenet_subsets_ahmed2020.yaml")


def test_cli_verify_follows_derived_from():
    out = io.StringIO()
    status = cli_main(["verify", isub.MANIFEST], out=out, err=io.StringIO())
    text = out.getvalue()
    assert "uses those of imagenet1k" in text
    assert "imagenet1k/ILSVRC2012_img_train.tar" in text
    assert status == 1  # no ImageNet under the test's $ADLIB_DATA


# --------------------------------------------------------------------------------------------
# Loader on a fake ILSVRC2012
# --------------------------------------------------------------------------------------------

SUBSET = "spider"  # 6 members


def _jpeg(seed: int, w: int = 40, h: int = 30) -> bytes:
    from PIL import Image

    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _train_files(n_per: int, *, short: str | None = None) -> dict[str, dict[str, bytes]]:
    files = {}
    for k, wnid in enumerate(isub.subset_wnids(SUBSET)):
        n = n_per - 1 if wnid == short else n_per
        files[wnid] = {f"{wnid}_{i + 1}.JPEG": _jpeg(100 * k + i, 40 + 7 * k, 30 + i) for i in range(n)}
    files["n01440764"] = {"n01440764_1.JPEG": _jpeg(999)}  # a synset of no subset
    return files


def _val_files(n_per: int) -> tuple[dict[str, dict[str, bytes]], list[str]]:
    """Validation images interleaved across synsets (as in ILSVRC2012) and the ground-truth wnids."""
    wnids = list(isub.subset_wnids(SUBSET)) + ["n01440764"]
    order = [wnids[i % len(wnids)] for i in range(n_per * len(wnids))]
    files: dict[str, dict[str, bytes]] = {w: {} for w in wnids}
    for index, wnid in enumerate(order, start=1):
        files[wnid][f"ILSVRC2012_val_{index:08d}.JPEG"] = _jpeg(5000 + index, 35, 50)
    return files, order


def _folder_layout(root: Path, train: dict, val: dict) -> Path:
    for split, files in (("train", train), ("val", val)):
        for wnid, members in files.items():
            (root / split / wnid).mkdir(parents=True, exist_ok=True)
            for name, data in members.items():
                (root / split / wnid / name).write_bytes(data)
    return root


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def _devkit(path: Path, order: list[str]) -> None:
    from scipy.io import savemat

    wnids = sorted(set(order))
    ids = {w: i + 1 for i, w in enumerate(wnids)}
    synsets = np.zeros((len(wnids),), dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"),
                                              ("num_children", "O")])
    for i, w in enumerate(wnids):
        synsets[i] = (ids[w], w, f"words of {w}", 0)
    buf = io.BytesIO()
    savemat(buf, {"synsets": synsets})
    truth = "".join(f"{ids[w]}\n" for w in order).encode()
    with tarfile.open(path, "w:gz") as tf:
        _add(tf, f"{isub.DEVKIT_DIR}/data/meta.mat", buf.getvalue())
        _add(tf, f"{isub.DEVKIT_DIR}/data/ILSVRC2012_validation_ground_truth.txt", truth)


def _tar_layout(root: Path, train: dict, val: dict, order: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(root / isub.TRAIN_TAR, "w") as outer:
        for wnid, members in train.items():
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as inner:
                for name, data in members.items():
                    _add(inner, name, data)
            _add(outer, f"{wnid}.tar", buf.getvalue())
    with tarfile.open(root / isub.VAL_TAR, "w") as tf:
        for name, data in sorted((n, d) for files in val.values() for n, d in files.items()):
            _add(tf, name, data)
    _devkit(root / isub.DEVKIT_TAR, order)
    return root


def test_folder_layout_counts_labels_size_and_order(tmp_path):
    train = _train_files(3, short=isub.subset_wnids(SUBSET)[2])
    val, _ = _val_files(2)
    root = _folder_layout(tmp_path / "ilsvrc", train, val)
    counts = isub.count_images(SUBSET, "train", root)
    assert list(counts) == list(isub.subset_wnids(SUBSET))
    assert list(counts.values()) == [3, 3, 2, 3, 3, 3]
    x, y = isub.load_imagenet_subset(SUBSET, "train", root, size=24, cache_dir=False)
    assert x.dtype.is_floating_point is False and str(x.dtype) == "torch.uint8"
    assert tuple(x.shape) == (17, 3, 24, 24)
    assert y.tolist() == [0] * 3 + [1] * 3 + [2] * 2 + [3] * 3 + [4] * 3 + [5] * 3
    xt, yt = isub.load_imagenet_subset(SUBSET, "test", root, size=24, cache_dir=False)
    assert tuple(xt.shape) == (12, 3, 24, 24) and sorted(set(yt.tolist())) == list(range(6))
    assert isub.count_images(SUBSET, "val", root) == {w: 2 for w in isub.subset_wnids(SUBSET)}


def test_resize_shorter_side_then_centre_crop(tmp_path):
    from PIL import Image

    # a 60x30 (w x h) image: left third red, middle green, right third blue; the centre crop keeps green
    arr = np.zeros((30, 60, 3), dtype=np.uint8)
    arr[:, :20, 0] = 255
    arr[:, 20:40, 1] = 255
    arr[:, 40:, 2] = 255
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    train = {w: {f"{w}_1.png": buf.getvalue()} for w in isub.subset_wnids(SUBSET)}
    root = _folder_layout(tmp_path / "ilsvrc", train, {})
    x, _ = isub.load_imagenet_subset(SUBSET, "train", root, size=16, cache_dir=False)
    img = x[0].numpy().astype(int)
    assert img.shape == (3, 16, 16)
    assert img[1, :, 3:13].min() > 200 and img[0, :, 3:13].max() < 40 and img[2, :, 3:13].max() < 40
    assert img[2, :, 15].min() > 200 and img[0, :, 0].min() > 200  # blue and red at the crop edges


def test_tar_layout_gives_the_same_arrays_as_the_folder_layout(tmp_path):
    train = _train_files(2)
    val, order = _val_files(2)
    folder = _folder_layout(tmp_path / "folder", train, val)
    tars = _tar_layout(tmp_path / "tars", train, val, order)
    for split in ("train", "test"):
        a = isub.load_imagenet_subset(SUBSET, split, folder, size=20, cache_dir=False)
        b = isub.load_imagenet_subset(SUBSET, split, tars, size=20, cache_dir=False)
        assert a[0].shape[0] == 12  # 6 members x 2 images
        assert np.array_equal(a[0].numpy(), b[0].numpy()) and np.array_equal(a[1].numpy(), b[1].numpy())
    assert isub.count_images(SUBSET, "test", tars) == {w: 2 for w in isub.subset_wnids(SUBSET)}
    assert isub.find_source("test", tars).kind == "tar" and isub.find_source("train", tars).kind == "tar"


def test_per_member_keeps_the_first_files_by_name(tmp_path):
    root = _folder_layout(tmp_path / "ilsvrc", _train_files(3), {})
    full, yf = isub.load_imagenet_subset(SUBSET, "train", root, size=16, cache_dir=False)
    first, yp = isub.load_imagenet_subset(SUBSET, "train", root, size=16, per_member=1, cache_dir=False)
    assert yp.tolist() == list(range(6))
    assert np.array_equal(first.numpy(), full.numpy()[::3])


def test_disk_and_memory_cache(tmp_path, monkeypatch):
    root = _folder_layout(tmp_path / "ilsvrc", _train_files(2), {})
    cache = tmp_path / "cache"
    a = isub.load_imagenet_subset(SUBSET, "train", root, size=16, cache_dir=cache)
    files = list(cache.glob(f"{SUBSET}-train-16px-*.npz"))
    assert len(files) == 1
    assert isub.load_imagenet_subset(SUBSET, "train", root, size=16, cache_dir=cache)[0] is a[0]  # memory

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(isub, "_decode", no_decoding)
    isub.clear_cache()
    b = isub.load_imagenet_subset(SUBSET, "train", root, size=16, cache_dir=cache)  # from the .npz
    assert b[0] is not a[0]
    assert np.array_equal(a[0].numpy(), b[0].numpy()) and np.array_equal(a[1].numpy(), b[1].numpy())
    # another size, or one more file, is another cache entry: decoded again
    with pytest.raises(AssertionError, match="decoded again"):
        isub.load_imagenet_subset(SUBSET, "train", root, size=12, cache_dir=cache)
    (root / "train" / isub.subset_wnids(SUBSET)[0] / "zzz.JPEG").write_bytes(_jpeg(1))
    isub.clear_cache()
    with pytest.raises(AssertionError, match="decoded again"):
        isub.load_imagenet_subset(SUBSET, "train", root, size=16, cache_dir=cache)


def test_missing_imagenet_names_the_manifest_and_the_verify_command(tmp_path):
    with pytest.raises(m.DatasetMissingError) as info:
        isub.load_imagenet_subset(SUBSET, "train")
    text = str(info.value)
    assert isub.MANIFEST in text and "imagenet1k" in text
    assert "python -m adlib.data verify imagenet1k" in text
    assert str(tmp_path / "adlib-data" / "imagenet1k") in text
    with pytest.raises(m.DatasetMissingError, match="val/<wnid>"):
        isub.count_images(SUBSET, "test", tmp_path)


def test_default_root_is_the_imagenet1k_data_directory(tmp_path):
    root = _folder_layout(tmp_path / "adlib-data" / "imagenet1k", _train_files(1), {})
    x, y = isub.load_imagenet_subset(SUBSET, "train", size=8)
    assert tuple(x.shape) == (6, 3, 8, 8)
    assert list((tmp_path / "adlib-data" / isub.MANIFEST / "cache").glob("*.npz"))  # default cache dir
    assert isub.find_source("train").path == root / "train"


def test_a_member_without_images_is_an_error(tmp_path):
    train = _train_files(2)
    del train[isub.subset_wnids(SUBSET)[4]]
    root = _folder_layout(tmp_path / "ilsvrc", train, {})
    with pytest.raises(m.DatasetMissingError, match=r"n01773797 \(garden spider\).*verify imagenet1k"):
        isub.load_imagenet_subset(SUBSET, "train", root, size=8, cache_dir=False)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        isub.load_imagenet_subset(SUBSET, "validation", size=8)
    with pytest.raises(ValueError, match="per_member"):
        isub.load_imagenet_subset(SUBSET, "train", size=8, per_member=0)


# --------------------------------------------------------------------------------------------
# STL-10
# --------------------------------------------------------------------------------------------


def _stl_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8), rng.integers(0, 10, n)


def _stl_bytes(images: np.ndarray) -> bytes:
    return np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes()  # column-major per channel


def _fake_stl10(path: Path, n_train: int = 5, n_test: int = 8) -> dict:
    splits = {"train": _stl_split(n_train, 0), "test": _stl_split(n_test, 1)}
    with tarfile.open(path, "w:gz") as tf:
        for split, (x, y) in splits.items():
            _add(tf, f"stl10_binary/{split}_X.bin", _stl_bytes(x))
            _add(tf, f"stl10_binary/{split}_y.bin", (y + 1).astype(np.uint8).tobytes())
        _add(tf, "stl10_binary/unlabeled_X.bin", _stl_bytes(_stl_split(2, 2)[0]))
    return splits


@pytest.mark.parametrize("as_dir", [False, True])
def test_stl10_binary_format(tmp_path, as_dir):
    archive = tmp_path / "stl10_binary.tar.gz"
    splits = _fake_stl10(archive)
    root = archive
    if as_dir:
        m.safe_extract_tar(archive, tmp_path / "x")
        root = tmp_path / "x"
    im.clear_cache()
    for split, (x, y) in splits.items():
        images, labels = im.load_stl10(split, root=root)
        assert images.dtype.is_floating_point is False and tuple(images.shape) == (len(x), 3, 96, 96)
        assert np.array_equal(images.numpy(), x)  # row-major (C, H, W) after the transpose
        assert np.array_equal(labels.numpy(), y) and labels.min() >= 0 and labels.max() <= 9
    u, lu = im.load_stl10("unlabeled", root=root)
    assert tuple(u.shape) == (2, 3, 96, 96) and set(lu.tolist()) == {-1}
    assert im.load_images("stl10", "train", root=root)[0].shape[0] == 5


def test_stl10_orientation_is_row_major(tmp_path):
    # an image whose top row is bright: stored column-major, the bright pixels are every 96th byte
    img = np.zeros((1, 3, 96, 96), dtype=np.uint8)
    img[0, :, 0, :] = 255
    with tarfile.open(tmp_path / "stl10_binary.tar.gz", "w:gz") as tf:
        _add(tf, "stl10_binary/test_X.bin", _stl_bytes(img))
        _add(tf, "stl10_binary/test_y.bin", bytes([10]))
    raw = _stl_bytes(img)
    assert raw[0] == 255 and raw[1] == 0 and raw[96] == 255  # the file really is column-major
    im.clear_cache()
    x, y = im.load_stl10("test", root=tmp_path)
    assert x[0, 0, 0].min() == 255 and x[0, 0, 1:].max() == 0 and y.tolist() == [9]


def test_stl10_bad_files(tmp_path):
    with tarfile.open(tmp_path / "stl10_binary.tar.gz", "w:gz") as tf:
        _add(tf, "stl10_binary/test_X.bin", b"\0" * (3 * 96 * 96))
        _add(tf, "stl10_binary/test_y.bin", bytes([0]))  # labels are 1..10
    im.clear_cache()
    with pytest.raises(ValueError, match="labels must be 1..10"):
        im.load_stl10("test", root=tmp_path)
    with pytest.raises(ValueError, match="unknown split"):
        im.load_stl10("val", root=tmp_path)


def test_stl10_missing_names_the_fetch_command():
    with pytest.raises(m.DatasetMissingError, match="python -m adlib.data fetch stl10"):
        im.load_stl10("test")


# --------------------------------------------------------------------------------------------
# Fashion-MNIST analogue subsets, and the claims of the book page
# --------------------------------------------------------------------------------------------


def test_fmnist_analogue_subsets():
    assert ahs.FMNIST_SUBSETS == {"tops": (0, 2, 4, 6), "footwear": (5, 7, 9)}
    assert [ahs.FMNIST_CLASSES[c] for c in ahs.FMNIST_SUBSETS["tops"]] == ["T-shirt/top", "Pullover", "Coat", "Shirt"]
    assert [ahs.FMNIST_CLASSES[c] for c in ahs.FMNIST_SUBSETS["footwear"]] == ["Sandal", "Sneaker", "Ankle boot"]
    assert ahs.fmnist_subset_skew("tops") == 25.0 and round(ahs.fmnist_subset_skew("footwear"), 2) == 33.33


def test_page_claims_hold_and_can_fail():
    table1, table7 = ahs.table1_frame(), ahs.table7_frame()
    claims = ahs.subset_claims(table1, table7)
    assert [c.held for c in claims] == [True, True, True, None]
    broken7 = table7.drop(index=0)  # a member lost
    assert ahs.subset_claims(table1, broken7)[0].held is False
    swapped = table7.copy()
    swapped.loc[[0, 1], "member"] = swapped.loc[[1, 0], "member"].to_numpy()  # order differs from Appendix B
    assert ahs.subset_claims(table1, swapped)[0].held is False
    skewed = table1.copy()
    skewed.loc["car", "skew 100/K"] = 11.11
    assert ahs.subset_claims(skewed, table7)[2].held is False
    counts = {n: {"train": int(table1.loc[n, "paper train images"]), "test": int(table1.loc[n, "paper test images"])}
              for n in NAMES}
    assert ahs.subset_claims(ahs.table1_frame(counts), table7)[3].held is True
    counts["dog"]["train"] = 15600
    assert ahs.subset_claims(ahs.table1_frame(counts), table7)[3].held is False
