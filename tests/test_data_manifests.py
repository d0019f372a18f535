"""The dataset manifests in data_manifests/ and the manifest/locate machinery that reads them."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from adlib.data import manifests as m
from adlib.data.__main__ import main as cli_main

REPO = Path(__file__).resolve().parents[1]
MANIFEST_DIR = REPO / "data_manifests"
PAPERS = {"hendrycks2019", "ruff2021", "singh2021", "ahmed2020", "rafiee2021"}

EXPECTED = {
    "fashion_mnist", "mnist", "emnist", "cifar10", "cifar100", "svhn", "tiny_imagenet", "random_300k",
    "tiny_images_80m", "textures", "places365", "lsun", "imagenet1k", "stl10", "cats_vs_dogs",
    "icons50", "chars74k", "digits_sklearn", "imagenet30", "imagenet22k", "imagenet_subsets_ahmed2020",
    "isun", "tiny_imagenet_odin",
}

# Datasets each spec sheet (shared/specs/<paper>.md, sections on datasets and the CPU plan) uses.
USED_BY_SPEC = {
    "hendrycks2019": {"svhn", "cifar10", "cifar100", "tiny_imagenet", "tiny_images_80m", "random_300k",
                      "textures", "places365", "lsun", "icons50", "chars74k", "imagenet1k", "mnist",
                      "fashion_mnist", "digits_sklearn", "imagenet22k"},
    "ruff2021": {"mnist", "emnist", "cifar10", "cifar100", "tiny_images_80m", "random_300k", "imagenet1k",
                 "fashion_mnist", "digits_sklearn", "imagenet30", "imagenet22k"},
    "singh2021": {"cifar10", "cifar100", "fashion_mnist", "digits_sklearn"},
    "ahmed2020": {"cifar10", "stl10", "imagenet1k", "lsun", "fashion_mnist", "digits_sklearn",
                  "imagenet_subsets_ahmed2020", "isun", "tiny_imagenet_odin"},
    "rafiee2021": {"cifar10", "mnist", "fashion_mnist", "cats_vs_dogs", "digits_sklearn"},
}

REQUIRED_KEYS = ("name", "title", "homepage", "licence", "citation", "registration_required", "used_by",
                 "local_locations", "files", "notes")


@pytest.fixture(autouse=True)
def _real_manifests(monkeypatch):
    monkeypatch.delenv(m.ENV_MANIFESTS, raising=False)
    m.clear_verification_cache()


def _raw(name: str) -> dict:
    return yaml.safe_load((MANIFEST_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


def test_exactly_the_expected_manifests_exist():
    assert set(m.list_manifests()) == EXPECTED
    assert m.list_manifests() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_manifest_parses_and_has_required_fields(name):
    raw = _raw(name)
    for key in REQUIRED_KEYS:
        assert key in raw, f"{name}: missing {key}"
    manifest = m.load_manifest(name)
    assert manifest.name == name
    assert manifest.homepage.startswith(("http://", "https://"))
    assert len(manifest.citation) > 20 and len(manifest.notes) > 20 and manifest.licence.strip()
    assert set(manifest.used_by) <= PAPERS, f"{name}: unknown paper ids {set(manifest.used_by) - PAPERS}"
    assert manifest.used_by, f"{name}: used by no paper"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hashes_are_hex_of_the_right_length(name):
    for f in _raw(name)["files"]:
        for blob, where in ((f, f["name"]), (f.get("payload") or {}, f"{f['name']} payload")):
            if blob.get("md5") is not None:
                assert re.fullmatch(r"[0-9a-f]{32}", blob["md5"]), where
            if blob.get("sha256") is not None:
                assert re.fullmatch(r"[0-9a-f]{64}", blob["sha256"]), where


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_access_is_explained(name):
    manifest = m.load_manifest(name)
    if manifest.registration_required or manifest.withdrawn:
        assert all(not f.urls for f in manifest.files), f"{name} must not list URLs"
        assert manifest.obtain and len(manifest.obtain) > 40
    if manifest.registration_required:
        assert "image-net.org" in manifest.obtain and name in manifest.obtain  # where, and where to put it
    if manifest.downloadable:
        for f in manifest.files:
            assert f.has_hash, f"{name}/{f.name}: downloadable files must carry a published checksum"
            assert all(u.startswith(("http://", "https://")) for u in f.urls)
    elif not manifest.bundled_with:
        assert manifest.obtain, f"{name}: cannot be fetched, so `obtain` must say how to get it"


def test_every_dataset_of_every_spec_has_a_manifest_naming_the_paper():
    for paper, names in USED_BY_SPEC.items():
        for name in names:
            assert name in EXPECTED, f"{paper} uses {name}, which has no manifest"
            assert paper in m.load_manifest(name).used_by, f"{name}.used_by lacks {paper}"


def test_withdrawn_80m_points_to_the_300k_substitute():
    tiny = m.load_manifest("tiny_images_80m")
    assert tiny.withdrawn and "random_300k" in tiny.obtain
    assert "withdrawn" in m.load_manifest("random_300k").notes


def test_fashion_mnist_payload_sizes_match_the_idx_layout():
    fm = m.load_manifest("fashion_mnist")
    sizes = {f.payload.name: f.payload.size for f in fm.files}
    assert sizes["train-images-idx3-ubyte"] == 16 + 60000 * 28 * 28
    assert sizes["t10k-images-idx3-ubyte"] == 16 + 10000 * 28 * 28
    assert sizes["train-labels-idx1-ubyte"] == 8 + 60000
    assert sizes["t10k-labels-idx1-ubyte"] == 8 + 10000
    assert "/usr/share/datasets/fashion-mnist" in fm.local_locations
    # The published archive md5 the brief quotes, as a guard against copy errors.
    assert fm.file("train-images-idx3-ubyte.gz").md5 == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        m.load_manifest("cifar11")
    assert "cifar11" in str(info.value) and "cifar10" in str(info.value) and "fashion_mnist" in str(info.value)


def _good() -> dict:
    return {
        "name": "toy", "title": "Toy", "homepage": "https://example.org", "licence": "CC0",
        "citation": "Nobody (2024). Toy.", "registration_required": False, "used_by": ["ruff2021"],
        "local_locations": [], "notes": "test data",
        "files": [{"name": "a.bin", "urls": ["https://example.org/a.bin"], "md5": None,
                   "sha256": "0" * 64, "size": 3, "unpack": "none"}],
    }


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("licence"), "missing required key"),
        (lambda d: d.update(extra=1), "unknown key"),
        (lambda d: d["files"][0].update(sha256="ABC"), "sha256 must be 64"),
        (lambda d: d["files"][0].update(md5="0" * 31), "md5 must be 32"),
        (lambda d: d["files"][0].update(unpack="rar"), "unpack must be one of"),
        (lambda d: d["files"][0].update(name="../a.bin"), "plain file name"),
        (lambda d: d["files"][0].update(urls=["ftp://x/a.bin"]), "http(s) URLs"),
        (lambda d: d.update(registration_required=True), "obtain"),
        (lambda d: d.update(registration_required=True, obtain="register at https://x and put it in data/toy"),
         "must not list download URLs"),
        (lambda d: d.update(registration_required="yes"), "true or false"),
    ],
)
def test_schema_violations_are_rejected(mutate, message):
    data = _good()
    m.parse_manifest(data)  # the baseline is valid
    mutate(data)
    with pytest.raises(ValueError, match=re.escape(message)):
        m.parse_manifest(data, "toy.yaml")


def test_manifest_dir_argument_and_env(tmp_path, monkeypatch):
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(_good()), encoding="utf-8")
    assert m.load_manifest("toy", tmp_path).files[0].name == "a.bin"
    assert m.list_manifests(tmp_path) == ["toy"]
    monkeypatch.setenv(m.ENV_MANIFESTS, str(tmp_path))
    assert m.list_manifests() == ["toy"]
    with pytest.raises(ValueError, match="Valid names: toy"):
        m.load_manifest("fashion_mnist")


def test_data_dirs_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv(m.ENV_DATA, str(tmp_path / "store"))
    monkeypatch.chdir(REPO)
    dirs = m.data_dirs("fashion_mnist")
    roots = m.repo_roots()  # beside the installed package, then found from the cwd
    assert REPO in roots
    assert dirs[0] == tmp_path / "store" / "fashion_mnist"
    assert dirs[1:1 + len(roots)] == [root / "data" / "fashion_mnist" for root in roots]
    assert dirs[-1] == Path("/usr/share/datasets/fashion-mnist")
    assert len(dirs) == len(set(dirs)) == len(roots) + 2
    assert m.default_data_dir("cifar10") == tmp_path / "store" / "cifar10"
    monkeypatch.delenv(m.ENV_DATA)
    assert m.data_dirs("fashion_mnist")[0] == roots[0] / "data" / "fashion_mnist"
    assert m.default_data_dir("cifar10") == roots[0] / "data" / "cifar10"


def _toy_gz_manifest(tmp_path: Path, payload: bytes) -> m.ManifestFile:
    return m.ManifestFile(
        name="x.gz", urls=(), md5="0" * 32, sha256="0" * 64, size=1,  # the "official" archive: never matches
        payload=m.Payload(name="x", md5=hashlib.md5(payload).hexdigest(),
                          sha256=hashlib.sha256(payload).hexdigest(), size=len(payload)),
    )


def test_gz_verifies_through_its_payload_and_raw_payload_too(tmp_path):
    payload = b"IDX payload " * 100
    entry = _toy_gz_manifest(tmp_path, payload)
    gz = tmp_path / "x.gz"
    with gz.open("wb") as raw_fh, gzip.GzipFile(filename="", mode="wb", fileobj=raw_fh, mtime=0) as fh:
        fh.write(payload)  # no file name in the header, like the Debian package's files
    assert m.verify_path(gz, entry)
    raw = tmp_path / "x"
    raw.write_bytes(payload)
    assert m.verify_path(raw, entry)
    raw.write_bytes(payload[:-1] + b"!")
    assert not m.verify_path(raw, entry)
    other = tmp_path / "y.gz"
    other.write_bytes(gzip.compress(b"something else"))
    assert not m.verify_path(other.rename(tmp_path / "x.gz"), entry)


def test_verification_is_cached_per_process(tmp_path, monkeypatch):
    data = b"cached"
    entry = m.ManifestFile(name="c.bin", sha256=hashlib.sha256(data).hexdigest())
    path = tmp_path / "c.bin"
    path.write_bytes(data)
    calls = []
    real = m.file_hashes
    monkeypatch.setattr(m, "file_hashes", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert m.verify_path(path, entry) and m.verify_path(path, entry)
    assert len(calls) == 1
    path.write_bytes(b"changed!")  # new size: the cache key changes, so it is checked again
    assert not m.verify_path(path, entry)
    assert len(calls) == 2


def test_locate_real_fashion_mnist_and_digits():
    # Fashion-MNIST comes from the Debian package dataset-fashion-mnist (non-identical .gz files).
    assert m.locate("fashion_mnist") == Path("/usr/share/datasets/fashion-mnist")
    assert m.verify("fashion_mnist") == {f.name: True for f in m.load_manifest("fashion_mnist").files}
    digits_dir = m.locate("digits_sklearn")
    assert (digits_dir / "digits.csv.gz").is_file()


def test_missing_dataset_error_names_dirs_and_command(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv(m.ENV_DATA, str(tmp_path))
    with pytest.raises(m.DatasetMissingError) as info:
        m.locate("cifar10")
    text = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "python -m adlib.data fetch cifar10" in text
    assert str(tmp_path / "cifar10") in text and str(REPO / "data" / "cifar10") in text
    with pytest.raises(m.DatasetMissingError, match="image-net.org"):
        m.locate("imagenet1k")


def test_cli_list_where_verify(tmp_path, monkeypatch):
    monkeypatch.setenv(m.ENV_DATA, str(tmp_path))
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["list"], out, err) == 0
    table = out.getvalue()
    assert "fashion_mnist" in table and "/usr/share/datasets/fashion-mnist" in table
    assert re.search(r"imagenet1k\s.*registration", table) and re.search(r"tiny_images_80m\s.*withdrawn", table)
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["where", "fashion_mnist", "svhn"], out, err) == 1
    assert "fashion_mnist: /usr/share/datasets/fashion-mnist" in out.getvalue()
    assert "python -m adlib.data fetch svhn" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["verify", "fashion_mnist"], out, err) == 0
    assert out.getvalue().count(": OK") == 4
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["where", "no_such_set"], out, err) == 2
    assert "Valid names" in err.getvalue()


def test_cli_does_not_import_torch():
    code = ("import sys, io; from adlib.data.__main__ import main; "
            "main(['list'], io.StringIO(), io.StringIO()); "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
