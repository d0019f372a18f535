"""Peak resident memory of a process tree, sampled: a notebook's kernel plus the sweep workers it
starts, which is what a machine must hold while the notebook runs."""

from __future__ import annotations

import threading
from types import TracebackType

import psutil


def tree_rss_bytes(pid: int | None = None, *, include_root: bool = True) -> int:
    """Resident set size of process ``pid`` (default: this one) and all its descendants, summed;
    ``include_root=False``: the descendants only (what a notebook's kernel and its sweep workers
    hold, without the process that started them)."""
    try:
        root = psutil.Process(pid)
        procs = ([root] if include_root else []) + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # exited between the listing and the reading
    return total


class PeakTreeMemory:
    """Context manager that samples :func:`tree_rss_bytes` of this process (or ``pid``; with
    ``include_root=False`` only its descendants) every ``interval`` seconds in a background thread; ``peak_bytes`` is the largest sum seen (a lower bound on the
    true peak: a spike shorter than ``interval`` can fall between samples).

        with PeakTreeMemory() as mem:
            run_notebook()
        print(mem.peak_bytes / 2**20, "MiB")
    """

    def __init__(self, interval: float = 0.2, pid: int | None = None, *, include_root: bool = True) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.interval, self.pid, self.include_root = interval, pid, include_root
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        self.peak_bytes = max(self.peak_bytes, tree_rss_bytes(self.pid, include_root=self.include_root))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "PeakTreeMemory":
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="peak-tree-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
