"""fetch(): downloads from a local HTTP server (127.0.0.1, ephemeral port) serving files made here.

Every test points ADLIB_MANIFESTS at a temporary manifest directory and ADLIB_DATA at a temporary
data directory, so nothing touches the real manifests or data.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from adlib.data import manifests as m
from adlib.data.__main__ import main as cli_main

PAYLOAD = bytes(range(256)) * 64  # 16 KiB


class _Handler(SimpleHTTPRequestHandler):
    """Serves files from the server's directory; ``/lying/<name>`` announces more bytes than it sends."""

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path.startswith("/lying/"):
            body = (Path(self.server.root) / self.path.removeprefix("/lying/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body) * 2))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """``(root, base_url)``: files written under ``root`` are served at ``base_url + name``."""
    root = tmp_path / "srv"
    root.mkdir()

    class Handler(_Handler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.root = str(root)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def env(data_env, monkeypatch):
    """``(manifest_dir, data_root)`` (see conftest ``data_env``), with no proxies for 127.0.0.1."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return data_env


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def write_manifest(manifest_dir: Path, name: str, files: list[dict], **extra) -> None:
    doc = {
        "name": name, "title": f"Test set {name}", "homepage": "https://example.org", "licence": "CC0",
        "citation": "Test (2024). A test data set.", "registration_required": False,
        "used_by": ["ruff2021"], "local_locations": [], "files": files, "notes": "made by the tests",
    }
    doc.update(extra)
    (manifest_dir / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def file_entry(name: str, content: bytes, urls: list[str], **overrides) -> dict:
    entry = {"name": name, "urls": urls, "md5": _md5(content), "sha256": _sha256(content),
             "size": len(content), "unpack": "none"}
    entry.update(overrides)
    return entry


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_good_file_verifies_and_lands(server, env):
    root, base = server
    manifests, data = env
    (root / "good.bin").write_bytes(PAYLOAD)
    write_manifest(manifests, "toy", [file_entry("good.bin", PAYLOAD, [base + "good.bin"])])
    path = m.fetch("toy", progress=False)
    assert path == data / "toy"
    assert (path / "good.bin").read_bytes() == PAYLOAD
    assert _leftovers(path) == ["good.bin"]  # no temporary files left behind
    assert m.locate("toy") == path
    assert m.verify("toy") == {"good.bin": True}
    # A second fetch finds it and does not download again (the server copy is gone).
    (root / "good.bin").unlink()
    assert m.fetch("toy", progress=False) == path


@pytest.mark.parametrize("served", ["corrupted", "truncated", "lying"])
def test_bad_download_raises_checksum_error_and_leaves_nothing(server, env, served):
    root, base = server
    manifests, data = env
    bad = {"corrupted": PAYLOAD[:100] + b"X" + PAYLOAD[101:], "truncated": PAYLOAD[: len(PAYLOAD) // 2],
           "lying": PAYLOAD[: len(PAYLOAD) // 2]}[served]
    (root / "f.bin").write_bytes(bad)
    url = base + ("lying/f.bin" if served == "lying" else "f.bin")
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [url])])
    with pytest.raises(m.ChecksumError) as info:
        m.fetch("toy", progress=False)
    message = str(info.value)
    assert url in message and info.value.url == url
    assert _sha256(PAYLOAD) in message and info.value.expected.endswith(_sha256(PAYLOAD))
    if served != "lying":  # the full (bad) file arrived, so its hash is known and reported
        assert _sha256(bad) in message and info.value.actual.endswith(_sha256(bad))
    else:
        assert "truncated" in message
    assert not (data / "toy" / "f.bin").exists()
    assert _leftovers(data / "toy") == []
    with pytest.raises(m.DatasetMissingError):
        m.locate("toy")


def test_mismatch_in_the_hash_pooch_does_not_check_is_caught(server, env):
    root, base = server
    manifests, data = env
    (root / "f.bin").write_bytes(PAYLOAD)
    # sha256 right (pooch checks it), md5 wrong: the full check after pooch must catch it.
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [base + "f.bin"], md5="0" * 32)])
    with pytest.raises(m.ChecksumError, match="md5"):
        m.fetch("toy", progress=False)
    assert _leftovers(data / "toy") == []


def test_md5_only_manifest(server, env):
    root, base = server
    manifests, _ = env
    (root / "f.bin").write_bytes(PAYLOAD)
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [base + "f.bin"], sha256=None, size=None)])
    assert (m.fetch("toy", progress=False) / "f.bin").read_bytes() == PAYLOAD


