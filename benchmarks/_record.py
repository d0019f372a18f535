"""What every benchmark writes with its numbers, and how (shared by the scripts in this folder)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """The machine a measurement ran on, with its CPU model and the vector instruction set torch uses
    (:func:`adlib.results.cpu_kind`)."""
    from adlib.results import cpu_kind

    return {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
            **cpu_kind()}


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
