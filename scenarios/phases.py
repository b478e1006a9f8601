"""Locust load shape: a primer (1 user), a warm-up at full concurrency, then the
measured window; only requests that complete inside the measured window count.

Alongside Locust's own CSV it writes two small files for stackmark:
  --phases-file  phase start times (unix seconds)
  --latency-file response-time histogram of the measured window, 10 us buckets,
                 so percentiles are exact to 0.01 ms (Locust's own are rounded
                 to whole milliseconds below 100 ms), and per-user accounting:
                 how many requests each simulated user completed in the window,
                 so a server that leaves connections unserved (users that wait
                 the whole window without an answer and without an error) shows.

Per-user identity: each Locust user runs in exactly one greenlet, and the
request event fires synchronously in it, so gevent.getcurrent() *is* the user
(User.start spawns it into runner.user_greenlets). That needs nothing from the
locustfile (closed.py stays a plain locustfile) and costs one dict increment
per request. Users that complete nothing would never reach the listener, so the
shape also enters every live user greenlet with a count of 0 on each tick of
the measured window. A locustfile whose user sends from other greenlets (the
open model, scenarios/open.py) names its user greenlet in the request context
as "stackmark_user".

Multi-process Locust (`--processes N`: a master plus N forked workers). The
shape runs in the master, request events fire only in the workers. So when the
master enters the warm-up it fixes the measured window ahead of time
([measure, end], unix times, at least the warm-up length away) and broadcasts it
with a custom message; every worker then counts by its own clock against the
same master timestamps, enters its live users on its own, and writes its own
histogram to `latency-w<pid>.json` beside --latency-file. The master writes
phases.json and a latency.json with no requests (`"processes": N`); analysis
merges all of them. With one process nothing of this runs: the window opens and
closes on the shape's ticks, as it always did.

Distributed Locust (`--master` with `--phase-report`; workers local or on other
machines, `locust -f ... --worker --master-host H`): the same window, but no
shared folder. When the master stops (headless, Locust's master stops itself
before its workers) it asks every worker for its record with a custom message;
each worker closes its window there and sends its record once (Locust sends a
worker the master's custom arguments, so a worker needs only the locustfiles).
The master waits a bounded time for every expected worker's report and writes
one latency.json, merged (runformat.latency `merge_reports`), with each
worker's share under `workers`.

Other locustfiles reach the window through `environment.stackmark_window`
(a Window: `contains(t)`, `start`, `end`, and `extras`, a dict of name ->
callable whose result is written into latency.json under that name), so they
need not import this file (Locust loads every -f file as its own module).

Shapes (--shape, scenarios/shapes.py): inside the measured window the users
follow a stage plan: a ramp of doubling steps up to --phase-users (stopping
after a step whose p99 or error share is over --slo-p99-ms / --max-error-pct),
a spike (--spike-factor x the users for 20% of the window), or a steady soak;
the primer and warm-up run at the first stage's users. Every cell writes
latency.json `series` (per slot of at least 1 s: completions, failures, p50,
p99) and a shaped one `shape` (each stage's users, times and histogram); the
accounting lives in scenarios/series.py. With several processes the master
drives the users along the same plan and each worker follows it by the clock
(no early stop: no worker sees the others' latencies).

Usable by hand:  locust -f scenarios/closed.py,scenarios/phases.py --headless \
    --host http://127.0.0.1:8000 --phase-users 32 --phase-measure 10
"""
from __future__ import annotations

import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent import getcurrent
from locust import LoadTestShape, events
from locust.runners import MasterRunner, WorkerRunner

from runformat.atomic import write_json
from runformat.latency import BUCKET_MS, BUCKETS_PER_MS, TIMELINE_SLOT_S, merge_reports, user_summary
from runformat.paths import worker_latency_name
from runformat.records import LatencyFile
from scenarios.series import WindowAccounting
from scenarios.shapes import SHAPES

WINDOW_MESSAGE = "stackmark_window"  # master -> workers: {"measure": t, "end": t}
REPORT_MESSAGE = "stackmark_latency"  # worker -> master (--phase-report): the worker's latency record
COLLECT_MESSAGE = "stackmark_collect"  # master -> workers (--phase-report): send your record now
REPORT_WAIT_S = 10.0  # how long a stopping master waits for the reports of workers not heard from yet
MIN_LEAD_S = 0.5  # a broadcast window opens at least this far in the future, so every worker has it in time
NOTE_EVERY_S = 0.5  # workers enter their live users this often inside the window
INF = float("inf")


