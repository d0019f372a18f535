"""The results store (hash keys, atomic writes, provenance) and the sweep runner."""

import json

import numpy as np
import pytest

from adlib.results import ResultsStore, RunRecord, config_hash, provenance
from adlib.sweep import run_sweep


def _cfg(seed, **extra):
    return {"paper": "toy", "experiment": "exp", "seed": seed, "threads": 1, "device": "cpu", **extra}


def test_config_hash_is_order_independent_and_value_sensitive():
    a = {"paper": "p", "experiment": "e", "x": [1, 2], "y": {"b": 1, "a": 2}}
    b = {"experiment": "e", "y": {"a": 2, "b": 1}, "x": [1, 2], "paper": "p"}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "x": [2, 1]})
    with pytest.raises(ValueError):
        config_hash({"x": float("nan")})


def test_put_get_roundtrip_with_arrays_and_provenance(tmp_path):
    store = ResultsStore(tmp_path)
    cfg = _cfg(0)
    assert store.get(cfg) is None
    rec = RunRecord(cfg, {"auroc": 0.9}, provenance(device="cpu", wall_time_s=1.5, threads=1),
                    {"scores": np.arange(5, dtype=np.float32)})
    path = store.put(rec)
    assert path == tmp_path / "toy" / "exp" / f"{config_hash(cfg)}.json"
    got = store.get(cfg)
    assert got.metrics == {"auroc": 0.9}
    np.testing.assert_array_equal(got.arrays["scores"], np.arange(5, dtype=np.float32))
    prov = got.provenance
    assert {"git_commit", "versions", "machine", "device", "wall_time_s", "created"} <= set(prov)
    assert prov["versions"]["torch"] != "absent"
    assert not list(tmp_path.rglob(".*.tmp"))  # atomic writes leave no temporaries


def test_a_file_whose_config_does_not_match_its_name_is_rejected(tmp_path):
    store = ResultsStore(tmp_path)
    cfg = _cfg(0)
    path = store.put(RunRecord(cfg, {"m": 1}, {}))
    payload = json.loads(path.read_text())
    payload["config"]["seed"] = 99
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="different config"):
        store.get(cfg)


def test_config_without_paper_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="paper"):
        ResultsStore(tmp_path).path_for({"experiment": "e"})


def test_sweep_runs_missing_reuses_stored_and_forces(tmp_path):
    store = ResultsStore(tmp_path)
    cfgs = [_cfg(s) for s in (0, 1, 2)]
    first = run_sweep(cfgs, "sweep_toy:run", store=store, workers=1, progress=False)
    assert [r.config["seed"] for r in first] == [0, 1, 2]
    assert len({r.metrics["mean"] for r in first}) == 3
    stamp = [r.provenance["created"] for r in first]
    again = run_sweep(cfgs + [_cfg(0)], "sweep_toy:run", store=store, workers=1, progress=False)
    assert [r.provenance["created"] for r in again[:3]] == stamp  # reused, not re-run
    assert again[3].metrics == again[0].metrics
    # a stored result is used even if the runner would now fail
    run_sweep(cfgs, "sweep_toy:fail", store=store, progress=False)
    with pytest.raises(RuntimeError, match="runner failed"):
        run_sweep(cfgs, "sweep_toy:fail", store=store, force=True, workers=1, progress=False)


def test_a_forced_session_runs_each_config_once_across_calls(tmp_path, monkeypatch):
    """``make book FORCE=1``: every page is forced, but a run two pages share trains once."""
    import time

    from adlib.sweep import ENV_FORCE_SINCE, force_session_start

    store, log = ResultsStore(tmp_path / "store"), tmp_path / "log"
    cfgs = [_cfg(s, log=str(log)) for s in (0, 1)]
    run_sweep(cfgs, "sweep_toy:logged", store=store, workers=1, progress=False)  # stored before the session
    time.sleep(1.1)  # the session's stamp is a later second than those records
    monkeypatch.delenv(ENV_FORCE_SINCE, raising=False)
    since = force_session_start()
    assert force_session_start() == since  # joining, not restarting
    page_a = run_sweep(cfgs, "sweep_toy:logged", store=store, force=True, workers=1, progress=False)
    page_b = run_sweep(cfgs + [_cfg(2, log=str(log))], "sweep_toy:logged", store=store, force=True,
                       workers=1, progress=False)
    assert log.read_text().split() == ["0", "1", "0", "1", "2"]  # re-run once in the session, then reused
    assert [r.provenance["created"] for r in page_b[:2]] == [r.provenance["created"] for r in page_a]
    assert all(r.provenance["created"] >= since for r in page_b)
    monkeypatch.delenv(ENV_FORCE_SINCE)
    run_sweep(cfgs, "sweep_toy:logged", store=store, force=True, workers=1, progress=False)
    assert log.read_text().split()[-2:] == ["0", "1"]  # outside a session, force re-runs everything


def test_check_sees_the_first_config_to_run_before_anything_runs(tmp_path):
    store = ResultsStore(tmp_path)
    seen = []
    run_sweep([_cfg(0)], "sweep_toy:run", store=store, workers=1, progress=False, check=seen.append)
    assert seen == [_cfg(0)]
    run_sweep([_cfg(0)], "sweep_toy:run", store=store, workers=1, progress=False, check=seen.append)
    assert seen == [_cfg(0)]  # all stored: nothing to check

    def missing(cfg):
        raise FileNotFoundError(f"no data for seed {cfg['seed']}")

    with pytest.raises(FileNotFoundError, match="seed 1"):
        run_sweep([_cfg(0), _cfg(1)], "sweep_toy:run", store=store, workers=1, progress=False, check=missing)
    assert not store.is_stored(_cfg(1))


