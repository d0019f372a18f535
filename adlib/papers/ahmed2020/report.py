"""ahmed2020 book pages: which runs each page needs, and the paper's numbers beside ours.

Aggregation (spec §2.1, §8.2-5): per class, mean ± std over seeds; the "Average" row averages over
the held-out classes within each seed, then takes mean ± std of that average over seeds (the
paper's tiny ± on its Average rows, e.g. 96.03 ± 0.00, only fits this reading). std is the
population std (``ddof=0``; the paper does not say). AP and accuracy are shown in percent.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from adlib.papers.ahmed2020 import experiments as ex
from adlib.report import Claim
from adlib.scales import check_scale

PAGES: tuple[str, ...] = ("table2", "holdout", "table5", "masking", "figure1", "aux_variant")
"""The pages whose runs :func:`book_configs` lists."""

FIGURE1_CLASSES = {"fmnist": (0, 4, 8), "digits": (3, 5, 8), "cifar10": (0, 3, 8), "stl10": (0, 3, 8)}
"""The three held-out classes per row of Figure 1 (the paper does not say which it plotted)."""


def _benchmarks(scale: str) -> dict[str, str]:
    """The paper's benchmark → the one run at ``scale`` (itself at paper scale)."""
    if scale == "paper":
        return {"cifar10": "cifar10", "stl10": "stl10"}
    return {"cifar10": "fmnist", "stl10": "digits"}


def _fine_grained(scale: str) -> tuple[str, ...]:
    if scale == "paper":
        return tuple(f"imagenet_{s}" for s in ex.IMAGENET_SUBSETS)
    return ("fmnist_tops", "fmnist_footwear")


def _classes(scale: str, bench: str) -> tuple[int, ...]:
    k = len(ex.benchmark(bench).members)
    if scale == "smoke":
        return (0, k - 1) if bench in ("fmnist", "cifar10") else (0,)
    return tuple(range(k))


def book_configs(page: str, scale: str, seeds: Sequence[int], *, device: str = "cpu") -> list[dict[str, Any]]:
    """Every run config a page needs (pages share runs: the store keeps each once).

    * ``table2``: the K-way classifiers (nothing held out), classification vs rotation;
    * ``holdout``: Tables 3 and 4 — every held-out class, classification vs rotation;
    * ``table5``: Table 5 / Appendix B (rotation) and, at paper scale, Table 6 / Appendix C (CPC);
    * ``masking``: the §5.2 table — adds the masked runs to ``holdout``'s CIFAR-10 ones;
    * ``figure1``: classification runs of three held-out classes per benchmark (their curves);
    * ``aux_variant``: the public code's flips/transposes against the paper's rotations, on the
      first seed only at cpu scale (the comparison is beyond the paper).
    """
    scale = check_scale(scale)
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}; valid: {', '.join(PAGES)}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    if scale == "smoke":
        seeds = seeds[:1]
    b = _benchmarks(scale)
    cfg = lambda bench, held, method, seed, **kw: ex.run_config(scale, bench, held, method, seed, device=device, **kw)  # noqa: E731
    out: list[dict[str, Any]] = []
    if page == "table2":
        for bench in b.values():
            out += [cfg(bench, None, m, s) for m in ("classification", "rotation") for s in seeds]
    elif page == "holdout":
        for bench in b.values():
            out += [cfg(bench, c, m, s) for c in _classes(scale, bench) for m in ("classification", "rotation")
                    for s in seeds]
    elif page == "table5":
        for bench in _fine_grained(scale):
            out += [cfg(bench, c, m, s) for c in _classes(scale, bench) for m in ("classification", "rotation")
                    for s in seeds]
            if scale == "paper":
                out += [cfg(bench, c, m, s, network="cpc") for c in _classes(scale, bench)
                        for m in ("classification", "cpc") for s in seeds]
    elif page == "masking":
        bench = b["cifar10"]
        out += [cfg(bench, c, m, s) for c in _classes(scale, bench) for m in ("classification", "rotation", "masking")
                for s in seeds]
    elif page == "figure1":
        for paper_bench, bench in b.items():
            classes = FIGURE1_CLASSES[bench] if scale != "smoke" else _classes(scale, bench)[:1]
            out += [cfg(bench, c, "classification", seeds[0], curves=True) for c in classes]
    elif page == "aux_variant":
        bench = b["cifar10"]
        variant_seeds = seeds if scale == "paper" else seeds[:1]
        out += [cfg(bench, c, "rotation", s, aux_transforms=t) for c in _classes(scale, bench)
                for t in ("rotation", "flip_transpose") for s in variant_seeds]
    return out


def all_book_configs(scale: str, seeds: Sequence[int], *, device: str = "cpu") -> list[dict[str, Any]]:
    """The union of every page's runs, each once, in page order."""
    from adlib.results import config_hash

    seen: dict[str, dict[str, Any]] = {}
    for page in PAGES:
        for c in book_configs(page, scale, seeds, device=device):
            seen.setdefault(config_hash(c), c)
    return list(seen.values())