class Window:
    """The measured window [start, end) in unix seconds as this process knows it (inf while unknown)."""

    def __init__(self) -> None:
        self.start = INF
        self.end = INF
        self.extras: dict[str, Callable[[], Any]] = {}  # latency.json blocks contributed by other locustfiles

    def contains(self, t: float) -> bool:
        return self.start <= t < self.end


_window = Window()
_marks: dict[str, float] = {}
_hist: defaultdict[str, Counter[int]] = defaultdict(Counter)
_fail: Counter[str] = Counter()
_bytes: Counter[str] = Counter()
_per_user: Counter[Any] = Counter()  # user greenlet -> requests it completed in the window
_timeline: Counter[int] = Counter()  # slot of the window -> requests completed in it (stalls show as gaps)
_reports: dict[str, LatencyFile] = {}  # master, --phase-report: worker client id -> its latency record
_reported: list[bool] = []  # worker, --phase-report: [True] once its record is sent (it reports once)
_acc = WindowAccounting()  # per series slot and per stage of the window (scenarios/series.py)


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:  # type: ignore[no-untyped-def]
    group = parser.add_argument_group("stackmark phases")
    group.add_argument("--phase-users", type=int, default=32, help="concurrency during warm-up and measurement")
    group.add_argument("--phase-primer", type=float, default=1.0, help="seconds at 1 user (excluded)")
    group.add_argument("--phase-warmup", type=float, default=2.0, help="seconds at full concurrency (excluded)")
    group.add_argument("--phase-measure", type=float, default=10.0, help="measured seconds")
    group.add_argument("--phases-file", default="", help="write phase start times here (JSON)")
    group.add_argument("--latency-file", default="", help="write the measured latency histogram here (JSON)")
    group.add_argument("--phase-token", default="", help="written into every latency file: the harness checks "
                                                         "that each one came from its own Locust processes")
    group.add_argument("--phase-report", action="store_true",
                       help="distributed mode: workers send their latency record to the master, which writes "
                            "one merged --latency-file (no shared folder needed)")
    group.add_argument("--shape", choices=SHAPES, default="steady",
                       help="the users inside the measured window: steady (default), ramp (doubling steps up to "
                            "--phase-users), spike (a jump of --spike-factor x users), soak (steady, long)")
    group.add_argument("--ramp-steps", type=int, default=6, help="ramp: number of steps (default 6)")
    group.add_argument("--slo-p99-ms", type=float, default=None, help="ramp: stop after a step whose p99 is over this")
    group.add_argument("--max-error-pct", type=float, default=None,
                       help="ramp: stop after a step whose errors are over this percentage")
    group.add_argument("--spike-factor", type=float, default=10.0, help="spike: users multiplied by this (default 10)")


@events.init.add_listener
def _on_init(environment, runner=None, **_: Any) -> None:  # type: ignore[no-untyped-def]
    environment.stackmark_window = _window
    if isinstance(runner, WorkerRunner):
        runner.register_message(WINDOW_MESSAGE, _on_window_message)
        runner.register_message(COLLECT_MESSAGE, _on_collect_message)
    if isinstance(runner, MasterRunner):
        runner.register_message(REPORT_MESSAGE, _on_report_message)


def _on_report_message(environment, msg, **_: Any) -> None:  # type: ignore[no-untyped-def]
    """Master side of --phase-report: keep each worker's record (a worker reports once, when it stops)."""
    record = msg.data.get("record") if isinstance(msg.data, dict) else None
    if isinstance(record, dict):
        _reports[str(msg.node_id)] = record  # type: ignore[assignment]


def _on_collect_message(environment, msg, **_: Any) -> None:  # type: ignore[no-untyped-def]
    _send_report(environment)


def _send_report(environment: Any) -> None:
    """Worker side of --phase-report: close the window now if it is still open, send the record, once."""
    opts = environment.parsed_options
    if _reported or opts is None or not getattr(opts, "phase_report", False):
        return
    now = time.time()
    if _window.start < INF and now < _window.end:
        _window.end = _marks["end"] = now  # stopped early: the window ends here
    _reported.append(True)
    environment.runner.send_message(REPORT_MESSAGE, {"record": _latency_record(opts)})


