"""What a ramp answers: the most it served, the knee (the last step within the SLO) and p99 at a load.

From the ramp's steps (stages.csv rows: users, rps, p99_ms, error_pct, in step order):
- capacity_rps: the highest step rate; the capacity step is that step.
- knee_users / knee_rps / knee_p99_ms: the highest-user step whose p99 <= slo_p99_ms and error share
  <= max_error_pct (an absent limit does not bind); NaN with a note when no step was within them, and a
  note that the knee is at or above the top when every step was.
- p99_at_<F>pct_ms: p99 interpolated linearly on the steps' (rps, p99) points, up to the capacity step,
  at F% of capacity_rps; NaN with the note "below the first step" when that rate is under the first step's.
Every row of the cell carries shape.stopped (why the ramp ended early) in its note.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from analysis.columns import Row
from analysis.scenario_rows import figure
from runformat.records import ShapeBlock

NAN = math.nan
FRACTIONS = (50, 80, 95)  # p99_at_<F>pct_ms


def within(step: Row, slo: float | None, max_error: float | None) -> bool:
    """A step the ramp would have carried on from: p99 and errors inside the limits that are set."""
    p99, errors = float(step["p99_ms"]), float(step["error_pct"])
    return ((slo is None or (not math.isnan(p99) and p99 <= slo))
            and (max_error is None or (not math.isnan(errors) and errors <= max_error)))


def p99_at(steps: Sequence[Row], rate: float) -> float | None:
    """p99 at `rate` on the steps' (rps, p99) line up to the highest rate; None below the first step."""
    points = sorted((float(s["rps"]), float(s["p99_ms"])) for s in steps
                    if not (math.isnan(float(s["rps"])) or math.isnan(float(s["p99_ms"]))))
    if not points or rate < float(steps[0]["rps"]) or rate < points[0][0]:
        return None
    xs, ys = zip(*points, strict=True)
    return float(np.interp(rate, xs, ys))


def ramp_figures(key: Row, steps: Sequence[Row], shape: ShapeBlock) -> list[Row]:
    """figures.csv rows of one ramp cell, from its steps in order (stages.csv rows) and its shape block."""
    slo, max_error = shape.get("slo_p99_ms"), shape.get("max_error_pct")
    rates = [float(s["rps"]) for s in steps]
    known = [r for r in rates if not math.isnan(r)]
    rows: list[Row] = []
    if not known:
        rows.append(figure(key, "capacity_rps", None, "req/s", "no step completed a request"))
    else:
        top = rates.index(max(known))
        rows.append(figure(key, "capacity_rps", rates[top], "req/s"))
        ok = [s for s in steps if within(s, slo, max_error)]
        knee = max(ok, key=lambda s: int(s["users"])) if ok else None
        note = None if knee is not None else "no step was within the SLO and error limit"
        if knee is not None and knee is steps[-1] and not shape.get("stopped"):
            note = "every step was within the limits: the knee is at or above the top step (raise --concurrency)"
        rows += [figure(key, "knee_users", knee["users"] if knee else None, "users", note),
                 figure(key, "knee_rps", knee["rps"] if knee else None, "req/s", note),
                 figure(key, "knee_p99_ms", knee["p99_ms"] if knee else None, "ms", note)]
        for pct in FRACTIONS:
            value = p99_at(steps[: top + 1], rates[top] * pct / 100)
            rows.append(figure(key, f"p99_at_{pct}pct_ms", value, "ms",
                               None if value is not None else "below the first step"))
    rows += [figure(key, "slo_p99_ms", slo, "ms", None if slo is not None else "no SLO set"),
             figure(key, "steps_run", len(steps), "count")]
    stopped = shape.get("stopped")
    if stopped:
        for row in rows:
            row["note"] = "; ".join(n for n in (row["note"], f"ramp stopped: {stopped}") if n)
    return rows
