"""Peak resident memory of a process tree, sampled: a notebook's kernel plus the sweep workers it
starts, which is what a machine must hold while the notebook runs.

The tree's resident memory is each process's private resident pages (its resident set less the
file-backed pages it shares) summed, plus the largest file-backed resident set among them counted
once: every process of a notebook's tree maps the same Python and torch libraries (libtorch alone
is ~450 MiB resident), and the machine holds those pages once, however many processes map them.
Summing the processes' resident sets (:attr:`TreeMemory.rss_sum`) counts them once per process, an
over-statement of ~0.5 GiB per torch process. Both are read from ``/proc/<pid>/statm`` (cheap
enough to sample several times a second; the proportional set size of ``smaps`` costs ~20 ms per
process and sample)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import NamedTuple

import psutil


class TreeMemory(NamedTuple):
    resident: int  # bytes: private resident pages summed, plus the largest file-backed resident set once
    rss_sum: int  # bytes: the resident sets summed (shared library pages counted once per process)


def tree_memory(pid: int | None = None, *, include_root: bool = True) -> TreeMemory:
    """Resident memory of process ``pid`` (default: this one) and all its descendants (see the
    module docstring); ``include_root=False``: the descendants only (what a notebook's kernel and
    its sweep workers hold, without the process that started them). For one process both fields
    are its resident set size."""
    try:
        root = psutil.Process(pid)
        procs = ([root] if include_root else []) + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return TreeMemory(0, 0)
    private = rss = shared = 0
    for proc in procs:
        try:
            info = proc.memory_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # exited between the listing and the reading
        file_backed = min(getattr(info, "shared", 0), info.rss)  # Linux: RssFile + RssShmem
        private += info.rss - file_backed
        rss += info.rss
        shared = max(shared, file_backed)
    return TreeMemory(private + shared, rss)


class PeakTreeMemory:
    """Context manager that samples :func:`tree_memory` of this process (or ``pid``; with
    ``include_root=False`` only its descendants) every ``interval`` seconds in a background thread;
    ``peak_bytes`` is the largest resident memory seen and ``peak_rss_sum_bytes`` the largest sum of
    resident sets (each a lower bound on the true peak: a spike shorter than ``interval`` can fall
    between samples).

        with PeakTreeMemory() as mem:
            run_notebook()
        print(mem.peak_bytes / 2**20, "MiB")
    """

    def __init__(self, interval: float = 0.2, pid: int | None = None, *, include_root: bool = True) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.interval, self.pid, self.include_root = interval, pid, include_root
        self.peak_bytes = self.peak_rss_sum_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        now = tree_memory(self.pid, include_root=self.include_root)
        self.peak_bytes = max(self.peak_bytes, now.resident)
        self.peak_rss_sum_bytes = max(self.peak_rss_sum_bytes, now.rss_sum)

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
