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
the measured window.
Usable by hand:  locust -f scenarios/closed.py,scenarios/phases.py --headless \
    --host http://127.0.0.1:8000 --phase-users 32 --phase-measure 10
"""
from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from typing import Any

from gevent import getcurrent
from locust import LoadTestShape, events

BUCKETS_PER_MS = 100  # 10 microsecond buckets

_marks: dict[str, float] = {}
_hist: defaultdict[str, Counter[int]] = defaultdict(Counter)
_fail: Counter[str] = Counter()
_bytes: Counter[str] = Counter()
_per_user: Counter[Any] = Counter()  # user greenlet -> requests it completed in the window


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:  # type: ignore[no-untyped-def]
    group = parser.add_argument_group("stackmark phases")
    group.add_argument("--phase-users", type=int, default=32, help="concurrency during warm-up and measurement")
    group.add_argument("--phase-primer", type=float, default=1.0, help="seconds at 1 user (excluded)")
    group.add_argument("--phase-warmup", type=float, default=2.0, help="seconds at full concurrency (excluded)")
    group.add_argument("--phase-measure", type=float, default=10.0, help="measured seconds")
    group.add_argument("--phases-file", default="", help="write phase start times here (JSON)")
    group.add_argument("--latency-file", default="", help="write the measured latency histogram here (JSON)")


@events.request.add_listener
def _on_request(name: str, response_time: float, response_length: int, exception: Any = None, **_: Any) -> None:
    if "measure" not in _marks or "end" in _marks:
        return  # outside the measured window: primer, warm-up, or ramp-down
    _hist[name][int(response_time * BUCKETS_PER_MS)] += 1
    _bytes[name] += response_length or 0
    _per_user[getcurrent()] += 1  # the user's own greenlet: one per user
    if exception is not None:
        _fail[name] += 1


def _note_users(runner: Any) -> None:
    """Enter every live user with 0 completed requests, so users that never complete one are counted."""
    for greenlet in list(getattr(runner, "user_greenlets", None) or ()):
        if greenlet not in _per_user:
            _per_user[greenlet] = 0


def user_summary(expected: int, counts: list[int]) -> dict[str, Any]:
    """The latency.json "users" block from per-user completed-request counts in the window."""
    return {
        "expected": expected,
        "seen": len(counts),
        "starved": sum(1 for c in counts if c == 0),
        "min": min(counts) if counts else None,
        "median": statistics.median(counts) if counts else None,
        "max": max(counts) if counts else None,
    }


def _write_json(path: str, data: Any) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


@events.test_stop.add_listener
def _on_test_stop(environment, **_: Any) -> None:  # type: ignore[no-untyped-def]
    _marks.setdefault("end", time.time())
    opts = environment.parsed_options
    if opts is None:
        return
    if opts.phases_file:
        _write_json(opts.phases_file, {**_marks, "users": opts.phase_users})
    if opts.latency_file:
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
        users = user_summary(opts.phase_users, list(_per_user.values()))
        _write_json(opts.latency_file, {"bucket_ms": 1 / BUCKETS_PER_MS, "window": window, "requests": requests,
                                        "users": users})


class PhasedShape(LoadTestShape):
    """primer -> warm-up -> measure -> stop; Locust calls tick() about once a second."""

    def tick(self) -> tuple[int, float] | None:
        opts = self.runner.environment.parsed_options
        users = max(1, int(opts.phase_users))
        t = self.get_run_time()
        if t < opts.phase_primer:
            _marks.setdefault("primer", time.time())
            return 1, 1
        if t < opts.phase_primer + opts.phase_warmup:
            _marks.setdefault("warmup", time.time())
            return users, users
        if t < opts.phase_primer + opts.phase_warmup + opts.phase_measure:
            if "measure" not in _marks:
                self.runner.stats.reset_all()  # Locust's own CSV then covers the window too
                _marks["measure"] = time.time()
            _note_users(self.runner)
            return users, users
        if "end" not in _marks:
            _note_users(self.runner)  # before the end mark: users spawned late in the window count too
            _marks["end"] = time.time()
        return None