def test_mirror_fallback_when_first_url_404s(server, env):
    root, base = server
    manifests, data = env
    (root / "mirror.bin").write_bytes(PAYLOAD)
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [base + "missing.bin", base + "mirror.bin"])])
    path = m.fetch("toy", progress=False)
    assert (path / "f.bin").read_bytes() == PAYLOAD


def test_mirror_fallback_after_a_corrupt_mirror(server, env):
    root, base = server
    manifests, _ = env
    (root / "bad.bin").write_bytes(b"junk")
    (root / "good.bin").write_bytes(PAYLOAD)
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [base + "bad.bin", base + "good.bin"])])
    assert (m.fetch("toy", progress=False) / "f.bin").read_bytes() == PAYLOAD


def test_all_urls_failing_raises_download_error(server, env):
    _, base = server
    manifests, data = env
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [base + "a.bin", base + "b.bin"])])
    with pytest.raises(m.DownloadError) as info:
        m.fetch("toy", progress=False)
    assert base + "a.bin" in str(info.value) and base + "b.bin" in str(info.value)
    assert _leftovers(data / "toy") == []


def test_corrupt_local_copy_is_replaced_or_removed(server, env):
    root, base = server
    manifests, data = env
    target = data / "toy"
    target.mkdir()
    (target / "f.bin").write_bytes(b"corrupt old copy")
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [base + "f.bin"])])
    with pytest.raises(m.DownloadError):  # the server has no copy
        m.fetch("toy", progress=False)
    assert not (target / "f.bin").exists()
    (root / "f.bin").write_bytes(PAYLOAD)
    (target / "f.bin").write_bytes(b"corrupt old copy")
    assert (m.fetch("toy", progress=False) / "f.bin").read_bytes() == PAYLOAD


def _tar_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def test_tar_is_unpacked_inside_the_data_dir(server, env):
    root, base = server
    manifests, _ = env
    archive = _tar_bytes({"set/a.txt": b"alpha", "set/sub/b.txt": b"beta"})
    (root / "set.tar.gz").write_bytes(archive)
    write_manifest(manifests, "toy", [file_entry("set.tar.gz", archive, [base + "set.tar.gz"], unpack="tar")])
    path = m.fetch("toy", progress=False)
    assert (path / "set" / "a.txt").read_bytes() == b"alpha"
    assert (path / "set" / "sub" / "b.txt").read_bytes() == b"beta"
    assert m.ensure_unpacked("toy", "set.tar.gz") == path


@pytest.mark.parametrize("evil", ["../evil", "set/../../evil", "/tmp/adlib-test-evil-abs"])
def test_tar_escaping_the_data_dir_is_refused(server, env, tmp_path, evil):
    root, base = server
    manifests, data = env
    archive = _tar_bytes({"set/ok.txt": b"fine", evil: b"pwned"})
    (root / "evil.tar.gz").write_bytes(archive)
    write_manifest(manifests, "toy", [file_entry("evil.tar.gz", archive, [base + "evil.tar.gz"], unpack="tar")])
    with pytest.raises(m.UnsafeArchiveError, match="refusing to unpack"):
        m.fetch("toy", progress=False)
    assert not (data / "evil").exists() and not (tmp_path / "evil").exists()
    assert not Path("/tmp/adlib-test-evil-abs").exists()
    assert not (data / "toy" / "set").exists()  # checked before anything was written
    assert not (data / "toy" / "evil.tar.gz").exists()  # an archive that cannot be used is not kept


def test_tar_symlink_out_of_the_data_dir_is_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("set/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../outside"
        tf.addfile(link)
    archive = tmp_path / "link.tar"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(m.UnsafeArchiveError):
        m.safe_extract_tar(archive, tmp_path / "dest")
    assert not (tmp_path / "dest" / "set" / "link").exists()


def test_zip_escaping_the_data_dir_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", b"fine")
        zf.writestr("../evil", b"pwned")
    with pytest.raises(m.UnsafeArchiveError):
        m.safe_extract_zip(archive, tmp_path / "dest")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "dest" / "ok.txt").exists()


