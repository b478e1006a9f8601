"""What a spike answers: latency before, during and after a sudden jump in users, errors, and recovery.

- before_p99_ms, spike_p99_ms, after_p99_ms: each stage's own histogram (stages.csv).
- spike_errors, spike_error_pct: failures of the spike stage, and their share of its requests.
- recovery_s: from the spike stage's end to the start of the first series slot whose p99 is at most
  RECOVERED x before_p99_ms, the slot after it too (one good slot is not yet back). Only slots that start
  at or after the spike's end count (a slot straddling it is still the spike). NaN with the note
  "not back within the window" when no such pair of slots exists.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from analysis.columns import Row
from analysis.scenario_rows import figure

RECOVERED = 1.5  # a slot's p99 within 1.5 x the p99 before the spike is "back"
STAGES = ("before", "spike", "after")


def good(p99: float, limit: float) -> bool:
    return not math.isnan(p99) and p99 <= limit


def recovery_s(slots: Sequence[Row], spike_end_s: float, before_p99: float) -> float | None:
    """Seconds from the spike's end to the first of two consecutive good slots; None if never back."""
    if math.isnan(before_p99):
        return None
    limit = RECOVERED * before_p99
    after = [s for s in slots if float(s["t_s"]) >= spike_end_s - 1e-9]
    for first, second in zip(after, after[1:], strict=False):
        if good(float(first["p99_ms"]), limit) and good(float(second["p99_ms"]), limit):
            return max(0.0, float(first["t_s"]) - spike_end_s)
    return None


def spike_figures(key: Row, stages: Sequence[Row], slots: Sequence[Row]) -> list[Row]:
    """figures.csv rows of one spike cell, from its stages (stages.csv rows) and series slots (series.csv)."""
    named = {str(s["stage"]): s for s in stages}
    missing = [n for n in STAGES if n not in named]
    rows = [figure(key, f"{n}_p99_ms", named[n]["p99_ms"] if n in named else None, "ms",
                   None if n in named else f"no {n} stage recorded") for n in STAGES]
    spike = named.get("spike")
    if spike is None:
        note = f"no {', '.join(missing)} stage recorded"
        return rows + [figure(key, "spike_errors", None, "count", note),
                       figure(key, "spike_error_pct", None, "%", note),
                       figure(key, "recovery_s", None, "s", note)]
    spike_end = float(spike["start_s"]) + float(spike["duration_s"])
    before = float(named["before"]["p99_ms"]) if "before" in named else math.nan
    back = recovery_s(slots, spike_end, before)
    return rows + [figure(key, "spike_errors", spike["errors"], "count"),
                   figure(key, "spike_error_pct", spike["error_pct"], "%"),
                   figure(key, "recovery_s", back, "s", None if back is not None else "not back within the window")]
