"""Run one Locust cell as a pinned subprocess against a running stack, sampling both sides.

Locust runs in its own process (and process group) on the load-generator CPUs,
so its CPU use can be measured apart from the server's and it can always be
stopped. The run is bounded: the shape stops it after primer + warm-up +
measure, and the harness kills it if it overstays.

With `processes` > 1 Locust runs a master plus that many forked workers
(`--processes N`), all on the load-generator CPUs; each worker writes its own
latency-w<pid>.json beside latency.json (scenarios/phases.py) and analysis
merges them. For an open-model scenario (a catalog `rate`), the concurrency
level is the most requests in flight (--max-inflight) and the shape runs one
sending user per process.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import psutil

from scenarios.catalog import PHASES_FILE, Scenario
from servers.launcher import pin_prefix, stop_process_group
from stackmark.sampler import Sampler


@dataclass(frozen=True)
class LoadSettings:
    concurrency: int
    duration_s: float
    warmup_s: float
    primer_s: float
    cpus: Sequence[int]
    processes: int = 1  # Locust processes generating load: 1 = one plain process; N > 1 = master + N workers


@dataclass
class CellOutcome:
    ok: bool
    reason: str | None
    server_crashed: bool = False


def server_pids(pid: int | None) -> set[int]:
    """The server's process tree now; a worker that vanishes during a cell is a crash."""
    if pid is None:
        return set()
    try:
        root = psutil.Process(pid)
        return {pid, *(c.pid for c in root.children(recursive=True))}
    except psutil.Error:
        return set()


def worker_latency_files(cell_dir: Path) -> list[Path]:
    """The per-worker histograms of a multi-process cell (scenarios/phases.py's worker_latency_file)."""
    return sorted(cell_dir.glob("latency-w*.json"))


def locust_command(scenario: Scenario, url: str, load: LoadSettings, cell_dir: Path) -> list[str]:
    processes = max(1, int(load.processes))
    if scenario.is_open:
        # open model: the rate is the knob; one sending user per process, concurrency = max in flight
        users, extra = processes, ["--max-inflight", str(load.concurrency)]
    else:
        users, extra = load.concurrency, []
    return [
        sys.executable, "-m", "locust",
        "-f", f"{scenario.locustfile},{PHASES_FILE}",
        "--headless", "--host", url,
        *(["--processes", str(processes)] if processes > 1 else []),
        *scenario.locust_args(),
        *extra,
        "--phase-users", str(users),
        "--phase-primer", str(load.primer_s),
        "--phase-warmup", str(load.warmup_s),
        "--phase-measure", str(load.duration_s),
        "--phases-file", str(cell_dir / "phases.json"),
        "--latency-file", str(cell_dir / "latency.json"),
        "--csv", str(cell_dir / "locust"),
        "--only-summary",
        "--logfile", str(cell_dir / "locust.log"),
        "--loglevel", "WARNING",
        "--exit-code-on-error", "0",  # errors are counted from latency.json, not the exit code
        "--stop-timeout", "1",
    ]


def run_cell(server: Any, scenario: Scenario, load: LoadSettings, cell_dir: Path) -> CellOutcome:
    """One measured cell; never raises for a server or Locust failure, reports it instead."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    cmd = pin_prefix(load.cpus) + locust_command(scenario, server.url, load, cell_dir)
    budget_s = load.primer_s + load.warmup_s + load.duration_s + 30.0 + (10.0 if load.processes > 1 else 0.0)
    proc: subprocess.Popen[bytes] | None = None
    before = server_pids(server.pid)
    sampler = Sampler(server.pid, lambda: proc.pid if proc is not None and proc.poll() is None else None)
    with sampler:
        with open(cell_dir / "locust.out", "ab") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            code = proc.wait(timeout=budget_s)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            stop_process_group(proc, grace_s=2.0)
    sampler.write_csv(cell_dir / "samples.csv")
    if server.exit_code() is not None:
        return CellOutcome(False, f"server exited with code {server.exit_code()} during the cell", True)
    lost = before - server_pids(server.pid)
    if lost:
        pids = ", ".join(str(p) for p in sorted(lost))
        return CellOutcome(False, f"server process {pids} died during the cell (its master restarted it)", True)
    if code is None:
        return CellOutcome(False, f"locust did not finish within {budget_s:.0f} s and was killed")
    if code != 0:
        return CellOutcome(False, f"locust exited with code {code}; see locust.out")
    if not (cell_dir / "latency.json").exists():
        return CellOutcome(False, "locust wrote no latency.json; see locust.out")
    if load.processes > 1:
        found = len(worker_latency_files(cell_dir))
        if found != load.processes:
            return CellOutcome(False, f"{found} of {load.processes} Locust worker processes wrote their "
                                      "latency-w<pid>.json; see locust.out and locust.log")
    return CellOutcome(True, None)
