"""Open-model load on one endpoint: requests go out at a fixed arrival rate,
whether or not earlier ones have been answered, so a slow server does not slow
the offered load down (in the closed model, closed.py, it does: each user waits
for its answer before it sends again).

ONE user (per Locust process) does the sending: it schedules request k at
exactly t0 + k / rate and hands each to a gevent pool of at most
--max-inflight requests in flight, over a FastHttpUser connection pool that
large. A request that cannot go out on time is counted:
  missed  not sent: --max-inflight requests were already in flight at its time,
          or the scheduler was more than 1 s behind (the generator itself is
          overloaded; sending the backlog at once would be a burst, not the rate);
  late    sent, but more than --late-ms (default 10 ms) after its scheduled time.
The schedule never shifts, so missed and late requests do not lower the rate
of the ones after them.

Coordinated omission: Locust times a request from when it went out, so a
server that stalls the sender hides its own delay. Each request scheduled in
the measured window is also timed from its *scheduled* start to its answer
(wrk2's correction), into a histogram of the same 10 us buckets:
latency.json open.corrected {count, hist}. A missed request was never sent, so
it has no latency: it stays counted in `missed` only.

A plain locustfile; by hand, against a stack started with `stackmark serve`:

    locust -f scenarios/open.py --host http://127.0.0.1:8000 --endpoint /json --rate 500 \\
        --headless -u 1 -r 1 --run-time 10s

With stackmark's phases (`-f scenarios/open.py,scenarios/phases.py`), the shape
runs --phase-users users (1, or one per Locust process) and the total --rate and
--max-inflight are split evenly between them; sent/missed/late are counted only
for requests scheduled inside the measured window, and written to latency.json
as {"open": {"offered_rate": R, "sent": n, "missed": m, "late": l,
"corrected": {"count": c, "hist": {...}}}}. Without
phases.py they cover the whole run and are logged at the end.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Any

import gevent
from gevent.pool import Pool
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

MAX_BEHIND_S = 1.0  # further behind than this, a slot is dropped (missed) instead of sent in a burst
BUCKETS_PER_S = 100_000  # 10 us buckets, as runformat.latency's (this file stays a plain locustfile)

_counts = {"sent": 0, "missed": 0, "late": 0}
_corrected: dict[int, int] = {}  # 10 us bucket -> answered requests, timed from their scheduled start
_offered = {"rate": 0.0}


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--endpoint", default="/json", help="path (and query) to request (default /json)")
    parser.add_argument("--method", default="GET", choices=["GET", "POST"], help="HTTP method (default GET)")
    parser.add_argument("--body", default="", help="request body for POST")
    parser.add_argument("--content-type", default="application/json", help="Content-Type of the body")
    parser.add_argument("--rate", type=float, default=100.0, help="offered requests per second, in total (default 100)")
    parser.add_argument("--max-inflight", type=int, default=256,
                        help="requests in flight at most, in total; a request due while this many are "
                             "outstanding is missed (default 256)")
    parser.add_argument("--late-ms", type=float, default=10.0,
                        help="a request sent more than this after its scheduled time is late (default 10)")


def open_summary() -> dict[str, Any]:
    """The latency.json "open" block: counted over requests scheduled inside the measured window."""
    hist = {str(k): v for k, v in sorted(_corrected.items())}
    return {"offered_rate": _offered["rate"], **_counts, "corrected": {"count": sum(hist.values()), "hist": hist}}


@events.test_stop.add_listener
def _log_counts(environment, **_: Any) -> None:  # type: ignore[no-untyped-def]
    if _offered["rate"] and getattr(environment, "stackmark_window", None) is None:
        logging.getLogger("open").warning("open model: %s", open_summary())


def _share(total: float, users: int) -> float:
    return total / max(1, users)


class OpenRateUser(FastHttpUser):
    wait_time = constant(0)

    def __init__(self, environment) -> None:  # type: ignore[no-untyped-def]
        opts = environment.parsed_options
        self.users = max(1, int(getattr(opts, "phase_users", 0) or getattr(opts, "num_users", 0) or 1))
        self.max_inflight = max(1, math.ceil(_share(opts.max_inflight, self.users)))
        self.concurrency = self.max_inflight  # FastHttpUser's connection pool: one connection per in-flight request
        super().__init__(environment)

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        if opts.rate <= 0:
            raise StopUser()
        self.path = opts.endpoint
        self.method = opts.method
        self.body = opts.body.encode() if opts.body else None
        self.headers = {"Content-Type": opts.content_type} if self.body is not None else None
        self.interval = 1.0 / _share(opts.rate, self.users)
        self.late_s = opts.late_ms / 1000.0
        self._ctx = {"stackmark_user": gevent.getcurrent()}  # phases.py counts pool requests for this user
        _offered["rate"] = opts.rate
        self.window = getattr(self.environment, "stackmark_window", None)
        if self.window is not None:
            self.window.extras["open"] = open_summary

    def context(self) -> dict[str, Any]:
        return self._ctx

    def _send(self, due: float | None) -> None:
        """One request; `due` (perf_counter) is its scheduled time if it counts, for the corrected latency."""
        self.client.request(self.method, self.path, data=self.body, headers=self.headers, name=self.path)
        if due is not None:
            bucket = int((time.perf_counter() - due) * BUCKETS_PER_S)
            _corrected[bucket] = _corrected.get(bucket, 0) + 1

    @task
    def send_at_rate(self) -> None:
        """The schedule: runs until Locust stops the user, or the measured window (if known) is over."""
        pool = Pool(self.max_inflight)
        window, interval, late_s, counts = self.window, self.interval, self.late_s, _counts
        clock = time.perf_counter
        t0, wall0 = clock(), time.time()
        k = 0
        try:
            while True:
                due = t0 + k * interval
                k += 1
                now = clock()
                if due > now:
                    gevent.sleep(due - now)
                    now = clock()
                else:
                    gevent.sleep(0)  # behind: still let the requests in flight run
                wall_due = wall0 + (due - t0)
                counted = window is None or window.contains(wall_due)
                if window is not None and wall_due >= window.end:
                    break  # the measured window is over: stop offering load
                behind = now - due
                if pool.full() or behind > MAX_BEHIND_S:
                    if counted:
                        counts["missed"] += 1
                    continue
                pool.spawn(self._send, due if counted else None)
                if counted:
                    counts["sent"] += 1
                    if behind > late_s:
                        counts["late"] += 1
            pool.join(timeout=5.0)
        finally:
            pool.kill(block=False)
        raise StopUser()
