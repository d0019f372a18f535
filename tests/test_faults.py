"""Injected faults and what survives them (the table in README "Faults tried").

Each test breaks something on purpose: a process killed with SIGKILL mid-sweep or mid-training,
corrupted or foreign result and checkpoint files, two sweeps writing one store, a full disk.
(Dataset files: tests/test_data_fetch.py; a worker killed under Dask: tests/test_dask_sweep.py.)
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from adlib import atomic
from adlib.models import create_model
from adlib.results import CorruptResultError, ResultsStore, RunRecord
from adlib.sweep import run_sweep
from adlib.train import CheckpointWarning, TrainSpec, load_weights, train_classifier

TESTS = Path(__file__).parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch):
    monkeypatch.delenv("ADLIB_SCHEDULER", raising=False)
    monkeypatch.delenv("ADLIB_STORED_ONLY", raising=False)


def _configs(n, **extra):
    return [{"paper": "toy", "experiment": "faults", "seed": s, "threads": 1, **extra} for s in range(n)]


def _python(code: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(TESTS), "OMP_NUM_THREADS": "1", "ADLIB_PROGRESS": "0"}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=env, **kw)


# ---------------------------------------------------------------------------------------------
# kill -9


def test_sweep_killed_with_sigkill_reruns_only_what_is_missing(tmp_path):
    log, store_dir = tmp_path / "started.log", tmp_path / "store"
    configs = _configs(6, log=str(log), sleep=0.4)
    proc = _python(f"""
        from adlib.results import ResultsStore
        from adlib.sweep import run_sweep
        run_sweep({configs!r}, "sweep_toy:logged", store=ResultsStore({str(store_dir)!r}), workers=1, progress=False)
    """)
    runs = store_dir / "toy" / "faults"
    deadline = time.time() + 120
    while len(list(runs.glob("*.json"))) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stored = {json.loads(p.read_text())["config"]["seed"] for p in runs.glob("*.json")}
    assert 2 <= len(stored) < 6
    log.write_text("")
    records = run_sweep(configs, "sweep_toy:logged", store=ResultsStore(store_dir), workers=1, progress=False)
    rerun = {int(s) for s in log.read_text().split()}
    assert rerun == set(range(6)) - stored
    reference = run_sweep(_configs(6), "sweep_toy:run", store=ResultsStore(tmp_path / "ref"), workers=1,
                          progress=False)
    assert [r.metrics for r in records] == [r.metrics for r in reference]


def _tiny_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (240, 28, 28), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 3, (240,), generator=g)
    oe = torch.randint(0, 256, (120, 28, 28), dtype=torch.uint8, generator=g)
    return x, y, oe


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.state_dict().values() if p.dtype.is_floating_point])


SPEC = TrainSpec(epochs=3, batch_size=32, oe_batch_size=16)


def _train(checkpoint=None, key="k"):
    torch.set_num_threads(1)
    x, y, oe = _tiny_data()
    torch.manual_seed(5)
    model = create_model("mnist_convnet", num_classes=3)
    hist = train_classifier(model, x, y, SPEC, seed=5, oe_images=oe, progress=False,
                            checkpoint_path=checkpoint, checkpoint_key=key)
    return model, hist


def test_training_killed_with_sigkill_while_checkpointing_resumes_to_identical_weights(tmp_path):
    ckpt = tmp_path / "run.pt"
    # the child writes epoch 2's checkpoint to its temporary file, then SIGKILLs itself before
    # the rename: the epoch-1 checkpoint must be intact and the run must resume from it
    proc = _python(f"""
        import os, signal, torch
        import test_faults as tf
        real_save = torch.save
        calls = []
        def save_then_die(obj, path, *a, **k):
            real_save(obj, path, *a, **k)
            calls.append(path)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        torch.save = save_then_die
        tf._train({str(ckpt)!r})
    """)
    proc.wait(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1
    resumed, hist = _train(ckpt)
    assert hist.resumed_from_epoch == 1
    full, full_hist = _train()
    assert torch.equal(_weights(resumed), _weights(full))
    assert hist.losses == full_hist.losses


# ---------------------------------------------------------------------------------------------
# corrupt and foreign checkpoints


class _Exploit:
    """A pickle that would create a file if unpickled by a trusting loader."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "arbitrary-pickle"])
