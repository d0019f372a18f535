"""What every benchmark writes with its numbers, and how (shared by the scripts in this folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """The machine a measurement ran on (:func:`adlib.results.machine_info`, as in every run's provenance)."""
    from adlib.results import machine_info

    return machine_info()


def now() -> str:
    from adlib.results import utc_stamp

    return utc_stamp()


def write_measurement(path: Path, record: dict[str, Any], *, complete: bool, what: str) -> None:
    """Write ``record`` as JSON to ``path``, unless the run measured only part of ``what`` (a subset
    must not replace the full measurement the book shows)."""
    if not complete:
        print(f"(a subset of the {what}: not written)")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {path}")