def _await_reports(expected: int) -> None:
    """The master stops once its workers' users are gone; their reports travel just ahead of that, but a
    stats message can beat them, so wait (bounded) until every expected worker's report is in."""
    deadline = time.monotonic() + REPORT_WAIT_S
    while len(_reports) < expected and time.monotonic() < deadline:
        gevent.sleep(0.05)


def _on_window_message(environment, msg, **_: Any) -> None:  # type: ignore[no-untyped-def]
    """A worker learns the master's window; it counts against those timestamps and notes its own users."""
    start, end = float(msg.data["measure"]), float(msg.data["end"])
    _window.start, _window.end = start, end
    _marks["measure"], _marks["end"] = start, end
    _acc.configure(environment.parsed_options)
    _acc.open(start)
    gevent.spawn(_note_users_during, environment.runner, start, end)
    gevent.spawn(_follow_stages, start)


def _follow_stages(start: float) -> None:
    """Worker side of a shape: the stage in effect switches at the master's planned times."""
    for at, index in _acc.follow_at(start):
        gevent.sleep(max(0.0, at - time.time()))
        if at >= _window.end:
            return
        _acc.switch(index, at)


def _note_users_during(runner: Any, start: float, end: float) -> None:
    """Worker side of _note_users: every live user entered with 0, through the window; ends at `end`."""
    gevent.sleep(max(0.0, start - time.time()))
    while time.time() < end - 0.05:
        _note_users(runner)
        gevent.sleep(min(NOTE_EVERY_S, max(0.0, end - 0.05 - time.time())))
    _note_users(runner)  # just before the end: users spawned late in the window count too


@events.request.add_listener
def _on_request(name: str, response_time: float, response_length: int, exception: Any = None,
                context: Any = None, **_: Any) -> None:
    now = time.time()
    if not _window.start <= now < _window.end:
        return  # outside the measured window: primer, warm-up, or ramp-down
    bucket = int(response_time * BUCKETS_PER_MS)
    _hist[name][bucket] += 1
    _timeline[int((now - _window.start) / TIMELINE_SLOT_S)] += 1
    _acc.add(now - _window.start, bucket, exception is not None)
    _bytes[name] += response_length or 0
    # the user's own greenlet (one per user), or the one a locustfile sending from a pool names
    _per_user[(context and context.get("stackmark_user")) or getcurrent()] += 1
    if exception is not None:
        _fail[name] += 1


def _note_users(runner: Any) -> None:
    """Enter every live user with 0 completed requests, so users that never complete one are counted."""
    for greenlet in list(getattr(runner, "user_greenlets", None) or ()):
        if greenlet not in _per_user:
            _per_user[greenlet] = 0


def _latency_record(opts: Any) -> LatencyFile:
    requests = {
        name: {
            "count": sum(h.values()),
            "failures": _fail[name],
            "bytes": _bytes[name],
            "hist": {str(k): v for k, v in sorted(h.items())},
        }
        for name, h in _hist.items()
    }
    window = [_marks.get("measure"), _marks.get("end")]
    record: dict[str, Any] = {"bucket_ms": BUCKET_MS, "window": window, "requests": requests,
                              "users": user_summary(opts.phase_users, list(_per_user.values())),
                              "run_token": opts.phase_token}
    if _window.start < INF and _window.end < INF:
        slots = max(1, math.ceil(round((_window.end - _window.start) / TIMELINE_SLOT_S, 6)))
        record["timeline"] = {"slot_s": TIMELINE_SLOT_S, "completed": [_timeline[i] for i in range(slots)]}
        _acc.close(_window.end)
        record["series"] = _acc.series(_window.start, _window.end)
        shape = _acc.shape()
        if shape is not None:
            record["shape"] = shape
    for name, block in _window.extras.items():
        record[name] = block()
    return record  # type: ignore[return-value]