def test_a_damaged_checkpoint_is_quarantined_and_training_starts_over(tmp_path, damage):
    ckpt = tmp_path / "run.pt"
    if damage == "truncated":
        _train(ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    elif damage == "garbage":
        ckpt.write_bytes(os.urandom(4096))
    else:
        torch.save({"key": "k", "epoch": 1, "payload": _Exploit(str(tmp_path / "pwned"))}, ckpt)
    with pytest.warns(CheckpointWarning, match="unreadable"):
        model, hist = _train(ckpt)
    assert hist.resumed_from_epoch is None
    assert not (tmp_path / "pwned").exists()  # weights_only=True: nothing in the file was executed
    assert len(list(tmp_path.glob("run.pt.corrupt-*"))) == 1
    reference, _ = _train()
    assert torch.equal(_weights(model), _weights(reference))


def test_another_runs_checkpoint_is_not_used(tmp_path):
    ckpt = tmp_path / "run.pt"
    _train(ckpt, key="someone-else")
    with pytest.warns(CheckpointWarning, match="another run"):
        model, hist = _train(ckpt, key="mine")
    assert hist.resumed_from_epoch is None
    with pytest.warns(CheckpointWarning, match="another run"):
        assert not load_weights(create_model("mnist_convnet", num_classes=3), ckpt, "someone-else", SPEC)
    assert load_weights(create_model("mnist_convnet", num_classes=3), ckpt, "mine", SPEC)


def test_a_forced_session_retrains_over_a_checkpoint_from_before_it_began(tmp_path, monkeypatch):
    """``make book FORCE=1`` must re-compute the training, not re-score a finished checkpoint: one
    last written before ``$ADLIB_FORCE_SINCE`` is not loaded; one written within the session is."""
    from adlib.results import utc_stamp
    from adlib.sweep import ENV_FORCE_SINCE

    ckpt = tmp_path / "run.pt"
    _train(ckpt)
    written = ckpt.stat().st_mtime
    os.utime(ckpt, (written - 3600, written - 3600))  # an hour before the session
    monkeypatch.setenv(ENV_FORCE_SINCE, utc_stamp(written - 60))
    fresh = create_model("mnist_convnet", num_classes=3)
    assert not load_weights(fresh, ckpt, "k", SPEC)
    model, hist = _train(ckpt)
    assert hist.resumed_from_epoch is None and ckpt.stat().st_mtime > written - 60  # trained and re-written
    assert load_weights(fresh, ckpt, "k", SPEC)  # now it is the session's own
    assert torch.equal(_weights(fresh), _weights(model))
    monkeypatch.delenv(ENV_FORCE_SINCE)
    os.utime(ckpt, (written - 3600, written - 3600))
    assert load_weights(create_model("mnist_convnet", num_classes=3), ckpt, "k", SPEC)  # outside a session: used


# ---------------------------------------------------------------------------------------------
# corrupt and foreign result files


def _damage_json_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:40])


def _damage_npz(path: Path) -> None:
    npz = path.with_suffix(".npz")
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the compressed scores
    npz.write_bytes(bytes(data))


def _damage_foreign(path: Path) -> None:
    payload = json.loads(path.read_text())
    payload["config"]["seed"] = 99
    path.write_text(json.dumps(payload))


def _damage_missing_npz(path: Path) -> None:
    path.with_suffix(".npz").unlink()


