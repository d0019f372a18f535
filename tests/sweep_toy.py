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
