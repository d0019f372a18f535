"""Dataset manifests: where each dataset comes from, how to check it, where it lives on disk.

One YAML file per dataset in ``data_manifests/<name>.yaml`` (schema in :class:`Manifest`). This
module reads them and answers three questions:

* :func:`data_dirs` -- where might the dataset be? In this order: ``$ADLIB_DATA/<name>``,
  ``<repo>/data/<name>`` (the repository is the directory holding ``data_manifests/``, found from
  the package location and from the current directory), then the manifest's ``local_locations``.
* :func:`locate` -- which of those directories holds files that verify? A file verifies when its
  archive checksum matches *or* the checksum of its uncompressed payload matches (``.gz`` files are
  decompressed to check; this is what makes the Debian copy of Fashion-MNIST acceptable). Results
  are cached in memory per process, keyed by path, size and modification time.
* :func:`fetch` -- download with :func:`pooch.retrieve` (each mirror in turn), verify, unpack
  safely. A checksum mismatch raises :class:`ChecksumError` and leaves no file under the target
  name.

Nothing here imports torch: the CLI (``python -m adlib.data``) stays fast.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tarfile
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Literal, Mapping, Sequence

import yaml

from adlib.atomic import quarantine

ENV_DATA = "ADLIB_DATA"
ENV_MANIFESTS = "ADLIB_MANIFESTS"
MANIFEST_DIRNAME = "data_manifests"
FETCH_COMMAND = "python -m adlib.data fetch {name}"

Unpack = Literal["none", "tar", "zip", "gzip"]
_UNPACK_VALUES: tuple[str, ...] = ("none", "tar", "zip", "gzip")
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_NAME_RE = re.compile(r"^[a-z0-9_]+$")
_CHUNK = 1 << 20


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class DatasetMissingError(FileNotFoundError):
    """The dataset is not on this machine (or does not verify); the message says how to get it."""


class ChecksumError(ValueError):
    """A downloaded or local file does not match the checksum in its manifest."""

    def __init__(self, message: str, *, expected: str = "", actual: str = "", url: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual
        self.url = url


class UnverifiedDownloadError(ValueError):
    """A manifest file has no checksum at all, and ``trust_unverified`` was not given."""


class UnsafeArchiveError(ValueError):
    """An archive has an entry that would be written outside the data directory."""


class DownloadError(OSError):
    """Every URL of a file failed for reasons other than a checksum mismatch."""


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """The uncompressed content of a ``.gz`` file, with its own checksums."""

    name: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class ManifestFile:
    """One file of a dataset as published (``name`` is the file name on disk)."""

    name: str
    urls: tuple[str, ...] = ()
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None
    unpack: Unpack = "none"
    payload: Payload | None = None

    @property
    def has_hash(self) -> bool:
        """Whether any checksum (of the archive or of its payload) is known."""
        return bool(
            self.md5 or self.sha256 or (self.payload and (self.payload.md5 or self.payload.sha256))
        )

    @property
    def known_hash(self) -> str | None:
        """The archive hash in pooch's ``"alg:hex"`` form (sha256 preferred), or None."""
        if self.sha256:
            return f"sha256:{self.sha256}"
        if self.md5:
            return f"md5:{self.md5}"
        return None


@dataclass(frozen=True)
class Subset:
    """A named list of classes of the dataset a manifest is ``derived_from`` (e.g. ImageNet synsets).

    ``members`` are ``(wnid, name)`` pairs in the order the source lists them.
    """

    name: str
    title: str
    members: tuple[tuple[str, str], ...]

    @property
    def wnids(self) -> tuple[str, ...]:
        return tuple(w for w, _ in self.members)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for _, n in self.members)


@dataclass(frozen=True)
class Manifest:
    """A dataset manifest (one ``data_manifests/<name>.yaml``).

    Required YAML keys: ``name, title, homepage, licence, citation, registration_required,
    used_by, local_locations, files, notes``. Optional: ``withdrawn`` (no longer distributed),
    ``obtain`` (how to get it by hand; required when ``registration_required``),
    ``bundled_with`` (a Python package that ships the data, e.g. ``scikit-learn``),
    ``derived_from`` (another manifest whose files hold the data; this one then lists no files
    and :func:`locate`, :func:`verify`, :func:`fetch` and :func:`find_present` answer for that
    one) and ``subsets`` (named lists of the source's classes: ``{name: {title, members:
    [{wnid, name}, ...]}}``; only with ``derived_from``).
    """

    name: str
    title: str
    homepage: str
    licence: str
    citation: str
    registration_required: bool
    used_by: tuple[str, ...]
    local_locations: tuple[str, ...]
    files: tuple[ManifestFile, ...]
    notes: str
    withdrawn: bool = False
    obtain: str | None = None
    bundled_with: str | None = None
    derived_from: str | None = None
    subsets: tuple[Subset, ...] = ()
    source: Path | None = field(default=None, compare=False)

    def subset(self, name: str) -> Subset:
        """The subset called ``name``; an unknown name is an error listing the valid ones."""
        for sub in self.subsets:
            if sub.name == name:
                return sub
        names = ", ".join(s.name for s in self.subsets) or "(none)"
        raise ValueError(f"dataset {self.name!r} has no subset {name!r}; its subsets are: {names}")

    def file(self, filename: str) -> ManifestFile:
        """The manifest entry called ``filename`` (or whose payload is called that)."""
        for f in self.files:
            if filename == f.name or (f.payload is not None and filename == f.payload.name):
                return f
        names = ", ".join(f.name for f in self.files) or "(none)"
        raise ValueError(f"dataset {self.name!r} has no file {filename!r}; its files are: {names}")

    @property
    def downloadable(self) -> bool:
        """Whether :func:`fetch` can get every file (all have URLs, none is withdrawn/manual)."""
        return (
            not self.withdrawn
            and not self.registration_required
            and self.bundled_with is None
            and bool(self.files)
            and all(f.urls for f in self.files)
        )