@pytest.mark.parametrize("damage", [_damage_json_truncate, _damage_npz, _damage_foreign, _damage_missing_npz])
def test_a_damaged_result_is_detected_moved_aside_and_rerun(tmp_path, damage, monkeypatch, capsys):
    store = ResultsStore(tmp_path)
    [cfg] = _configs(1)
    [original] = run_sweep([cfg], "sweep_toy:run", store=store, workers=1, progress=False)
    path = store.path_for(cfg)
    damage(path)
    with pytest.raises(CorruptResultError, match=path.stem):
        store.get(cfg)
    monkeypatch.setenv("ADLIB_STORED_ONLY", "1")
    with pytest.raises(CorruptResultError):  # never silently used, not even to render the book
        run_sweep([cfg], "sweep_toy:run", store=store, workers=1, progress=False)
    monkeypatch.delenv("ADLIB_STORED_ONLY")
    [again] = run_sweep([cfg], "sweep_toy:run", store=store, workers=1, progress=False)
    assert "re-running" in capsys.readouterr().err
    assert again.metrics == original.metrics
    assert np.array_equal(again.arrays["scores"], original.arrays["scores"])
    assert list(tmp_path.rglob("*.corrupt-*"))
    assert store.get(cfg).metrics == original.metrics


# ---------------------------------------------------------------------------------------------
# concurrent writers


def test_two_sweeps_writing_one_store_at_once_lose_and_tear_nothing(tmp_path):
    store_dir = tmp_path / "store"
    a, b = _configs(12)[:8], _configs(12)[4:]  # four runs in both sweeps
    procs = [_python(f"""
        from adlib.results import ResultsStore
        from adlib.sweep import run_sweep
        run_sweep({cfgs!r}, "sweep_toy:run", store=ResultsStore({str(store_dir)!r}), workers=1, progress=False)
    """) for cfgs in (a, b)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    store = ResultsStore(store_dir)
    reference = run_sweep(_configs(12), "sweep_toy:run", store=ResultsStore(tmp_path / "ref"), workers=1,
                          progress=False)
    assert [store.get(c).metrics for c in _configs(12)] == [r.metrics for r in reference]
    assert sorted(p.name for p in (store_dir / "toy" / "faults").iterdir() if p.name.startswith(".")) == []


def test_readers_never_see_a_torn_record_while_writers_race(tmp_path):
    store = ResultsStore(tmp_path)
    [cfg] = _configs(1)
    big = {"scores": np.arange(200_000, dtype=np.float32)}
    records = [RunRecord(cfg, {"writer": w}, {"p": 0}, big) for w in range(4)]
    store.put(records[0])
    stop, seen, errors = threading.Event(), set(), []

    def write(rec):
        for _ in range(15):
            store.put(rec)

    def read():
        while not stop.is_set():
            try:
                rec = store.get(cfg)
                assert rec.arrays["scores"].shape == (200_000,)
                seen.add(rec.metrics["writer"])
            except Exception as err:  # noqa: BLE001
                errors.append(err)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(r,)) for r in records]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert errors == []
    assert seen <= {0, 1, 2, 3} and seen


# ---------------------------------------------------------------------------------------------
# full disk


def test_a_full_disk_while_storing_is_an_error_and_leaves_no_partial_file(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    [cfg] = _configs(1)
    old = RunRecord(cfg, {"v": "old"}, {"p": 0}, {"scores": np.zeros(10, dtype=np.float32)})
    store.put(old)
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync_then_full(fd):
        calls["n"] += 1
        if calls["n"] >= 2:  # the arrays fit, the JSON does not
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync_then_full)
    new = RunRecord(cfg, {"v": "new"}, {"p": 0}, {"scores": np.ones(10, dtype=np.float32)})
    with pytest.raises(OSError, match="no space left on the device while writing"):
        store.put(new)
    monkeypatch.setattr(atomic.os, "fsync", real_fsync)
    assert [p.name for p in tmp_path.rglob(".*")] == []  # no temporary files left behind
    # the previous complete record is still what the store holds (arrays may already be the new
    # ones only if the JSON made it; here it did not, so the JSON is the old one)
    assert store.get(cfg).metrics == {"v": "old"}

    empty = ResultsStore(tmp_path / "empty")
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError, match="no space left"):
        empty.put(new)
    assert list((tmp_path / "empty").rglob("*.*")) == []