def test_parallel_sweep_equals_sequential_and_pins_threads(tmp_path):
    cfgs = [_cfg(s) for s in range(4)]
    seq = run_sweep(cfgs, "sweep_toy:run", store=ResultsStore(tmp_path / "a"), workers=1, progress=False)
    par = run_sweep(cfgs, "sweep_toy:run", store=ResultsStore(tmp_path / "b"), workers=2, progress=False)
    for s, p in zip(seq, par):
        assert s.metrics == p.metrics
        np.testing.assert_array_equal(s.arrays["scores"], p.arrays["scores"])
        assert p.metrics["threads"] == 1


def test_stored_only_mode_refuses_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLIB_STORED_ONLY", "1")
    with pytest.raises(LookupError, match="make reproduce"):
        run_sweep([_cfg(0)], "sweep_toy:run", store=ResultsStore(tmp_path), progress=False)


def test_for_scale_keeps_smoke_results_out_of_the_committed_store(monkeypatch):
    monkeypatch.delenv("ADLIB_RESULTS", raising=False)
    assert ResultsStore.for_scale("cpu").root.name == "results"
    assert "smoke" in str(ResultsStore.for_scale("smoke").root)


def test_provenance_records_the_cpu_kind_and_compares_it():
    from adlib.results import cpu_kind, same_cpu_kind

    here = provenance(device="cpu", wall_time_s=1.0)
    assert here["machine"]["cpu_capability"] == cpu_kind()["cpu_capability"] != ""
    assert same_cpu_kind(here)[0]
    other = json.loads(json.dumps(here))
    other["machine"]["cpu_capability"] = "SOMETHING_ELSE"
    same, why = same_cpu_kind(other)
    assert not same and "SOMETHING_ELSE" in why
    legacy = {"machine": {"platform": "Linux-0.0-another-host"}}  # stored before the CPU kind was recorded
    assert not same_cpu_kind(legacy)[0]


def test_a_later_stage_run_waits_for_its_own_seed_only_and_all_is_stored(tmp_path):
    """run_stages on local processes: fine-tuning seed s starts once baseline s is done, not once
    every baseline is (seed 2's slow baseline does not hold seed 0's fine-tuning back), and each
    (method, seed) comes back with its record, stored."""
    from adlib.sweep import run_stages

    log = tmp_path / "log.jsonl"
    store = ResultsStore(tmp_path / "store")

    def make(method, seed):
        slow = method == "base" and seed == 2
        return _cfg(seed, method=method, log=str(log), sleep=4.0 if slow else 0.3)

    out = run_stages([["base"], ["tune"]], [0, 1, 2], make, "sweep_toy:staged", store=store, workers=2,
                     progress=False)
    assert sorted(out) == [(m, s) for m in ("base", "tune") for s in (0, 1, 2)]
    assert all(store.is_stored(make(m, s)) for m, s in out)
    events = {(e["event"], e["method"], e["seed"]): e["t"] for e in map(json.loads, log.read_text().splitlines())}
    for seed in (0, 1, 2):
        assert events["start", "tune", seed] >= events["end", "base", seed]
    assert events["start", "tune", 0] < events["end", "base", 2]  # no barrier between the stages
    log.unlink()
    again = run_stages([["base"], ["tune"]], [0, 1, 2], make, "sweep_toy:staged", store=store, workers=2,
                       progress=False)
    assert not log.exists() and {k: r.key for k, r in again.items()} == {k: r.key for k, r in out.items()}


def test_with_core_slots_a_run_waits_for_a_free_slot_and_its_wait_is_not_its_wall_time(tmp_path, monkeypatch):
    import fcntl
    import threading
    import time

    from adlib.sweep import make_core_slots

    slots = make_core_slots(tmp_path / "slots", 1)
    monkeypatch.setenv("ADLIB_CORE_SLOTS", str(slots))
    log = tmp_path / "log.txt"
    store = ResultsStore(tmp_path / "store")
    out = []
    with open(slots / "slot-0.lock", "a") as held:  # another lane's run holds the only core
        fcntl.flock(held, fcntl.LOCK_EX)
        sweep = threading.Thread(target=lambda: out.extend(run_sweep(
            [_cfg(0, log=str(log))], "sweep_toy:timed", store=store, workers=1, progress=False)))
        sweep.start()
        time.sleep(1.0)
        assert not log.exists() and not out  # not started while the slot is held
        fcntl.flock(held, fcntl.LOCK_UN)
    sweep.join(60)
    assert len(out) == 1 and log.read_text().startswith("0 ") and store.get(out[0].config) is not None
    assert out[0].provenance["wall_time_s"] < 0.9  # the second it waited is not the run's


def test_with_one_core_slot_parallel_workers_train_one_run_at_a_time(tmp_path, monkeypatch):
    from adlib.sweep import make_core_slots

    monkeypatch.setenv("ADLIB_CORE_SLOTS", str(make_core_slots(tmp_path / "slots", 1)))
    log = tmp_path / "log.txt"
    cfgs = [_cfg(s, log=str(log), sleep=0.3) for s in range(3)]
    run_sweep(cfgs, "sweep_toy:timed", store=ResultsStore(tmp_path / "store"), workers=3, progress=False)
    spans = sorted(tuple(map(float, line.split()[1:])) for line in log.read_text().splitlines())
    assert len(spans) == 3
    assert all(end <= nxt_start for (_, end), (nxt_start, _) in zip(spans, spans[1:]))  # never two at once


def test_core_slot_without_slot_files_says_what_is_missing(tmp_path, monkeypatch):
    from adlib.sweep import core_slot

    monkeypatch.setenv("ADLIB_CORE_SLOTS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no slot-\\*.lock files"):
        with core_slot():
            pass