_REQUIRED_KEYS = (
    "name",
    "title",
    "homepage",
    "licence",
    "citation",
    "registration_required",
    "used_by",
    "local_locations",
    "files",
    "notes",
)
_OPTIONAL_KEYS = ("withdrawn", "obtain", "bundled_with", "derived_from", "subsets")
_SUBSET_KEYS = ("title", "members")
_MEMBER_KEYS = ("wnid", "name")
_WNID_RE = re.compile(r"^n[0-9]{8}$")
_FILE_KEYS = ("name", "urls", "md5", "sha256", "size", "unpack", "payload")
_PAYLOAD_KEYS = ("name", "md5", "sha256", "size")


def _fail(source: Path | str, message: str) -> ValueError:
    return ValueError(f"invalid manifest {source}: {message}")


def _check_hash(source: Path | str, where: str, value: Any, kind: str) -> str | None:
    if value is None:
        return None
    pattern = _MD5_RE if kind == "md5" else _SHA256_RE
    if not isinstance(value, str) or not pattern.match(value):
        length = 32 if kind == "md5" else 64
        raise _fail(source, f"{where}.{kind} must be {length} lowercase hex digits or null, got {value!r}")
    return value


def _check_size(source: Path | str, where: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(source, f"{where}.size must be a non-negative integer or null, got {value!r}")
    return value


def _check_keys(source: Path | str, where: str, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise _fail(source, f"{where} has unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _safe_filename(source: Path | str, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value or "/" in value or "\\" in value or value in (".", ".."):
        raise _fail(source, f"{where}.name must be a plain file name, got {value!r}")
    return value


def _parse_payload(source: Path | str, where: str, data: Any) -> Payload | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise _fail(source, f"{where} must be a mapping")
    _check_keys(source, where, data, _PAYLOAD_KEYS)
    return Payload(
        name=_safe_filename(source, where, data.get("name")),
        md5=_check_hash(source, where, data.get("md5"), "md5"),
        sha256=_check_hash(source, where, data.get("sha256"), "sha256"),
        size=_check_size(source, where, data.get("size")),
    )


def _parse_file(source: Path | str, index: int, data: Any) -> ManifestFile:
    where = f"files[{index}]"
    if not isinstance(data, Mapping):
        raise _fail(source, f"{where} must be a mapping")
    _check_keys(source, where, data, _FILE_KEYS)
    name = _safe_filename(source, where, data.get("name"))
    urls = data.get("urls") or []
    if not isinstance(urls, list) or not all(
        isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls
    ):
        raise _fail(source, f"{where}.urls must be a list of http(s) URLs, got {urls!r}")
    unpack = data.get("unpack") or "none"
    if unpack not in _UNPACK_VALUES:
        raise _fail(source, f"{where}.unpack must be one of {_UNPACK_VALUES}, got {unpack!r}")
    return ManifestFile(
        name=name,
        urls=tuple(urls),
        md5=_check_hash(source, where, data.get("md5"), "md5"),
        sha256=_check_hash(source, where, data.get("sha256"), "sha256"),
        size=_check_size(source, where, data.get("size")),
        unpack=unpack,
        payload=_parse_payload(source, f"{where}.payload", data.get("payload")),
    )


def _parse_subsets(source: Path | str, data: Any) -> tuple[Subset, ...]:
    if data is None:
        return ()
    if not isinstance(data, Mapping) or not data:
        raise _fail(source, "subsets must be a non-empty mapping of subset name -> {title, members}")
    subsets = []
    for name, body in data.items():
        where = f"subsets.{name}"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise _fail(source, f"subset names must match {_NAME_RE.pattern}, got {name!r}")
        if not isinstance(body, Mapping):
            raise _fail(source, f"{where} must be a mapping with keys {list(_SUBSET_KEYS)}")
        _check_keys(source, where, body, _SUBSET_KEYS)
        title, members = body.get("title"), body.get("members")
        if not isinstance(title, str) or not title.strip():
            raise _fail(source, f"{where}.title must be a non-empty string")
        if not isinstance(members, list) or not members:
            raise _fail(source, f"{where}.members must be a non-empty list of {{wnid, name}}")
        pairs = []
        for i, member in enumerate(members):
            if not isinstance(member, Mapping):
                raise _fail(source, f"{where}.members[{i}] must be a mapping {{wnid, name}}")
            _check_keys(source, f"{where}.members[{i}]", member, _MEMBER_KEYS)
            wnid, label = member.get("wnid"), member.get("name")
            if not isinstance(wnid, str) or not _WNID_RE.match(wnid):
                raise _fail(source, f"{where}.members[{i}].wnid must look like n01234567, got {wnid!r}")
            if not isinstance(label, str) or not label.strip():
                raise _fail(source, f"{where}.members[{i}].name must be a non-empty string")
            pairs.append((wnid, label))
        wnids = [w for w, _ in pairs]
        if len(set(wnids)) != len(wnids):
            raise _fail(source, f"{where} lists a wnid twice: {sorted(w for w in set(wnids) if wnids.count(w) > 1)}")
        subsets.append(Subset(name=name, title=title, members=tuple(pairs)))
    return tuple(subsets)


def parse_manifest(data: Mapping[str, Any], source: Path | str = "<memory>") -> Manifest:
    """Build a :class:`Manifest` from parsed YAML, with clear errors for every schema violation."""
    if not isinstance(data, Mapping):
        raise _fail(source, "top level must be a mapping")
    missing = [k for k in _REQUIRED_KEYS if k not in data]
    if missing:
        raise _fail(source, f"missing required key(s) {missing}")
    _check_keys(source, "manifest", data, _REQUIRED_KEYS + _OPTIONAL_KEYS)
    for key in ("name", "title", "homepage", "licence", "citation", "notes"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise _fail(source, f"{key} must be a non-empty string")
    if not _NAME_RE.match(data["name"]):
        raise _fail(source, f"name must match {_NAME_RE.pattern}, got {data['name']!r}")
    if not isinstance(data["registration_required"], bool):
        raise _fail(source, "registration_required must be true or false")
    for key in ("used_by", "local_locations", "files"):
        if not isinstance(data[key], list):
            raise _fail(source, f"{key} must be a list")
    if not all(isinstance(p, str) and p for p in data["used_by"]):
        raise _fail(source, "used_by must be a list of paper ids")
    if not all(isinstance(p, str) and p for p in data["local_locations"]):
        raise _fail(source, "local_locations must be a list of directory paths")
    withdrawn = data.get("withdrawn", False)
    if not isinstance(withdrawn, bool):
        raise _fail(source, "withdrawn must be true or false")
    obtain = data.get("obtain")
    if obtain is not None and (not isinstance(obtain, str) or not obtain.strip()):
        raise _fail(source, "obtain must be a non-empty string or absent")
    bundled_with = data.get("bundled_with")
    if bundled_with is not None and (not isinstance(bundled_with, str) or not bundled_with):
        raise _fail(source, "bundled_with must be a package name or absent")
    files = tuple(_parse_file(source, i, f) for i, f in enumerate(data["files"]))
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise _fail(source, f"duplicate file names in {names}")
    if data["registration_required"] and not obtain:
        raise _fail(source, "registration_required is true, so `obtain` must say how to get the data")
    if withdrawn and not obtain:
        raise _fail(source, "withdrawn is true, so `obtain` must explain what to use instead")
    if (data["registration_required"] or withdrawn) and any(f.urls for f in files):
        raise _fail(source, "a registration-required or withdrawn dataset must not list download URLs")
    if not files and not obtain:
        raise _fail(source, "a manifest without files must say in `obtain` how to get the data")
    derived_from = data.get("derived_from")
    if derived_from is not None:
        if not isinstance(derived_from, str) or not _NAME_RE.match(derived_from) or derived_from == data["name"]:
            raise _fail(source, f"derived_from must name another manifest, got {derived_from!r}")
        if files:
            raise _fail(source, f"a manifest derived_from {derived_from} lists no files of its own")
    subsets = _parse_subsets(source, data.get("subsets"))
    if subsets and derived_from is None:
        raise _fail(source, "subsets name classes of another dataset, so `derived_from` must name it")
    return Manifest(
        name=data["name"],
        title=data["title"],
        homepage=data["homepage"],
        licence=data["licence"],
        citation=data["citation"],
        registration_required=data["registration_required"],
        used_by=tuple(data["used_by"]),
        local_locations=tuple(data["local_locations"]),
        files=files,
        notes=data["notes"],
        withdrawn=withdrawn,
        obtain=obtain,
        bundled_with=bundled_with,
        derived_from=derived_from,
        subsets=subsets,
        source=None if source == "<memory>" else Path(source),
    )


# --------------------------------------------------------------------------------------------
# Finding manifests and data directories
# --------------------------------------------------------------------------------------------


def _package_repo_root() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    return root if (root / MANIFEST_DIRNAME).is_dir() else None


def _cwd_repo_root() -> Path | None:
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / MANIFEST_DIRNAME).is_dir():
            return candidate
    return None


def repo_roots() -> list[Path]:
    """Directories holding ``data_manifests/``: from the package location, then from the cwd."""
    roots: list[Path] = []
    for root in (_package_repo_root(), _cwd_repo_root()):
        if root is not None and root not in roots:
            roots.append(root)
    return roots


def manifest_directory(manifest_dir: str | os.PathLike[str] | None = None) -> Path:
    """The manifest directory: the argument, else ``$ADLIB_MANIFESTS``, else ``<repo>/data_manifests``."""
    if manifest_dir is not None:
        return Path(manifest_dir)
    env = os.environ.get(ENV_MANIFESTS)
    if env:
        return Path(env)
    roots = repo_roots()
    if not roots:
        raise FileNotFoundError(
            f"cannot find the {MANIFEST_DIRNAME}/ directory: looked beside the adlib package and in "
            f"{Path.cwd()} and its parents. Run from the adlib-book repository or set "
            f"{ENV_MANIFESTS}=/path/to/{MANIFEST_DIRNAME}."
        )
    return roots[0] / MANIFEST_DIRNAME


def list_manifests(manifest_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Sorted names of all datasets that have a manifest."""
    directory = manifest_directory(manifest_dir)
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_manifest(name: str, manifest_dir: str | os.PathLike[str] | None = None) -> Manifest:
    """Read and validate ``<manifest dir>/<name>.yaml``.

    Raises ValueError naming the valid datasets when ``name`` has no manifest, and ValueError
    describing the problem when the manifest breaks the schema.
    """
    directory = manifest_directory(manifest_dir)
    path = directory / f"{name}.yaml"
    if not _NAME_RE.match(name or "") or not path.is_file():
        valid = ", ".join(list_manifests(directory)) or "(none)"
        raise ValueError(f"unknown dataset {name!r} (no {path}). Valid names: {valid}")
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    manifest = parse_manifest(data, path)
    if manifest.name != name:
        raise _fail(path, f"name is {manifest.name!r} but the file is called {name}.yaml")
    return manifest


def _as_manifest(name: str | Manifest) -> Manifest:
    return name if isinstance(name, Manifest) else load_manifest(name)


def data_manifest(name: str | Manifest) -> Manifest:
    """The manifest whose files hold ``name``'s data: itself, or what it is ``derived_from``."""
    manifest = _as_manifest(name)
    seen = [manifest.name]
    while manifest.derived_from is not None:
        if manifest.derived_from in seen:
            raise ValueError(f"manifests derive from each other in a cycle: {' -> '.join(seen + [manifest.derived_from])}")
        manifest = load_manifest(manifest.derived_from)
        seen.append(manifest.name)
    return manifest


def _bundled_dirs(package: str) -> list[Path]:
    if package in ("scikit-learn", "sklearn"):
        spec = importlib.util.find_spec("sklearn")
        if spec is not None and spec.submodule_search_locations:
            return [Path(loc) / "datasets" / "data" for loc in spec.submodule_search_locations]
    return []


def default_data_dir(name: str) -> Path:
    """Where :func:`fetch` puts ``name``: ``$ADLIB_DATA/<name>``, else ``<repo>/data/<name>``."""
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser() / name
    roots = repo_roots()
    base = roots[0] if roots else Path.cwd()
    return base / "data" / name


def data_dirs(name: str | Manifest) -> list[Path]:
    """Directories searched for dataset ``name``, in order (they need not exist)."""
    manifest = _as_manifest(name)
    dirs: list[Path] = []
    env = os.environ.get(ENV_DATA)
    if env:
        dirs.append(Path(env).expanduser() / manifest.name)
    roots = repo_roots() or [Path.cwd()]
    dirs.extend(root / "data" / manifest.name for root in roots)
    dirs.extend(Path(os.path.expandvars(p)).expanduser() for p in manifest.local_locations)
    if manifest.bundled_with:
        dirs.extend(_bundled_dirs(manifest.bundled_with))
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------

_cache_lock = threading.Lock()
_verify_cache: dict[tuple[Any, ...], bool] = {}


def clear_verification_cache() -> None:
    """Forget every cached verification result (tests; after files were replaced in place)."""
    with _cache_lock:
        _verify_cache.clear()


def _hash_stream(stream: Any) -> tuple[str, str, int]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        md5.update(chunk)
        sha.update(chunk)
        size += len(chunk)
    return md5.hexdigest(), sha.hexdigest(), size


def file_hashes(path: str | os.PathLike[str], *, decompress: bool = False) -> tuple[str, str, int]:
    """``(md5, sha256, size)`` of a file, or of its gzip-decompressed content."""
    opener = gzip.open if decompress else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        return _hash_stream(fh)


def _matches(actual: tuple[str, str, int], md5: str | None, sha256: str | None, size: int | None) -> bool:
    return (
        (md5 is None or actual[0] == md5)
        and (sha256 is None or actual[1] == sha256)
        and (size is None or actual[2] == size)
    )


def _is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _check_path(path: Path, entry: ManifestFile) -> bool:
    """Whether ``path`` (the archive name or the payload name of ``entry``) verifies."""
    payload = entry.payload
    if path.name == entry.name:
        archive_hashed = bool(entry.md5 or entry.sha256)
        size_ok = entry.size is None or path.stat().st_size == entry.size
        if archive_hashed and size_ok:
            if _matches(file_hashes(path), entry.md5, entry.sha256, entry.size):
                return True
        if payload is not None and (payload.md5 or payload.sha256) and _is_gzip(path):
            try:
                actual = file_hashes(path, decompress=True)
            except (OSError, EOFError, gzip.BadGzipFile):
                return False
            if _matches(actual, payload.md5, payload.sha256, payload.size):
                return True
        if not entry.has_hash:
            return size_ok  # nothing published to check against: present (unverified)
        return False
    if payload is not None and path.name == payload.name:
        if not (payload.md5 or payload.sha256):
            return payload.size is None or path.stat().st_size == payload.size
        if payload.size is not None and path.stat().st_size != payload.size:
            return False
        return _matches(file_hashes(path), payload.md5, payload.sha256, payload.size)
    return False


def verify_path(path: str | os.PathLike[str], entry: ManifestFile) -> bool:
    """Whether the file at ``path`` verifies against ``entry`` (cached per process).

    The archive hashes are tried first, then (for gzip files) the hashes of the decompressed
    payload; a file named like the payload is compared with the payload hashes directly. An entry
    with no hash at all is accepted when the file exists (and has the right size, if known).
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return False
    if not p.is_file():
        return False
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, entry)
    with _cache_lock:
        cached = _verify_cache.get(key)
    if cached is not None:
        return cached
    result = _check_path(p, entry)
    with _cache_lock:
        _verify_cache[key] = result
    return result


def _candidates(directory: Path, entry: ManifestFile) -> list[Path]:
    names = [entry.name] + ([entry.payload.name] if entry.payload else [])
    return [directory / n for n in names]


def _resolve_in(directory: Path, entry: ManifestFile) -> tuple[Path | None, str]:
    """The verified file for ``entry`` in ``directory`` and, if none, why (``missing``/``mismatch``)."""
    found_any = False
    for candidate in _candidates(directory, entry):
        if candidate.is_file():
            found_any = True
            if verify_path(candidate, entry):
                return candidate, "ok"
    return None, ("checksum mismatch" if found_any else "missing")


def _select(manifest: Manifest, files: Sequence[str] | None) -> tuple[ManifestFile, ...]:
    if files is None:
        return manifest.files
    return tuple(manifest.file(f) for f in files)


def _dir_nonempty(directory: Path) -> bool:
    try:
        return directory.is_dir() and any(directory.iterdir())
    except OSError:
        return False


def _missing_message(manifest: Manifest, searched: Sequence[tuple[Path, str]]) -> str:
    lines = [f"Dataset {manifest.name!r} ({manifest.title}) was not found, or its files did not verify."]
    lines.append("Searched:")
    for directory, reason in searched:
        lines.append(f"  - {directory}: {reason}")
    if manifest.withdrawn:
        lines.append("It was withdrawn and cannot be downloaded:")
        lines.append(f"  {manifest.obtain}")
    elif manifest.bundled_with:
        lines.append(f"It ships with the Python package {manifest.bundled_with!r}:")
        lines.append(f"  {manifest.obtain}")
    elif manifest.registration_required or not manifest.downloadable:
        lines.append("It must be obtained by hand:")
        lines.append(f"  {manifest.obtain or 'see ' + manifest.homepage}")
        lines.append(f"Put the files in {default_data_dir(manifest.name)} (or under ${ENV_DATA}/{manifest.name}).")
    else:
        lines.append("To download and verify it, run:")
        lines.append(f"    {FETCH_COMMAND.format(name=manifest.name)}")
    return "\n".join(lines)


def _search(manifest: Manifest, files: Sequence[str] | None) -> tuple[Path | None, list[tuple[Path, str]]]:
    wanted = _select(manifest, files)
    searched: list[tuple[Path, str]] = []
    for directory in data_dirs(manifest):
        if not directory.is_dir():
            searched.append((directory, "no such directory"))
            continue
        if not wanted:
            if _dir_nonempty(directory):
                return directory, searched
            searched.append((directory, "empty"))
            continue
        problems = []
        for entry in wanted:
            path, reason = _resolve_in(directory, entry)
            if path is None:
                problems.append(f"{entry.name} {reason}")
        if not problems:
            return directory, searched
        searched.append((directory, "; ".join(problems)))
    return None, searched


def locate(name: str | Manifest, *, files: Sequence[str] | None = None) -> Path:
    """The first data directory of ``name`` whose files all verify.

    ``files`` restricts the check to some of the manifest's files (e.g. only
    ``test_32x32.mat`` of SVHN). Raises :class:`DatasetMissingError` naming the directories
    searched and the command (or manual steps) that get the data.
    """
    manifest = data_manifest(name)
    found, searched = _search(manifest, files)
    if found is None:
        raise DatasetMissingError(_missing_message(manifest, searched))
    return found


def locate_file(name: str | Manifest, filename: str) -> Path:
    """The verified path of one manifest file (the archive or, if that is what is there, its payload)."""
    manifest = _as_manifest(name)
    entry = manifest.file(filename)
    directory = locate(manifest, files=[entry.name])
    path, _ = _resolve_in(directory, entry)
    assert path is not None  # locate() just verified it
    return path


def _plausible(candidate: Path, entry: ManifestFile) -> bool:
    """Cheap check: the file exists and its size fits (archives with a payload may differ in size)."""
    if not candidate.is_file():
        return False
    size = candidate.stat().st_size
    if candidate.name == entry.name:
        return entry.size is None or entry.payload is not None or size == entry.size
    return entry.payload is None or entry.payload.size is None or size == entry.payload.size


def find_present(name: str | Manifest) -> Path | None:
    """A cheap presence check (files exist with a plausible size; no hashing), for listings."""
    manifest = data_manifest(name)
    for directory in data_dirs(manifest):
        if not directory.is_dir():
            continue
        if not manifest.files:
            if _dir_nonempty(directory):
                return directory
            continue
        if all(any(_plausible(c, e) for c in _candidates(directory, e)) for e in manifest.files):
            return directory
    return None


def verify(name: str | Manifest) -> dict[str, bool]:
    """Per manifest file, whether a verifying copy exists in any data directory (for a manifest
    ``derived_from`` another, that one's files)."""
    manifest = data_manifest(name)
    result: dict[str, bool] = {}
    dirs = [d for d in data_dirs(manifest) if d.is_dir()]
    for entry in manifest.files:
        result[entry.name] = any(_resolve_in(d, entry)[0] is not None for d in dirs)
    return result


# --------------------------------------------------------------------------------------------
# Safe unpacking
# --------------------------------------------------------------------------------------------


def _check_member_name(archive: Path, name: str) -> None:
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"refusing to unpack {archive.name}: absolute path {name!r}")
    if ".." in posix.parts:
        raise UnsafeArchiveError(f"refusing to unpack {archive.name}: entry {name!r} leaves the data directory")


def _within(base: Path, target: Path) -> bool:
    base = base.resolve()
    try:
        target.resolve().relative_to(base)
    except ValueError:
        return False
    return True


def safe_extract_tar(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Extract a tar archive into ``dest``, refusing any entry that would land outside it.

    Every entry is checked *before* anything is written (absolute names, ``..``, links pointing
    outside, device files), then extraction uses ``tarfile``'s ``"data"`` filter as well.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for member in members:
            _check_member_name(archive, member.name)
            if member.issym() or member.islnk():
                link = PurePosixPath(member.linkname)
                if link.is_absolute() or not _within(dest, dest / PurePosixPath(member.name).parent / link):
                    raise UnsafeArchiveError(
                        f"refusing to unpack {archive.name}: link {member.name!r} -> {member.linkname!r} "
                        "points outside the data directory"
                    )
            if hasattr(tarfile, "data_filter"):
                try:
                    tarfile.data_filter(member, str(dest))
                except tarfile.FilterError as exc:
                    raise UnsafeArchiveError(f"refusing to unpack {archive.name}: {exc}") from exc
            elif not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                raise UnsafeArchiveError(f"refusing to unpack {archive.name}: special file {member.name!r}")
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, members=members, filter="data")
        else:  # pragma: no cover - Python < 3.11.4; every entry was checked above
            tf.extractall(dest, members=members)


def safe_extract_zip(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Extract a zip archive into ``dest``, refusing any entry that would land outside it."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            _check_member_name(archive, info.filename)
            if not _within(dest, dest / info.filename):
                raise UnsafeArchiveError(f"refusing to unpack {archive.name}: {info.filename!r} leaves {dest}")
        zf.extractall(dest, members=infos)


def _gunzip(archive: Path, entry: ManifestFile) -> Path:
    target_name = entry.payload.name if entry.payload else archive.name.removesuffix(".gz")
    target = archive.parent / target_name
    with tempfile.NamedTemporaryFile(dir=archive.parent, prefix=f".{target_name}.", delete=False) as tmp:
        tmp_path = Path(tmp.name)
        try:
            with gzip.open(archive, "rb") as src:
                shutil.copyfileobj(src, tmp, _CHUNK)
        except BaseException:
            tmp.close()
            tmp_path.unlink(missing_ok=True)
            raise
    if entry.payload is not None and entry.payload.name == target_name and (entry.payload.md5 or entry.payload.sha256):
        actual = file_hashes(tmp_path)
        if not _matches(actual, entry.payload.md5, entry.payload.sha256, entry.payload.size):
            tmp_path.unlink(missing_ok=True)
            raise ChecksumError(
                f"the decompressed content of {archive} does not match its manifest: expected sha256 "
                f"{entry.payload.sha256} / md5 {entry.payload.md5}, got sha256 {actual[1]} / md5 {actual[0]}",
                expected=entry.payload.sha256 or entry.payload.md5 or "",
                actual=actual[1],
            )
    os.replace(tmp_path, target)
    return target


def _marker(archive: Path) -> Path:
    return archive.parent / f".{archive.name}.unpacked"


def unpack_file(archive: str | os.PathLike[str], entry: ManifestFile) -> None:
    """Unpack ``archive`` beside itself according to ``entry.unpack`` (once; a marker records it)."""
    archive = Path(archive)
    if entry.unpack == "none":
        return
    marker = _marker(archive)
    if marker.exists():
        return
    if entry.unpack == "tar":
        safe_extract_tar(archive, archive.parent)
    elif entry.unpack == "zip":
        safe_extract_zip(archive, archive.parent)
    elif entry.unpack == "gzip":
        _gunzip(archive, entry)
    marker.write_text(f"{entry.name}\n", encoding="utf-8")


def ensure_unpacked(name: str | Manifest, filename: str) -> Path:
    """Locate ``filename`` of dataset ``name``, unpack it if needed, and return its directory."""
    manifest = _as_manifest(name)
    path = locate_file(manifest, filename)
    entry = manifest.file(filename)
    if path.name == entry.name:
        unpack_file(path, entry)
    return path.parent


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------

_POOCH_MISMATCH = re.compile(r"expected (?P<expected>\S+) but got (?P<actual>[0-9a-fA-F]+)")


def _describe_expected(entry: ManifestFile) -> str:
    parts = [f"sha256 {entry.sha256}" if entry.sha256 else "", f"md5 {entry.md5}" if entry.md5 else ""]
    parts.append(f"size {entry.size}" if entry.size is not None else "")
    return ", ".join(p for p in parts if p) or "(no checksum)"


def _retrieve(entry: ManifestFile, url: str, target_dir: Path, progress: bool) -> ChecksumError | str | None:
    """Download ``url`` to ``target_dir/entry.name`` with pooch.

    Returns None on success (the file is there and matches every known hash and the size), a
    :class:`ChecksumError` on mismatch or truncation (nothing left under the target name), or a
    string describing any other failure (HTTP error, connection refused, ...).
    """
    import pooch  # lazy: only needed when downloading
    import requests

    target = target_dir / entry.name
    known_hash = entry.known_hash
    try:
        pooch.retrieve(url, known_hash=known_hash, fname=entry.name, path=target_dir, progressbar=progress)
    except ValueError as exc:
        match = _POOCH_MISMATCH.search(str(exc))
        if match is None:
            raise  # not a checksum problem (e.g. a pooch configuration error): do not hide it
        target.unlink(missing_ok=True)
        algorithm = known_hash.split(":")[0] if known_hash else ""
        return ChecksumError(
            f"checksum mismatch for {entry.name} downloaded from {url}: expected {known_hash}, got "
            f"{algorithm}:{match.group('actual')}. The download was truncated or corrupted, or the "
            "server sends a different file; it was not kept.",
            expected=known_hash or "",
            actual=f"{algorithm}:{match.group('actual')}",
            url=url,
        )
    except requests.exceptions.ChunkedEncodingError as exc:
        # The connection closed before Content-Length bytes arrived: a truncated download. pooch
        # wrote only to a temporary file (deleted on the way out), so the target name is untouched.
        return ChecksumError(
            f"truncated download of {entry.name} from {url}: expected {_describe_expected(entry)}, got an "
            f"incomplete file ({exc}); it was not kept.",
            expected=known_hash or "",
            actual="incomplete download",
            url=url,
        )
    except (requests.exceptions.RequestException, OSError) as exc:
        return f"{url}: {type(exc).__name__}: {exc}"
    # pooch checked one hash; now check everything the manifest knows (the other hash, the size).
    actual = file_hashes(target)
    if not _matches(actual, entry.md5, entry.sha256, entry.size):
        target.unlink(missing_ok=True)
        return ChecksumError(
            f"checksum mismatch for {entry.name} downloaded from {url}: expected {_describe_expected(entry)}; "
            f"got sha256 {actual[1]}, md5 {actual[0]}, size {actual[2]}. It was not kept.",
            expected=entry.sha256 or entry.md5 or str(entry.size),
            actual=f"sha256:{actual[1]}",
            url=url,
        )
    return None


def _download_one(entry: ManifestFile, target_dir: Path, progress: bool, trust_unverified: bool) -> Path:
    """Get one file into ``target_dir``, trying each URL in turn; see :func:`fetch` for errors."""
    target = target_dir / entry.name
    if not entry.urls:
        raise DownloadError(f"{entry.name} has no download URL in its manifest")
    if not entry.has_hash and not trust_unverified:
        raise UnverifiedDownloadError(
            f"{entry.name} has no published checksum, so a download could not be verified. If you "
            "accept that, rerun with --trust-unverified (fetch(..., trust_unverified=True))."
        )
    if target.exists() and not verify_path(target, entry):
        # a corrupt, truncated or stale copy must not survive under the target name: move it
        # aside (kept for inspection, never found again by locate) and fetch a fresh one
        moved = quarantine(target)
        print(f"{target} failed verification ({_describe_expected(entry)} expected); "
              f"quarantined as {moved.name}, fetching again", file=sys.stderr)
    checksum_errors: list[ChecksumError] = []
    other_errors: list[str] = []
    for url in entry.urls:
        outcome = _retrieve(entry, url, target_dir, progress)
        if outcome is None:
            return target
        if isinstance(outcome, ChecksumError):
            checksum_errors.append(outcome)
        else:
            other_errors.append(outcome)
    if checksum_errors:
        if len(checksum_errors) == 1 and not other_errors:
            raise checksum_errors[0]
        first = checksum_errors[0]
        detail = "\n  ".join([str(e) for e in checksum_errors] + other_errors)
        raise ChecksumError(
            f"no URL gave a verified copy of {entry.name}:\n  {detail}",
            expected=first.expected,
            actual=first.actual,
            url=first.url,
        )
    raise DownloadError(f"could not download {entry.name} from any URL:\n  " + "\n  ".join(other_errors))


def fetch(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    *,
    trust_unverified: bool = False,
    files: Sequence[str] | None = None,
) -> Path:
    """Download, verify and unpack dataset ``name``; return its directory.

    Target: ``data_dir`` if given, else ``$ADLIB_DATA/<name>``, else ``<repo>/data/<name>``.
    Without ``data_dir``, a dataset that already verifies anywhere in :func:`data_dirs` is not
    downloaded again. Each file's URLs (mirrors) are tried in turn with :func:`pooch.retrieve`.
    Raises :class:`ChecksumError` (mismatch or truncation; no file is left under the target
    name), :class:`DownloadError` (every URL failed), :class:`UnverifiedDownloadError` (no
    checksum published and ``trust_unverified`` false), :class:`UnsafeArchiveError` (an archive
    entry would escape the directory; the archive is removed) or :class:`DatasetMissingError`
    (registration required, withdrawn, or no URL: the message says how to get it by hand).
    ``files`` limits the work to some of the manifest's files (e.g. ``["test_32x32.mat"]``).
    """
    manifest = data_manifest(name)
    wanted = _select(manifest, files)
    if data_dir is None:
        found, _ = _search(manifest, files)
        if found is not None:
            _unpack_all(found, wanted)
            return found
    target_dir = Path(data_dir) if data_dir is not None else default_data_dir(manifest.name)
    if manifest.withdrawn or manifest.bundled_with or manifest.registration_required or not wanted or any(
        not f.urls for f in wanted
    ):
        if data_dir is not None:
            try:
                return _verified_dir(manifest, target_dir, wanted)
            except DatasetMissingError:
                pass
        _, searched = _search(manifest, files)
        if data_dir is not None:
            searched.insert(0, (target_dir, "not verified"))
        raise DatasetMissingError(_missing_message(manifest, searched))
    target_dir.mkdir(parents=True, exist_ok=True)
    for entry in wanted:
        if _resolve_in(target_dir, entry)[0] is None:
            _download_one(entry, target_dir, progress, trust_unverified)
    _unpack_all(target_dir, wanted)
    return target_dir


def _unpack_all(directory: Path, wanted: Sequence[ManifestFile]) -> None:
    """Unpack the verified archives among ``wanted`` in ``directory``; drop any that is unsafe."""
    for entry in wanted:
        if entry.unpack == "none":
            continue
        path, _ = _resolve_in(directory, entry)
        if path is None or path.name != entry.name:
            continue  # only the payload is here (already unpacked)
        try:
            unpack_file(path, entry)
        except UnsafeArchiveError:
            path.unlink(missing_ok=True)  # a verified but unusable archive must not look "present"
            raise


def _verified_dir(manifest: Manifest, directory: Path, wanted: Sequence[ManifestFile]) -> Path:
    if not wanted:
        if _dir_nonempty(directory):
            return directory
        raise DatasetMissingError(str(directory))
    for entry in wanted:
        path, reason = _resolve_in(directory, entry)
        if path is None:
            raise DatasetMissingError(f"{directory}: {entry.name} {reason}")
    return directory


__all__ = [
    "ChecksumError",
    "DatasetMissingError",
    "DownloadError",
    "Manifest",
    "ManifestFile",
    "Payload",
    "Subset",
    "UnsafeArchiveError",
    "UnverifiedDownloadError",
    "clear_verification_cache",
    "data_dirs",
    "data_manifest",
    "default_data_dir",
    "ensure_unpacked",
    "fetch",
    "file_hashes",
    "find_present",
    "list_manifests",
    "load_manifest",
    "locate",
    "locate_file",
    "manifest_directory",
    "parse_manifest",
    "repo_roots",
    "safe_extract_tar",
    "safe_extract_zip",
    "unpack_file",
    "verify",
    "verify_path",
]
