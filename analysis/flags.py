"""Every threshold analysis judges a number by, and the rule of every flag in plain words.

A flag marks a number that may measure something other than the server (the
load generator's limit, a stall, starved users, a busy machine), or measure
it too unsteadily to rank on. Flagged rows are never dropped: they carry the
flag, and the report prints FLAG_RULES beside them. The thresholds live here
only, so the rules the report prints are the rules the code applies.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from analysis.columns import Record

GENERATOR_BOUND_PCT = 90.0  # Locust's CPU share at which its own limit, not the server's, sets the rate
# Server CPU share of its own CPUs under which (with Locust under GENERATOR_BOUND_PCT) neither side set a
# closed-model cell's rate. Measured 2026-11-23 on the 2-core AMD EPYC VM (`make bench-noise`, 2 stacks x 3
# repeats, json, 32 users): with no other load the server-bound flask-gunicorn-gthread ran its server at 98-100%
# and the Locust-bound fastapi-uvicorn at 75-79% with Locust at 97-99%: 0 of 6 cells unsaturated. A burner taking
# 20% of the server's core dropped the former to 73-79% (rps -23%), 10% of Locust's core put the latter at server
# 67-71% / Locust 86-89% (rps -13%): 6 of 6 flagged.
UNSATURATED_SERVER_PCT = 80.0
ERRORS_PCT = 1.0
STEAL_PCT = 10.0  # hypervisor steal, share of all the machine's CPU time
# CPU of other processes on the machine, share of all its CPU time, at which a cell is noisy. Measured
# 2026-11-23 (`make bench-noise`: a duty-cycle burner at 0/5/10/20/40% of one core on the server's CPU or on
# Locust's; fastapi-uvicorn and flask-gunicorn-gthread, json, 32 users, 3 interleaved repeats; rps change paired
# with the same repeat's no-burner run, whose own noise was about +-13%): taken from the CPU a stack was bound by,
# 5% of a core moved median rps by -4.7% and -11.7%, 10% by -13%, 20% by -8% to -23%, 40% by -38% to -42%. The
# smallest other load recorded with a move beyond the gate's 5% was 3.9% (median; 3.5-5.7% per cell), inside what
# the quiet cells recorded (0.5-5.0%): no threshold can sit below a quiet machine, so it sits at the top of that
# range. It flags 11 of 12 cells with 10% of a core taken and 1 of 6 quiet ones; the old 25% was reached only
# with 40% of a core taken, when rps had already fallen by 38-42%.
OTHER_LOAD_PCT = 5.0
LITTLES_LOW, LITTLES_HIGH = 0.8, 1.25  # concurrency / (rps x mean latency) outside this: the numbers disagree
NOISY_INTERVAL_FRACTION = 0.20  # a 95% interval wider than this share of its median is noisy
TIE_FRACTION = 0.20  # without intervals, stacks closer than this (rps a <= b x 1.2) are not separable
STALL_MIN_S = 0.5  # a gap in completions this long is a stall, however slow the stack...
STALL_P50_FACTOR = 10.0  # ...or this many median latencies, if longer: a slow stack's gaps are longer
SLO_P99_MS = 100.0  # saturation: the best level keeps its median p99 at or under this
SATURATION_MAX_ERROR_PCT = 1.0  # ...and its median error rate under this

# flag name (as in the ranking's `flags`, in this order: most serious first) -> its rule, with its threshold
FLAG_RULES = {
    "stalled": f"no request completed for {STALL_MIN_S:g} s or more ({STALL_P50_FACTOR:g}× the median latency, "
               "if that is longer) while users were waiting, in some repeat: the server stalled; its latency "
               "percentiles only count requests that completed.",
    "generator-bound": f"Locust used {GENERATOR_BOUND_PCT:g}% or more of its CPUs in some repeat: the rate is "
                       "the load generator's ceiling, the stack may be faster than shown.",
    "unsaturated": f"closed model: neither side was saturated in some repeat: the server used less than "
                   f"{UNSATURATED_SERVER_PCT:g}% of its CPUs and Locust less than {GENERATOR_BOUND_PCT:g}% of its, "
                   "so something else set the rate (on this machine: other processes taking CPU time; also waits "
                   "inside the app, such as /io or a database, or a fixed number of users over the latency): "
                   "req/s is not the stack's capacity.",
    "starved": "some simulated users completed no request in the measured window (or never showed up): "
               "the server left connections waiting, without errors, so rps and latency describe only the users "
               "it served.",
    "littles-off": f"Little's law disagrees: concurrency / (req/s x mean latency) outside "
                   f"[{LITTLES_LOW:g}, {LITTLES_HIGH:g}] in some repeat; in a closed model with no think time it is "
                   "about 1, so users spent their time somewhere the latency does not show (queued, starved, "
                   "or inside the load generator).",
    "errors": f"{ERRORS_PCT:g}% or more of the requests failed in some repeat.",
    "noisy": f"the 95% interval of req/s or of CPU per request is wider than {NOISY_INTERVAL_FRACTION:.0%} of its "
             f"median, or the median steal was {STEAL_PCT:g}% or more, or other processes used {OTHER_LOAD_PCT:g}% "
             "or more of the machine's CPU: the number is not steady enough to rank on.",
    "steal": f"the hypervisor took {STEAL_PCT:g}% or more of the machine's CPU time in some repeat.",
}


def missing(value: Any) -> bool:
    """None, NaN or pandas' <NA>: a number or flag that could not be decided."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and <NA> are not equal to themselves
    except TypeError:  # <NA> != <NA> is <NA>, whose truth value is ambiguous
        return True


