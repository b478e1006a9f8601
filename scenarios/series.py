"""Accounting of the measured window over time, for phases.py: per series slot and per stage of a shape.

Fed one request at a time (`add`: two dict increments, plus two for a shaped window), read once when
latency.json is written (`series`, `shape`). The stage in effect is set by whoever drives the users:
phases.py's tick in a single Locust process (`advance`, which also applies a ramp's stop rule), a timer
on the master's planned times in the workers of a multi-process cell (`follow`, no early stop: the
workers cannot see each other's latencies; analysis finds the knee from the stages all the same).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

from runformat.records import Series, ShapeBlock, StageStats
from scenarios.shapes import (
    StagePlan,
    coarse_bucket,
    hist_percentile,
    ramp_stop,
    series_slot_s,
    slot_count,
    stage_at,
    stage_plan,
)


class WindowAccounting:
    """Per-slot and per-stage histograms of one process's measured window."""

    def __init__(self) -> None:
        self.kind = "steady"
        self.plan: list[StagePlan] = []
        self.slo_p99_ms: float | None = None
        self.max_error_pct: float | None = None
        self.slot_s = 1.0
        self.slots: defaultdict[int, Counter[int]] = defaultdict(Counter)
        self.slot_failures: Counter[int] = Counter()
        self.current = 0  # index of the stage in effect
        self.stage_hists: defaultdict[int, Counter[int]] = defaultdict(Counter)
        self.stage_failures: Counter[int] = Counter()
        self.stage_times: dict[int, list[float]] = {}  # index -> [start, end] unix seconds (end inf while open)
        self.stopped: str | None = None

    def configure(self, opts: Any) -> None:
        """The shape and slot length from phases.py's options (the same in every process of a cell)."""
        self.kind = str(getattr(opts, "shape", "steady") or "steady")
        users, measure = max(1, int(opts.phase_users)), float(opts.phase_measure)
        self.plan = stage_plan(self.kind, users, measure, int(getattr(opts, "ramp_steps", 6) or 6),
                               float(getattr(opts, "spike_factor", 10.0) or 10.0))
        self.slo_p99_ms = getattr(opts, "slo_p99_ms", None)
        self.max_error_pct = getattr(opts, "max_error_pct", None)
        self.slot_s = series_slot_s(measure)

    @property
    def shaped(self) -> bool:
        return self.kind != "steady"

    def first_users(self, users: int) -> int:
        """The users of the primer's successor, the warm-up: the first stage's (a ramp's lowest step)."""
        return self.plan[0].users if self.plan else users

    def users_now(self, users: int) -> int:
        return self.plan[self.current].users if self.plan else users

    def planned_users(self, offset_s: float, users: int) -> int:
        """The users the plan wants `offset_s` into the window (a multi-process master drives them)."""
        return self.plan[stage_at(self.plan, offset_s)].users if self.plan else users

    def open(self, start: float) -> None:
        if self.plan:
            self.current = 0
            self.stage_times = {0: [start, math.inf]}

    def add(self, offset_s: float, bucket: int, failed: bool) -> None:
        slot = int(offset_s / self.slot_s)
        self.slots[slot][coarse_bucket(bucket)] += 1  # two significant digits: bounded memory for long soaks
        if failed:
            self.slot_failures[slot] += 1
        if self.plan:
            self.stage_hists[self.current][bucket] += 1
            if failed:
                self.stage_failures[self.current] += 1

    def switch(self, index: int, now: float) -> None:
        """Stage `index` is in effect from `now` on."""
        self.stage_times.setdefault(self.current, [now, math.inf])[1] = now
        self.current = index
        self.stage_times[index] = [now, math.inf]

    def advance(self, offset_s: float, now: float) -> bool:
        """Single process, on each tick: move to the stage planned for `offset_s`, judging the ramp step it
        leaves; False once the ramp stops (shape.stopped says why)."""
        want = stage_at(self.plan, offset_s) if self.plan else 0
        if want <= self.current:
            return True
        if self.kind == "ramp":
            self.stopped = self._judge(self.current)
            if self.stopped is not None:
                return False
        self.switch(want, now)  # stages shorter than a tick that never ran are left out, not judged
        return True

    def follow_at(self, start: float) -> list[tuple[float, int]]:
        """A worker's timetable: (unix time, stage index) of each planned switch after the first."""
        return [(start + s.start, i) for i, s in enumerate(self.plan) if i > 0]

    def _judge(self, index: int) -> str | None:
        hist = self.stage_hists[index]
        count = sum(hist.values())
        if count == 0:
            return f"step {index + 1} ({self.plan[index].users} users): no request completed"
        error_pct = 100.0 * self.stage_failures[index] / count
        return ramp_stop(self.plan[index], index, hist_percentile(hist, 99), error_pct,
                         self.slo_p99_ms, self.max_error_pct)

    def close(self, end: float) -> None:
        if self.current in self.stage_times:
            self.stage_times[self.current][1] = min(self.stage_times[self.current][1], end)

    def series(self, start: float, end: float) -> Series:
        """latency.json `series`: every slot of [start, end), empty ones included."""
        count = slot_count(end - start, self.slot_s)
        hists = [self.slots.get(i, Counter()) for i in range(count)]
        failures = [self.slot_failures[i] for i in range(count)]
        for i in (i for i in self.slots if i >= count):  # the window's last sliver: part of the last slot
            hists[-1] = hists[-1] + self.slots[i]
            failures[-1] += self.slot_failures[i]
        return {"slot_s": self.slot_s, "completed": [sum(h.values()) for h in hists], "failures": failures,
                "p50_ms": [hist_percentile(h, 50) for h in hists], "p99_ms": [hist_percentile(h, 99) for h in hists]}

    def shape(self) -> ShapeBlock | None:
        """latency.json `shape`: the stages reached, each with its own histogram; None for a steady window."""
        if not self.shaped:
            return None
        stages: list[StageStats] = []
        for i in sorted(self.stage_times):
            hist = self.stage_hists.get(i, Counter())
            begin, finish = self.stage_times[i]
            stages.append({"name": self.plan[i].name, "users": self.plan[i].users, "start": begin,
                           "end": finish if finish < math.inf else begin, "count": sum(hist.values()),
                           "failures": self.stage_failures[i],
                           "hist": {str(k): v for k, v in sorted(hist.items())}})
        block: ShapeBlock = {"kind": self.kind, "stages": stages}
        if self.kind == "ramp":
            block.update({"slo_p99_ms": self.slo_p99_ms, "max_error_pct": self.max_error_pct, "stopped": self.stopped})
        return block
