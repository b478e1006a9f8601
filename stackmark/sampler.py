"""Sample CPU time and memory of the server and Locust process trees while load runs.

Cumulative counters are recorded (not rates), so analysis can take exact
deltas over whatever window it chooses; machine-wide steal and busy time go
with them, so a cell run under a noisy neighbour can be told apart.
"""
from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from runformat.atomic import write_text
from runformat.records import SAMPLE_COLUMNS


def tree_usage(pid: int | None) -> tuple[float, int, int]:
    """(cpu seconds, rss bytes, process count) of a process and all its descendants."""
    if pid is None:
        return 0.0, 0, 0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0, 0
    cpu, rss, n = 0.0, 0, 0
    for p in procs:
        try:
            with p.oneshot():
                t = p.cpu_times()
                cpu += t.user + t.system
                rss += p.memory_info().rss
                n += 1
        except psutil.Error:
            continue  # exited between listing and reading
    return cpu, rss, n


def machine_times() -> tuple[float, float]:
    """(steal seconds, busy seconds) summed over all CPUs since boot."""
    t = psutil.cpu_times()
    steal = float(getattr(t, "steal", 0.0))
    idle = t.idle + float(getattr(t, "iowait", 0.0))
    total = sum(t)
    return steal, total - idle


class Sampler:
    """Background thread taking one row every `interval_s`; `stop()` takes a last one."""

    def __init__(self, server_pid: int | None, gen_pid: Callable[[], int | None], interval_s: float = 0.5) -> None:
        self.server_pid = server_pid
        self.gen_pid = gen_pid
        self.interval_s = interval_s
        self.rows: list[list[float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stackmark-sampler", daemon=True)

    def sample(self) -> None:
        s_cpu, s_rss, s_n = tree_usage(self.server_pid)
        g_cpu, _, _ = tree_usage(self.gen_pid())
        if self.rows:  # a cumulative counter: an exited Locust reads as 0, keep the last value
            g_cpu = max(g_cpu, self.rows[-1][4])
        steal, busy = machine_times()
        self.rows.append([time.time(), s_cpu, s_rss, s_n, g_cpu, steal, busy])

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=5)
            self.sample()

    def write_csv(self, path: Path) -> None:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(SAMPLE_COLUMNS)
        w.writerows(self.rows)
        write_text(path, buf.getvalue())