def decide(value: float | None, test: Callable[[float], bool]) -> bool | None:
    """A flag decided on one number; None (<NA>) when the number is missing."""
    if value is None or missing(value):
        return None
    return bool(test(float(value)))


def generator_bound(generator_cpu_pct: float) -> bool | None:
    return decide(generator_cpu_pct, lambda v: v >= GENERATOR_BOUND_PCT)


def unsaturated(server_cpu_pct: float, generator_cpu_pct: float, open_model: bool) -> bool | None:
    """Closed model: neither the server (under UNSATURATED_SERVER_PCT of its CPUs) nor Locust (under
    GENERATOR_BOUND_PCT) was saturated. False as soon as one side was; None (<NA>) for an open-model
    cell (its rate is the schedule's, by design) or when a side's share is missing and the other's is low."""
    if open_model:
        return None
    server_busy = decide(server_cpu_pct, lambda v: v >= UNSATURATED_SERVER_PCT)
    generator_busy = generator_bound(generator_cpu_pct)
    if server_busy or generator_busy:
        return False
    if server_busy is None or generator_busy is None:
        return None
    return True


def littles_off(ratio: float) -> bool | None:
    return decide(ratio, lambda v: not LITTLES_LOW <= v <= LITTLES_HIGH)


def cell_noisy(steal_pct: float, other_load_pct: float) -> bool | None:
    """One cell: heavy steal or a busy machine (the interval test needs repeats: see aggregate_noisy)."""
    if decide(other_load_pct, lambda v: v >= OTHER_LOAD_PCT):
        return True
    return decide(steal_pct, lambda v: v >= STEAL_PCT)


def stall_threshold_s(p50_ms: float, offered_rps: float = math.nan) -> float:
    """The gap in completions that counts as a stall: STALL_MIN_S, STALL_P50_FACTOR median latencies,
    or (open model) STALL_P50_FACTOR arrival intervals, whichever is longest: a stack that answers in
    200 ms, or a schedule of 2 requests a second, has quiet slots without stalling."""
    candidates = [STALL_MIN_S]
    if not missing(p50_ms):
        candidates.append(STALL_P50_FACTOR * p50_ms / 1000.0)
    if not missing(offered_rps) and offered_rps > 0:
        candidates.append(STALL_P50_FACTOR / offered_rps)
    return max(candidates)


def stalled(max_gap_s: float, p50_ms: float, offered_rps: float = math.nan) -> bool | None:
    """The server stalled: the longest gap in completions reached the stall threshold; None without a timeline."""
    return decide(max_gap_s, lambda gap: gap >= stall_threshold_s(p50_ms, offered_rps))


def wide(lo: float, hi: float, median: float) -> bool:
    """An interval wider than NOISY_INTERVAL_FRACTION of its median (False when it cannot be told)."""
    if any(missing(v) for v in (lo, hi, median)) or median == 0:
        return False
    return (hi - lo) > NOISY_INTERVAL_FRACTION * abs(median)


def aggregate_noisy(intervals_wide: bool, steal_pct: float, other_load_pct: float) -> bool | None:
    """Over repeats: a wide interval or a busy machine is noisy; else heavy median steal; <NA> if unknowable."""
    if intervals_wide or decide(other_load_pct, lambda v: v >= OTHER_LOAD_PCT):
        return True
    return decide(steal_pct, lambda v: v >= STEAL_PCT)


def ranking_flags(row: Record) -> str:
    """The FLAG_RULES names that apply to an aggregate row, in FLAG_RULES order, comma-separated."""
    def true(col: str) -> bool:
        return not missing(row.get(col)) and bool(row[col])

    def at_least(col: str, threshold: float) -> bool:
        return not missing(row.get(col)) and bool(row[col] >= threshold)

    raised = {
        "stalled": true("stalled"),
        "generator-bound": at_least("generator_cpu_pct_max", GENERATOR_BOUND_PCT) or true("generator_bound"),
        "unsaturated": true("unsaturated"),
        "starved": true("starved"),
        "littles-off": true("littles_off"),
        "errors": at_least("error_pct_max", ERRORS_PCT),
        "noisy": true("noisy"),
        "steal": at_least("steal_pct_max", STEAL_PCT),
    }
    return ",".join(name for name in FLAG_RULES if raised[name])
