"""The three scales every notebook runs at.

* ``smoke``: seconds; tiny subsets, one epoch; for tests only. Its numbers mean nothing.
* ``cpu``: minutes on a 2-core laptop, on data that can be had offline (chiefly Fashion-MNIST).
  A reduced analog of the paper's experiment, labelled as such wherever its numbers appear.
* ``paper``: the paper's own datasets, models and schedules; for a GPU and downloaded data.
"""

from __future__ import annotations

SCALES: tuple[str, ...] = ("smoke", "cpu", "paper")

SCALE_LABELS: dict[str, str] = {
    "smoke": "smoke test (tiny subsets, 1 epoch): numbers are meaningless",
    "cpu": "reduced CPU analog (Fashion-MNIST): numbers are NOT comparable with the paper's",
    "paper": "the paper's configuration",
}


def check_scale(scale: str) -> str:
    """Return ``scale`` or raise a ValueError naming the valid scales."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid scales: {', '.join(SCALES)}")
    return scale
