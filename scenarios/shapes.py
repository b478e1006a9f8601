"""The shapes of a measured window, as pure data: which users run when, how long a series slot is, and when
a ramp stops. phases.py follows these plans; tests check them without Locust.

- steady / soak: one level (the cell's users) for the whole window; no stages.
- ramp: the cell's users c is the TOP of the ramp. Step k of n runs ceil(c / 2**(n-k)) users (at least 1;
  equal levels merged), each an equal share of the window. After each step, a p99 over --slo-p99-ms or an
  error share over --max-error-pct ends the ramp there: the knee is below.
- spike: c users for 30% of the window, factor x c for 20%, then c again for the last 50%.

Shape options (SHAPE_OPTIONS) belong to phases.py: a locustfile run without it (Locust's web UI) must not
be passed them.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runformat.latency import percentile_from_hist

SHAPES = ("steady", "ramp", "spike", "soak")
MAX_SLOTS = 600  # a series has at most about this many slots, whatever the window's length
# phases.py's shape options and whether each takes a value: dropped from a locustfile's arguments without it
SHAPE_OPTIONS = {"--shape": True, "--ramp-steps": True, "--slo-p99-ms": True, "--max-error-pct": True,
                 "--spike-factor": True}
# spike: (stage name, share of the window, users multiplied by the factor?)
SPIKE_STAGES = (("before", 0.3, False), ("spike", 0.2, True), ("after", 0.5, False))


@dataclass(frozen=True)
class StagePlan:
    """One stage of the measured window: its users, from `start` to `end` seconds after the window opens."""

    name: str
    users: int
    start: float
    end: float


def ramp_levels(top: int, steps: int) -> list[int]:
    """The users of each ramp step up to `top`, halving downwards; repeated levels (small tops) merged."""
    top, steps = max(1, int(top)), max(1, int(steps))
    levels = [max(1, math.ceil(top / 2 ** (steps - k))) for k in range(1, steps + 1)]
    return list(dict.fromkeys(levels))


def stage_plan(kind: str, users: int, measure_s: float, steps: int = 6, factor: float = 10.0) -> list[StagePlan]:
    """The stages of a `kind` window of `measure_s` seconds at `users` (a ramp's top); [] for steady and soak."""
    if kind == "ramp":
        levels = ramp_levels(users, steps)
        step_s = measure_s / len(levels)
        return [StagePlan(f"step-{i + 1}", u, i * step_s, (i + 1) * step_s) for i, u in enumerate(levels)]
    if kind == "spike":
        plans, at = [], 0.0
        for name, share, spiked in SPIKE_STAGES:
            n = max(1, round(users * factor)) if spiked else max(1, int(users))
            plans.append(StagePlan(name, n, at, at + share * measure_s))
            at += share * measure_s
        return plans
    return []


def stage_at(plan: list[StagePlan], offset_s: float) -> int:
    """The index of the stage `offset_s` seconds into the window falls in (the last one past the end)."""
    return next((i for i, s in enumerate(plan) if offset_s < s.end), len(plan) - 1)


def series_slot_s(measure_s: float) -> float:
    """A series slot: 1 s, longer for windows over MAX_SLOTS seconds (a soak of hours stays ~600 slots)."""
    return max(1.0, float(math.ceil(measure_s / MAX_SLOTS)))


def slot_count(window_s: float, slot_s: float) -> int:
    """Slots of a series over a window: whole slots, a last one of under a tenth folded into the one before
    (a window closed on a tick runs a few ms past its planned length)."""
    return max(1, math.ceil(round(window_s / slot_s - 0.1, 6)))


def coarse_bucket(bucket: int) -> int:
    """A 10 us bucket kept to two significant digits (exact under 1 ms): a series slot's histogram then has a
    few hundred keys at most, whatever its latencies, so an hour-long soak's ~600 slots stay small in
    Locust's memory; a slot's p50 / p99 is a trend line, the stages keep exact histograms."""
    if bucket < 100:
        return bucket
    step: int = 10 ** (int(math.log10(bucket)) - 1)
    return bucket // step * step


def hist_percentile(hist: Mapping[int, int], q: float) -> float | None:
    """The q-th percentile (0-100) of a 10 us bucket histogram, in ms (runformat.latency's nearest rank, the
    bucket's lower edge); None if empty (latency.json's null)."""
    value = percentile_from_hist(hist, q / 100.0)
    return None if math.isnan(value) else round(value, 2)


def ramp_stop(stage: StagePlan, index: int, p99_ms: float | None, error_pct: float,
              slo_p99_ms: float | None, max_error_pct: float | None) -> str | None:
    """Why the ramp ends after this step (one line for shape.stopped), or None to go on."""
    where = f"step {index + 1} ({stage.users} users)"
    if slo_p99_ms is not None and p99_ms is not None and p99_ms > slo_p99_ms:
        return f"{where}: p99 {p99_ms:.1f} ms > {slo_p99_ms:g} ms"
    if max_error_pct is not None and error_pct > max_error_pct:
        return f"{where}: errors {error_pct:.1f}% > {max_error_pct:g}%"
    return None


MIN_STAGE_S = 2.0  # Locust moves users on ticks about a second apart: a shorter stage may be skipped


def option(args: Sequence[str], name: str, default: str) -> str:
    """The value of `--name VALUE` or `--name=VALUE` in a locustfile's arguments (the last one given)."""
    value = default
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def stage_warning(args: Sequence[str], users: int, measure_s: float) -> str | None:
    """One line when a shaped scenario's shortest stage at this window is under MIN_STAGE_S: the window it
    needs, so a ramp's steps or a spike are not skipped between Locust's ticks; None when it is long enough."""
    kind = option(args, "--shape", "steady")
    plan = stage_plan(kind, users, measure_s, int(option(args, "--ramp-steps", "6")),
                      float(option(args, "--spike-factor", "10")))
    if not plan:
        return None
    shortest = min(s.end - s.start for s in plan)
    if shortest >= MIN_STAGE_S:
        return None
    needed = math.ceil(MIN_STAGE_S * measure_s / shortest)
    return (f"{kind}: its shortest stage lasts {shortest:.1f} s of a {measure_s:g} s window; Locust moves users "
            f"about once a second, so give --duration {needed} or more")


def without_shape_options(args: list[str]) -> list[str]:
    """`args` without phases.py's shape options (and their values): what a locustfile alone accepts."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in SHAPE_OPTIONS:
            skip = SHAPE_OPTIONS[name] and "=" not in arg
            continue
        kept.append(arg)
    return kept