def test_zip_and_gzip_unpacking(server, env):
    root, base = server
    manifests, _ = env
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner/x.txt", b"zipped")
    zbytes = buf.getvalue()
    gz = gzip.compress(PAYLOAD, mtime=0)
    (root / "a.zip").write_bytes(zbytes)
    (root / "p.bin.gz").write_bytes(gz)
    payload = {"name": "p.bin", "md5": _md5(PAYLOAD), "sha256": _sha256(PAYLOAD), "size": len(PAYLOAD)}
    write_manifest(manifests, "toy", [
        file_entry("a.zip", zbytes, [base + "a.zip"], unpack="zip"),
        file_entry("p.bin.gz", gz, [base + "p.bin.gz"], unpack="gzip", payload=payload),
    ])
    path = m.fetch("toy", progress=False)
    assert (path / "inner" / "x.txt").read_bytes() == b"zipped"
    assert (path / "p.bin").read_bytes() == PAYLOAD


def test_file_without_checksum_needs_trust_unverified(server, env):
    root, base = server
    manifests, _ = env
    (root / "f.bin").write_bytes(PAYLOAD)
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [base + "f.bin"], md5=None, sha256=None)])
    with pytest.raises(m.UnverifiedDownloadError, match="--trust-unverified"):
        m.fetch("toy", progress=False)
    path = m.fetch("toy", progress=False, trust_unverified=True)
    assert (path / "f.bin").read_bytes() == PAYLOAD


def test_missing_dataset_message_names_the_fetch_command(env):
    manifests, data = env
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, ["https://example.org/f.bin"])])
    with pytest.raises(m.DatasetMissingError) as info:
        m.locate("toy")
    text = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "'toy'" in text and "python -m adlib.data fetch toy" in text
    assert str(data / "toy") in text


def test_registration_required_is_explained_not_downloaded(env):
    manifests, data = env
    write_manifest(
        manifests, "reg", [file_entry("r.tar", PAYLOAD, [])], registration_required=True,
        obtain="Register at https://example.org/register, download r.tar and put it in data/reg.",
    )
    with pytest.raises(m.DatasetMissingError) as info:
        m.fetch("reg", progress=False)
    text = str(info.value)
    assert "https://example.org/register" in text and str(data / "reg") in text
    assert "fetch reg" not in text  # fetch cannot get it, so it must not suggest fetch
    assert not (data / "reg").exists()
    # Placed by hand, it is found and verified.
    (data / "reg").mkdir()
    (data / "reg" / "r.tar").write_bytes(PAYLOAD)
    assert m.locate("reg") == data / "reg"
    assert m.fetch("reg", progress=False) == data / "reg"


def test_explicit_data_dir(server, env, tmp_path):
    root, base = server
    manifests, data = env
    (root / "f.bin").write_bytes(PAYLOAD)
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [base + "f.bin"])])
    target = tmp_path / "elsewhere"
    assert m.fetch("toy", data_dir=target, progress=False) == target
    assert (target / "f.bin").read_bytes() == PAYLOAD
    assert not (data / "toy").exists()


def test_cli_fetch(server, env):
    root, base = server
    manifests, data = env
    (root / "f.bin").write_bytes(PAYLOAD)
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [base + "f.bin"])])
    write_manifest(manifests, "bad", [file_entry("f.bin", b"other", [base + "f.bin"])])
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["fetch", "--no-progress", "toy"], out, err) == 0
    assert out.getvalue().strip() == f"toy: {data / 'toy'}"
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["fetch", "--no-progress", "bad"], out, err) == 1
    assert "checksum mismatch" in err.getvalue() and base + "f.bin" in err.getvalue()
    assert not (data / "bad" / "f.bin").exists()
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["verify", "toy"], out, err) == 0 and "toy/f.bin: OK" in out.getvalue()
    os.remove(data / "toy" / "f.bin")
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["verify", "toy"], out, err) == 1 and "fetch toy" in out.getvalue()


def test_truncated_local_copy_is_a_clear_error_then_quarantined_and_refetched(server, env):
    root, base = server
    manifests, data = env
    (root / "f.bin").write_bytes(PAYLOAD)
    write_manifest(manifests, "toy", [file_entry("f.bin", PAYLOAD, [base + "f.bin"])])
    (data / "toy").mkdir()
    (data / "toy" / "f.bin").write_bytes(PAYLOAD[:1000])  # an interrupted copy
    with pytest.raises(m.DatasetMissingError) as err:
        m.locate("toy")
    assert "f.bin checksum mismatch" in str(err.value) and "python -m adlib.data fetch toy" in str(err.value)
    assert (m.fetch("toy", progress=False) / "f.bin").read_bytes() == PAYLOAD
    [moved] = (data / "toy").glob("f.bin.corrupt-*")
    assert moved.read_bytes() == PAYLOAD[:1000]
    assert m.locate("toy") == data / "toy"
