"""The results store: one JSON file per run, keyed by a hash of the run's full configuration.

Layout: ``<root>/<paper>/<experiment>/<hash>.json`` (metrics, config, provenance) and, when
the run stored score arrays, ``<hash>.npz`` beside it. Writes are atomic (:mod:`adlib.atomic`),
so an interrupted run, two sweeps writing the same store, or a full disk never leave a
half-written result that a later run would trust; a file that is unreadable or holds another
config is detected on reading (:class:`CorruptResultError`), never used. A stored result is
reused unless the caller forces a re-run.

Stored ``cpu``-scale results are committed to git; ``smoke``-scale results go to
``build/smoke-results`` (ignored) so tests never touch the committed ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from adlib.atomic import atomic_write_bytes, quarantine

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_VERSION = 1


def canonical_json(config: Mapping[str, Any]) -> str:
    """The canonical JSON text of a config (sorted keys, no whitespace): the hashed form."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``config``, first 16 hex digits."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


def git_commit(repo: Path = REPO_ROOT) -> str:
    """``<sha>`` of HEAD, with ``+dirty`` when the library (``adlib/``) differs from it or has
    untracked files; ``unknown`` outside git."""
    try:
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "adlib"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def library_versions() -> dict[str, str]:
    """Versions of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for pkg in ("adlib", "torch", "torchvision", "numpy", "scikit-learn", "scipy", "scikit-image"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def _dask_worker_name() -> str | None:
    """The name of the Dask worker running this code, or None outside a Dask worker."""
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except ValueError:
        return None


def utc_stamp(seconds: float | None = None) -> str:
    """The current UTC time (or the epoch ``seconds``, e.g. a file's mtime) to the second, ISO 8601
    (``2026-11-29T15:06:44Z``): the ``created`` of every record, so stamps compare correctly as strings."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def cpu_kind() -> dict[str, str]:
    """What decides whether a CPU run re-creates bit for bit: the vector instruction set torch's
    kernels use here (``torch.backends.cpu.get_cpu_capability()``: "AVX2", "AVX512", ...) and the
    CPU model. The same config gives bit-identical results on the same kind of CPU; on another kind
    the floating-point sums differ in their last bits, and after training, visibly."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_model": model}


def same_cpu_kind(stored_provenance: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether this machine is the kind of CPU a stored run was made on (so that re-running it must
    give the same bits), and why. Runs stored before :func:`cpu_kind` was recorded are compared by
    their platform string, which names the host image."""
    machine = stored_provenance.get("machine", {})
    here = cpu_kind()
    if "cpu_capability" in machine:
        same = (machine["cpu_capability"], machine.get("cpu_model")) == (here["cpu_capability"], here["cpu_model"])
        return same, (f"stored on {machine.get('cpu_model')} ({machine['cpu_capability']}), this machine is "
                      f"{here['cpu_model']} ({here['cpu_capability']})")
    same = machine.get("platform") == platform.platform()
    return same, (f"stored on a {machine.get('platform')} host (CPU kind not recorded), this machine is "
                  f"{platform.platform()} with {here['cpu_model']} ({here['cpu_capability']})")


def machine_info() -> dict[str, Any]:
    """The machine a result or a measurement was made on: platform, architecture, cores, host name
    and the CPU kind (:func:`cpu_kind`)."""
    return {"platform": platform.platform(), "processor": platform.machine(), "cpu_count": os.cpu_count(),
            "hostname": platform.node(), **cpu_kind()}


def provenance(*, device: str, wall_time_s: float, threads: int | None = None) -> dict[str, Any]:
    """What produced a result: git commit, library versions, machine (and Dask worker), device, wall time."""
    import torch

    return {
        "git_commit": git_commit(),
        "versions": library_versions(),
        "machine": machine_info(),
        "dask_worker": _dask_worker_name(),
        "device": device,
        "cuda_device": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "torch_threads": threads if threads is not None else torch.get_num_threads(),
        "wall_time_s": round(wall_time_s, 3),
        "created": utc_stamp(),
        "argv": sys.argv[:1],
    }


@dataclass
class RunRecord:
    """One stored run: its config, its metrics, where it came from, and optional arrays."""

    config: dict[str, Any]
    metrics: dict[str, Any]
    provenance: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return config_hash(self.config)


def unique_records(records: Iterable[RunRecord]) -> Iterator[RunRecord]:
    """The records, each run once (by config hash), in order: a run listed by two pages (or two
    artefacts sharing it) counts once in a frame."""
    seen: set[str] = set()
    for rec in records:
        if rec.key not in seen:
            seen.add(rec.key)
            yield rec


class CorruptResultError(ValueError):
    """A stored result file that cannot be trusted: unreadable, truncated, or holding another config."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}; it will not be used. Re-run the sweep to replace it "
                         "(the sweep runner moves the file aside and re-runs the config).")
        self.path = path


class ResultsStore:
    """A directory of run records keyed by config hash (see the module docstring)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def for_scale(cls, scale: str) -> "ResultsStore":
        """``results/`` for ``cpu`` and ``paper`` scale, ``build/smoke-results`` for ``smoke``.

        ``$ADLIB_RESULTS`` overrides the root for every scale.
        """
        env = os.environ.get("ADLIB_RESULTS")
        if env:
            return cls(env)
        return cls(REPO_ROOT / ("build/smoke-results" if scale == "smoke" else "results"))

    def path_for(self, config: Mapping[str, Any]) -> Path:
        for required in ("paper", "experiment"):
            if required not in config:
                raise ValueError(f"a run config needs a {required!r} entry to be stored; got keys {sorted(config)}")
        return self.root / str(config["paper"]) / str(config["experiment"]) / f"{config_hash(config)}.json"

    def get(self, config: Mapping[str, Any]) -> RunRecord | None:
        """The stored record for exactly this config, or None if there is none.

        Raises :class:`CorruptResultError` for a file that does not parse, lacks a field, holds a
        different config than its name says, or whose score arrays are unreadable or fail their
        checksum (zip CRC): such a file is never returned.
        """
        path = self.path_for(config)
        if not path.exists():
            return None
        try:
            payload = json.loads(path.read_text())
            stored = {k: payload[k] for k in ("config", "metrics", "provenance")}
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
            raise CorruptResultError(path, f"not a readable result file ({type(err).__name__}: {err})") from None
        if stored["config"] != json.loads(canonical_json(config)):
            raise CorruptResultError(path, "holds a different config than its name says (a foreign or "
                                           "hand-edited file)")
        arrays: dict[str, np.ndarray] = {}
        npz = path.with_suffix(".npz")
        if npz.exists():
            try:
                with np.load(npz, allow_pickle=False) as data:
                    arrays = {k: data[k] for k in data.files}
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
                raise CorruptResultError(npz, f"unreadable score arrays ({type(err).__name__}: {err})") from None
        expected = payload.get("arrays")
        if expected is not None and sorted(expected) != sorted(arrays):
            raise CorruptResultError(path, f"lists arrays {sorted(expected)} but {npz.name} holds {sorted(arrays)}")
        return RunRecord(config=stored["config"], metrics=stored["metrics"],
                         provenance=stored["provenance"], arrays=arrays)

    def is_stored(self, config: Mapping[str, Any]) -> bool:
        """Whether a usable record of ``config`` is stored (a corrupt one does not count)."""
        try:
            return self.get(config) is not None
        except CorruptResultError:
            return False

    def quarantine(self, config: Mapping[str, Any]) -> list[Path]:
        """Move the stored files of ``config`` aside (``*.corrupt-<time>``); return their new paths."""
        path = self.path_for(config)
        return [quarantine(p) for p in (path, path.with_suffix(".npz")) if p.exists()]

    def put(self, record: RunRecord) -> Path:
        """Store ``record`` atomically: arrays first, so a JSON never points to missing arrays; if
        the JSON cannot be written (a full disk) the arrays just written are removed again."""
        path = self.path_for(record.config)
        npz = path.with_suffix(".npz")
        if record.arrays:
            buf = io.BytesIO()
            np.savez_compressed(buf, **record.arrays)
            atomic_write_bytes(npz, buf.getvalue())
        payload = {"schema": SCHEMA_VERSION, "key": record.key, "config": record.config,
                   "metrics": record.metrics, "provenance": record.provenance}
        if record.arrays:
            payload["arrays"] = sorted(record.arrays)
        try:
            atomic_write_bytes(path, (json.dumps(payload, indent=1, sort_keys=True, allow_nan=False) + "\n").encode())
        except BaseException:
            if record.arrays and not path.exists():
                npz.unlink(missing_ok=True)
            raise
        return path

    def records(self, paper: str, experiment: str | None = None) -> list[RunRecord]:
        """Every stored record of a paper (optionally one experiment)."""
        base = self.root / paper
        pattern = f"{experiment}/*.json" if experiment else "*/*.json"
        out = []
        for path in sorted(base.glob(pattern)):
            try:
                payload = json.loads(path.read_text())
                out.append(RunRecord(payload["config"], payload["metrics"], payload["provenance"]))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
                raise CorruptResultError(path, f"not a readable result file ({type(err).__name__}: {err})") from None
        return out


def _stored_payloads(root: Path, scale: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every stored run record under ``root`` (``<paper>/<experiment>/<hash>.json``, claims aside)
    whose config is at ``scale``, with its parsed JSON."""
    for path in sorted(Path(root).glob("*/*/*.json")):
        if path.parent.name == "claims":
            continue
        payload = json.loads(path.read_text())
        if payload["config"].get("scale") == scale:
            yield path, payload


def stale_results(since: str, scale: str = "cpu", root: Path | None = None) -> list[Path]:
    """The stored records of ``scale`` created before ``since`` (an ISO UTC stamp, the format of
    ``provenance["created"]``). After a forced build of every page that began at ``since``
    (:func:`adlib.sweep.force_session_start`), they are the runs no page uses any more: a config
    that changed (a new field, a new default) stores its runs under new hashes and leaves the old
    records behind, where they would still count in :func:`compute_cost_frame`."""
    root = REPO_ROOT / "results" if root is None else Path(root)
    return [path for path, payload in _stored_payloads(root, scale)
            if str(payload["provenance"].get("created", "")) < since]


def prune_results(paths: Sequence[Path]) -> int:
    """Delete the run records ``paths`` and the files stored beside each (the same hash, e.g. its
    ``.npz`` of scores); returns how many files went."""
    removed = 0
    for path in paths:
        for sibling in Path(path).parent.glob(f"{Path(path).stem}.*"):
            sibling.unlink()
            removed += 1
    return removed


def compute_cost_frame(store: "ResultsStore | None" = None, scale: str = "cpu", workers: int = 2,
                       by: str = "paper"):
    """What the stored results of ``scale`` cost to compute, per paper (``by="paper"``) or per
    paper and experiment (``by="experiment"``, with the mean seconds per run), from their
    provenance: runs, the sum of the runs' wall times (one worker process of one thread each, so an
    upper bound when the machine was shared) in minutes, and that sum divided by ``workers`` (a
    sweep's wall time on that many cores, ignoring stragglers)."""
    import pandas as pd

    if by not in ("paper", "experiment"):
        raise ValueError(f"by must be 'paper' or 'experiment', got {by!r}")
    root = (store.root if store is not None else REPO_ROOT / "results")
    rows: dict[tuple[str, ...], list[float]] = {}
    for path, payload in _stored_payloads(root, scale):
        key = (path.parent.parent.name,) + ((path.parent.name,) if by == "experiment" else ())
        runs, seconds = rows.get(key, [0, 0.0])
        rows[key] = [runs + 1, seconds + float(payload["provenance"]["wall_time_s"])]
    wall = f"wall on {workers} workers (min)"
    frame = pd.DataFrame([{"paper": k[0], **({"experiment": k[1], "mean s per run": round(s / n, 1)}
                                             if by == "experiment" else {}),
                           "runs": int(n), "compute (min, one worker)": round(s / 60, 1),
                           wall: round(s / 60 / workers, 1)}
                          for k, (n, s) in rows.items()])
    if not frame.empty:
        total = {"paper": "all", "runs": int(frame.runs.sum()),
                 "compute (min, one worker)": round(frame["compute (min, one worker)"].sum(), 1),
                 wall: round(frame[wall].sum(), 1)}
        frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    return frame
