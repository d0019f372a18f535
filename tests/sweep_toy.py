"""A cheap, deterministic runner for the sweep tests (importable by spawned workers)."""

import numpy as np
import torch


def run(cfg):
    torch.manual_seed(cfg["seed"])
    x = torch.randn(200, 8)
    w = torch.randn(8)
    scores = (x @ w).numpy().astype(np.float32)
    return {"mean": float(scores.mean()), "threads": torch.get_num_threads()}, {"scores": scores}


def fail(cfg):
    raise RuntimeError(f"runner failed for seed {cfg['seed']}")


def logged(cfg):
    """``run``, after appending the seed to ``cfg['log']`` and sleeping ``cfg['sleep']`` seconds
    (a run that starts is logged even if it is killed before it finishes)."""
    import time

    with open(cfg["log"], "a") as fh:
        fh.write(f"{cfg['seed']}\n")
    time.sleep(cfg.get("sleep", 0.0))
    return run(cfg)


def die_once(cfg):
    """Kill the whole worker process (SIGKILL) the first time a config with ``cfg['marker']``
    runs; behave like ``run`` afterwards."""
    import os
    import signal
    from pathlib import Path

    marker = Path(cfg["marker"])
    if not marker.exists():
        marker.write_text("died once\n")
        os.kill(os.getpid(), signal.SIGKILL)
    return run(cfg)


def where(cfg):
    """Whether the run executed inside a Dask worker."""
    try:
        from distributed import get_worker

        get_worker()
        inside = True
    except (ImportError, ValueError):
        inside = False
    return {"dask_worker": inside}, {}


def staged(cfg):
    """``run``, logging a JSON line at its start and end (method, seed, time) to ``cfg['log']``
    and sleeping ``cfg['sleep']`` seconds in between (for the stage-scheduling test)."""
    import json
    import time

    def note(event):
        with open(cfg["log"], "a") as fh:
            fh.write(json.dumps({"event": event, "method": cfg["method"], "seed": cfg["seed"], "t": time.time()}) + "\n")

    note("start")
    time.sleep(cfg.get("sleep", 0.0))
    note("end")
    return run(cfg)


def timed(cfg):
    """``run``, appending "<seed> <start> <end>" (``time.time()``) to ``cfg['log']`` around a sleep
    of ``cfg['sleep']`` seconds: which runs trained at the same time."""
    import time

    start = time.time()
    time.sleep(cfg.get("sleep", 0.0))
    out = run(cfg)
    with open(cfg["log"], "a") as fh:
        fh.write(f"{cfg['seed']} {start} {time.time()}\n")
    return out