@events.test_stop.add_listener
def _on_test_stop(environment, **_: Any) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    runner = environment.runner
    opts = environment.parsed_options
    if isinstance(runner, WorkerRunner):
        if opts is not None and getattr(opts, "phase_report", False):
            _send_report(environment)
            return
        if _window.start < INF and now < _window.end:
            _window.end = _marks["end"] = now  # stopped early: the window ends here
        if opts is not None and getattr(opts, "latency_file", None):
            worker_file = Path(opts.latency_file).with_name(worker_latency_name(os.getpid()))
            write_json(worker_file, _latency_record(opts), indent=None)
        return
    if _window.start < INF and now < _window.end:
        _window.end = _marks["end"] = now
    _marks.setdefault("end", now)
    _window.end = min(_window.end, _marks["end"])
    if opts is None:
        return
    processes = int(getattr(opts, "expect_workers", 0) or 0) if isinstance(runner, MasterRunner) else 0
    if opts.phases_file:
        write_json(Path(opts.phases_file), {**_marks, "users": opts.phase_users,
                                            **({"processes": processes} if processes else {})})
    if opts.latency_file:
        record = _latency_record(opts)
        if processes and getattr(opts, "phase_report", False):
            runner.send_message(COLLECT_MESSAGE, {})
            _await_reports(processes)
            record = merge_reports(record, dict(_reports))
        if processes:
            record["processes"] = processes  # requests: merged above, or in the workers' latency-w<pid>.json
        write_json(Path(opts.latency_file), record, indent=None)


class PhasedShape(LoadTestShape):
    """primer -> warm-up -> measure (steady, or along the --shape's stages) -> stop; Locust calls tick()
    about once a second."""

    _stats_reset = False
    _configured = False
    _level: tuple[int, float] | None = None

    def _run_time(self) -> float:
        shape: Any = self  # LoadTestShape.get_run_time is untyped in Locust
        return float(shape.get_run_time())

    def _configure(self, opts: Any) -> None:
        if not self._configured:
            _acc.configure(opts)
            self._configured = True

    def _users(self, users: int) -> tuple[int, float]:
        """(users, spawn rate): a new level is reached at once (spawn rate = the jump)."""
        if self._level is None or self._level[0] != users:
            jump = users - self._level[0] if self._level is not None else users
            self._level = (users, float(max(1, abs(jump))))
        return self._level

    def tick(self) -> tuple[int, float] | None:
        if isinstance(self.runner, MasterRunner):
            return self._tick_master()
        runner: Any = self.runner  # Locust sets it before the first tick
        opts: Any = runner.environment.parsed_options
        self._configure(opts)
        users = max(1, int(opts.phase_users))
        t = self._run_time()
        if t < opts.phase_primer:
            _marks.setdefault("primer", time.time())
            return 1, 1
        if t < opts.phase_primer + opts.phase_warmup:
            _marks.setdefault("warmup", time.time())
            return self._users(_acc.first_users(users))
        if t < opts.phase_primer + opts.phase_warmup + opts.phase_measure:
            now = time.time()
            if "measure" not in _marks:
                runner.stats.reset_all()  # Locust's own CSV then covers the window too
                _marks["measure"] = _window.start = now
                _acc.open(now)
            _note_users(runner)
            if _acc.advance(now - _window.start, now):  # False: a ramp step crossed its limit, stop here
                return self._users(_acc.users_now(users))
        if "end" not in _marks:
            _note_users(runner)  # before the end mark: users spawned late in the window count too
            _marks["end"] = _window.end = time.time()
        return None

    def _tick_master(self) -> tuple[int, float] | None:
        """Multi-process: the window is fixed when the warm-up starts and sent to every worker in advance."""
        runner: Any = self.runner
        opts: Any = runner.environment.parsed_options
        self._configure(opts)
        users = max(1, int(opts.phase_users))
        now = time.time()
        if "warmup" not in _marks:
            if self._run_time() < opts.phase_primer:
                _marks.setdefault("primer", now)
                return 1, 1
            _marks.setdefault("primer", now)
            _marks["warmup"] = now
            start = now + max(float(opts.phase_warmup), MIN_LEAD_S)
            end = start + float(opts.phase_measure)
            _marks["measure"], _marks["end"] = start, end
            _window.start, _window.end = start, end
            runner.send_message(WINDOW_MESSAGE, {"measure": start, "end": end})
            return self._users(_acc.first_users(users))
        if now < _window.start:
            return self._users(_acc.first_users(users))
        if now < _window.end:
            if not self._stats_reset:
                runner.stats.reset_all()  # Locust's own CSV then covers (about) the window too
                self._stats_reset = True
            return self._users(_acc.planned_users(now - _window.start, users))
        return None
