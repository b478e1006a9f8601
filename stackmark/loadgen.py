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
sending user per process. A team's own locustfile (`--locustfile`) runs the
same way, with phases.py beside it and none of closed.py's arguments.

With `distributed` (`--locust-workers N`) Locust runs its own distributed mode:
a master (`--master --expect-workers N`, bound to loopback unless told
otherwise) and N workers, which stackmark starts here (pinned to the
load-generator CPUs, children of one small process with the master, in one
process group: one tree for the sampler, one teardown) or, with `remote`, the
user starts on other machines from a printed command. Either way the workers report
their histograms to the master over Locust's messaging and the master writes
one merged latency.json (phases.py --phase-report): local workers take the
remote path, so a test of them proves it.
"""
from __future__ import annotations

import csv
import ipaddress
import json
import secrets
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from runformat import paths
from runformat.errors import RunDirError
from runformat.latency import totals
from runformat.read import read_json, read_latency
from scenarios.catalog import PHASES_FILE, Scenario
from servers.base import ServerHandle
from servers.launcher import child_env, free_port, pin_prefix, start_group, stop_process_group
from stackmark.console import err
from stackmark.sampler import Sampler

MOSTLY_ERRORS = 0.5  # a cell where this share of requests failed measured failures, not the stack
LOOPBACK = "127.0.0.1"
LOCAL_WAIT_S = 30.0  # a master gives up on local workers that have not connected by then
REMOTE_WAIT_S = 300.0  # ... and on remote ones (a person starts them from the printed command)
REMOTE_MASTER_PORT = 5557  # Locust's own default: a remote worker loop keeps working from cell to cell
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Distributed:
    """Locust's distributed mode: a master that waits for `workers` workers, bound to `bind_host`; the
    workers are started here (local) or by the user on other machines (remote)."""

    workers: int
    bind_host: str = LOOPBACK
    remote: bool = False

    @property
    def wait_s(self) -> float:
        return REMOTE_WAIT_S if self.remote else LOCAL_WAIT_S

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.bind_host).is_loopback


@dataclass(frozen=True)
class LoadSettings:
    concurrency: int
    duration_s: float
    warmup_s: float
    primer_s: float
    cpus: Sequence[int]
    processes: int = 1  # Locust processes generating load: 1 = one plain process; N > 1 = master + N workers
    distributed: Distributed | None = None  # Locust's distributed mode instead (--locust-workers)


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


def _multiprocess_args(processes: int) -> list[str]:
    """Locust's --processes, its master bound to loopback on a port free now (never *:5557, which two
    runs at once would share: one run's workers would report to the other's master)."""
    if processes <= 1:
        return []
    port = str(free_port())
    return ["--processes", str(processes), "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
            "--master-host", "127.0.0.1", "--master-port", port]


def _master_args(dist: Distributed, port: int) -> list[str]:
    """A master that waits (bounded) for its workers, which report their histograms to it (--phase-report)."""
    return ["--master", "--expect-workers", str(dist.workers), "--expect-workers-max-wait", f"{dist.wait_s:.0f}",
            "--master-bind-host", dist.bind_host, "--master-bind-port", str(port), "--phase-report"]


def locustfiles(scenario: Scenario) -> str:
    """Locust's -f value: the scenario's locustfile and the phases plugin."""
    return f"{scenario.locustfile},{PHASES_FILE}"


def worker_command(scenario: Scenario, master_host: str, port: int) -> list[str]:
    """One local worker: everything else (users, phases, files, token) it gets from the master."""
    return [sys.executable, "-m", "locust", "-f", locustfiles(scenario), "--worker",
            "--master-host", master_host, "--master-port", str(port), "--loglevel", "WARNING"]


def remote_worker_command(scenario: Scenario, dist: Distributed, port: int) -> str:
    """What a user runs on another machine, from a checkout of this commit with its .venv (the plugin
    imports runformat/, hence PYTHONPATH=.)."""
    host = socket.gethostname() if ipaddress.ip_address(dist.bind_host).is_unspecified else dist.bind_host
    files = ",".join(_shown(p) for p in (scenario.locustfile, PHASES_FILE))
    return "PYTHONPATH=. " + shlex.join([".venv/bin/locust", "-f", files, "--worker", "--master-host", host,
                                          "--master-port", str(port)])


def _shown(path: Path) -> str:
    """A path as a remote checkout names it: relative to the repository when inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def locust_command(scenario: Scenario, url: str, load: LoadSettings, cell_dir: Path, token: str = "",
                   master_port: int | None = None) -> list[str]:
    dist = load.distributed
    processes = dist.workers if dist else max(1, int(load.processes))
    if scenario.is_open:
        # open model: the rate is the knob; one sending user per process, concurrency = max in flight
        users, extra = processes, ["--max-inflight", str(load.concurrency)]
    else:
        users, extra = load.concurrency, []
    return [
        sys.executable, "-m", "locust",
        "-f", locustfiles(scenario),
        "--headless", "--host", url,
        *(_master_args(dist, master_port or free_port(dist.bind_host)) if dist else _multiprocess_args(processes)),
        *scenario.locust_args(),
        *extra,
        *(["--phase-token", token] if token else []),
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


@contextmanager
def locust_process(cmd: list[str], out_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Locust (`cmd`, already pinned) as the leader of its own process group, guarded by a watchdog, its
    output appended to `out_path`; the whole group is gone after the with-block, whatever happened in it."""
    with open(out_path, "ab") as out:
        proc, watchdog = start_group(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     env=child_env())
    try:
        yield proc
    finally:
        stop_process_group(proc, grace_s=2.0, watchdog=watchdog)


_announced: set[str] = set()  # lines already printed by this process: once per run, not once per cell


def _say_once(line: str) -> None:
    if line not in _announced:
        _announced.add(line)
        err.print(line, highlight=False, markup=False, soft_wrap=True)


def announce(scenario: Scenario, dist: Distributed, port: int) -> None:
    """Where the master listens (a non-loopback bind is a warning), and for remote workers the command."""
    if dist.loopback:
        _say_once(f"Locust master binds to {dist.bind_host} (loopback: workers on this machine only; "
                  "--master-bind-host ADDRESS --remote-workers for others)")
    else:
        _say_once(f"warning: Locust master binds to {dist.bind_host}: reachable from other machines, without "
                  "authentication; use it on a trusted network only")
    if dist.remote:
        _say_once(f"waiting up to {dist.wait_s:.0f} s a cell for {dist.workers} remote Locust worker(s); on each "
                  "worker machine, in a checkout of this commit, run (workers exit when a cell ends, so loop):\n"
                  f"  while :; do {remote_worker_command(scenario, dist, port)}; sleep 1; done")


def with_local_workers(master: list[str], scenario: Scenario, dist: Distributed | None, port: int) -> list[str]:
    """The master alone, or (local workers) one process that runs the master and its workers as children
    (`group_main`): one process tree, so the sampler's generator CPU covers the workers too, and one group,
    so the harness's one teardown (locust_process) stops them all, whatever happens."""
    if dist is None or dist.remote:
        return master
    host = LOOPBACK if ipaddress.ip_address(dist.bind_host).is_unspecified else dist.bind_host
    commands = [master, *(worker_command(scenario, host, port) for _ in range(dist.workers))]
    return [sys.executable, "-c", "from stackmark.loadgen import group_main; group_main()", json.dumps(commands)]


GROUP_GRACE_S = 10.0  # after the master exits, its workers (told to quit by it) get this long to follow


def group_main() -> None:
    """Run the argument lists in sys.argv[1] (JSON) as children; exit with the first one's (the master's)
    code once it has exited and the others have followed (or were killed after GROUP_GRACE_S)."""
    procs = [subprocess.Popen(list(cmd)) for cmd in json.loads(sys.argv[1])]
    code = procs[0].wait()
    deadline = time.monotonic() + GROUP_GRACE_S
    for proc in procs[1:]:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    sys.exit(code)


TICK_S = 0.5  # how often a waiting harness looks at Locust's files for the progress display


def wait_within(proc: subprocess.Popen[bytes], budget_s: float,
                tick: Callable[[], None] | None = None) -> int | None:
    """Its exit code, or None if it overstayed `budget_s` (locust_process then stops it); `tick` is called
    about every TICK_S meanwhile (the progress display's look at the cell's files)."""
    deadline = time.monotonic() + budget_s
    while True:
        left = deadline - time.monotonic()
        try:
            return proc.wait(timeout=max(0.0, min(left, TICK_S) if tick else left))
        except subprocess.TimeoutExpired:
            if left <= TICK_S or tick is None:
                return None
            tick()


def run_cell(server: ServerHandle, scenario: Scenario, load: LoadSettings, cell_dir: Path,
             tick: Callable[[], None] | None = None) -> CellOutcome:
    """One measured cell; never raises for a server or Locust failure, reports it instead. `tick` is called
    about every TICK_S while Locust runs (see `live_stats` and `locust_started_at`)."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    dist = load.distributed
    port = (REMOTE_MASTER_PORT if dist.remote else free_port(dist.bind_host)) if dist else 0
    if dist:
        announce(scenario, dist, port)
    cmd = pin_prefix(load.cpus) + with_local_workers(
        locust_command(scenario, server.url, load, cell_dir, token, port or None), scenario, dist, port)
    budget_s = (load.primer_s + load.warmup_s + load.duration_s + 30.0
                + (10.0 if load.processes > 1 or dist else 0.0) + (dist.wait_s if dist else 0.0))
    proc: subprocess.Popen[bytes] | None = None
    before = server_pids(server.pid)
    sampler = Sampler(server.pid, lambda: proc.pid if proc is not None and proc.poll() is None else None)
    with sampler, locust_process(cmd, cell_dir / paths.LOCUST_OUT) as running:
        proc = running  # the sampler's generator side, from now on
        code = wait_within(running, budget_s, tick)
    sampler.write_csv(cell_dir / paths.SAMPLES_CSV)
    return (_server_outcome(server, before) or _locust_outcome(code, budget_s, load, cell_dir, token)
            or _measured_outcome(cell_dir) or CellOutcome(True, None))


def _server_outcome(server: ServerHandle, before: set[int]) -> CellOutcome | None:
    if server.exit_code() is not None:
        return CellOutcome(False, f"server exited with code {server.exit_code()} during the cell", True)
    lost = before - server_pids(server.pid)
    if lost:
        pids = ", ".join(str(p) for p in sorted(lost))
        return CellOutcome(False, f"server process {pids} died during the cell (its master restarted it)", True)
    return None


def _locust_outcome(code: int | None, budget_s: float, load: LoadSettings, cell_dir: Path,
                    token: str) -> CellOutcome | None:
    if code is None:
        return CellOutcome(False, f"locust did not finish within {budget_s:.0f} s and was killed")
    dist = load.distributed
    if code != 0 and dist is not None and _gave_up(cell_dir):
        where = "remote" if dist.remote else "local"
        return CellOutcome(False, f"the Locust master waited {dist.wait_s:.0f} s for {dist.workers} {where} "
                                  "worker(s) and not all connected; see locust.out and locust.log")
    if code != 0:
        return CellOutcome(False, f"locust exited with code {code}; see locust.out")
    if not (cell_dir / paths.LATENCY_JSON).exists():
        return CellOutcome(False, "locust wrote no latency.json; see locust.out")
    files = paths.latency_paths(cell_dir)
    try:
        tokens = [read_json(p).get("run_token") for p in files]
    except (RunDirError, AttributeError):
        return CellOutcome(False, "a latency file of this cell is damaged; see locust.out")
    strangers = sum(1 for t in tokens if t != token)
    if strangers:
        return CellOutcome(False, f"{strangers} latency file(s) came from Locust processes of another run; "
                                  "the cell's numbers cannot be trusted")
    if dist is not None:
        return _reports_outcome(cell_dir, dist.workers)
    workers = len(paths.worker_latency_paths(cell_dir))
    if load.processes > 1 and workers != load.processes:
        return CellOutcome(False, f"{workers} of {load.processes} Locust worker processes wrote their "
                                  "latency-w<pid>.json; see locust.out and locust.log")
    return None


def _gave_up(cell_dir: Path) -> bool:
    """Whether the master's log says it stopped waiting for workers (Locust's own words)."""
    try:
        return "Gave up waiting for workers" in (cell_dir / paths.LOCUST_LOG).read_text(errors="replace")
    except OSError:
        return False


def _reports_outcome(cell_dir: Path, expected: int) -> CellOutcome | None:
    """A distributed cell counts only if every worker reported its histogram to the master."""
    latency = read_json(cell_dir / paths.LATENCY_JSON)
    shares = latency.get("workers") if isinstance(latency, dict) else None
    reported = len(shares) if isinstance(shares, list) else 0
    if reported != expected:
        return CellOutcome(False, f"{reported} of {expected} Locust workers reported their histogram to the "
                                  "master; see locust.out and locust.log")
    return None


def _measured_outcome(cell_dir: Path) -> CellOutcome | None:
    """A cell that measured nothing, or mostly failures, is failed: it must never read as a result."""
    try:
        latency, _ = read_latency(cell_dir)
    except RunDirError as exc:
        return CellOutcome(False, str(exc))
    requests, failures = totals(latency)
    if requests == 0:
        return CellOutcome(False, "measured nothing: no request completed in the measured window "
                                  f"(see {paths.LOCUST_LOG} and {paths.LOCUST_OUT})")
    if failures >= MOSTLY_ERRORS * requests:
        return CellOutcome(False, f"mostly errors: {failures} of {requests} requests failed "
                                  f"({100 * failures / requests:.0f}%){first_failure(cell_dir)}")
    return None


def locust_csv(folder: Path, kind: str) -> list[dict[str, str]] | None:
    """The rows of Locust's own `locust_<kind>.csv` (stats, failures) in `folder`; None if it wrote none."""
    try:
        with open(folder / f"{paths.LOCUST_CSV_PREFIX}_{kind}.csv", newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class LiveStats:
    """Locust's own running totals (its `Aggregated` row): requests since its stats were last reset, and
    Locust's `Requests/s`, those requests over the seconds from that reset to the latest one."""

    requests: int
    rps: float

    @property
    def span_s(self) -> float:
        """Seconds from Locust's last stats reset to its latest request: jumps back when the stats reset."""
        return self.requests / self.rps if self.rps > 0 else 0.0


def live_stats(cell_dir: Path) -> LiveStats | None:
    """The running totals from locust_stats.csv, which Locust rewrites (and flushes) every second while it
    runs; None before the first write or if caught mid-write."""
    for row in locust_csv(cell_dir, "stats") or []:
        if row.get("Name") == "Aggregated":
            try:
                return LiveStats(int(row["Request Count"]), float(row["Requests/s"]))
            except (KeyError, TypeError, ValueError):
                return None
    return None


def locust_started_at(cell_dir: Path) -> float | None:
    """When Locust's test (and its load shape's clock) started: its stats history CSV is flushed right then
    with a first row, and next only ~5 s later, so its modification time while it holds one row is that
    moment; afterwards the first row's whole-second timestamp. None while Locust is still starting."""
    path = cell_dir / f"{paths.LOCUST_CSV_PREFIX}_stats_history.csv"
    try:
        mtime = path.stat().st_mtime
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    if not rows:
        return None
    if len(rows) == 1:
        return mtime
    try:
        return float(rows[0]["Timestamp"])
    except (KeyError, TypeError, ValueError):
        return None


def first_failure(cell_dir: Path) -> str:
    """'; e.g. GET /json: HTTPError 500' from Locust's own failures CSV, or '' if there is none."""
    row = next(iter(locust_csv(cell_dir, "failures") or []), None)
    if not row:
        return ""
    return f"; e.g. {row.get('Method', '')} {row.get('Name', '')}: {(row.get('Error') or '')[:120]}"
