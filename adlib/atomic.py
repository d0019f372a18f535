"""Crash-safe file writes and quarantine of files that failed a check.

Every file this project writes that a later run trusts (results, checkpoints, downloads) is
written to a unique temporary name in the same directory, flushed to disk, then renamed over
the target (``os.replace`` is atomic on POSIX). A process killed at any instant, two processes
writing the same file, or a full disk leave either the old complete file or the new complete
file, never a torn one. A file that fails a check is renamed aside (quarantined) rather than
deleted, so it is never used again but can still be inspected.
"""

from __future__ import annotations

import errno
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}.tmp")


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` to produce the file at a temporary path, fsync it, rename it to ``path``.

    On any failure the temporary file is removed and ``path`` is untouched. A full disk is
    re-raised as :class:`OSError` whose message names the file and what to do.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(target)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as err:
        if err.errno in _NO_SPACE:
            raise OSError(err.errno, f"no space left on the device while writing {target}; free some "
                                     "space and re-run (files already written are complete and kept)") from err
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()

    return atomic_write(path, write)


def quarantine(path: str | os.PathLike[str], reason: str = "corrupt") -> Path:
    """Rename ``path`` to ``<name>.<reason>-<UTC time>`` beside it and return the new path."""
    source = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = source.with_name(f"{source.name}.{reason}-{stamp}")
    n = 1
    while target.exists():
        target = source.with_name(f"{source.name}.{reason}-{stamp}-{n}")
        n += 1
    os.replace(source, target)
    return target
