"""Saturation from a concurrency sweep: per stack, the level with the most throughput within a latency SLO.

Throughput alone keeps climbing past the point where latency is acceptable;
the useful number is the best level that still meets the SLO, and whether
the sweep went far enough to find it. Works on the aggregate (medians over
the ok repeats) and on the ranking's flags, both computed once per run.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.columns import SATURATION_COLUMNS
from analysis.flags import SATURATION_MAX_ERROR_PCT, SLO_P99_MS

NOTE_NO_LEVEL = "no level met the SLO"
NOTE_NOT_REACHED = "best level is the highest tested: saturation not reached"


def closed_model(agg: pd.DataFrame) -> pd.DataFrame:
    """The closed-model rows (open-model cells have an offered rate; their concurrency caps requests in flight)."""
    return agg[pd.to_numeric(agg["offered_rps"], errors="coerce").isna()]


def sweeps(agg: pd.DataFrame) -> pd.DataFrame:
    """Aggregate rows of the closed-model (stack, scenario) pairs measured at 2 or more concurrency levels."""
    closed = closed_model(agg)
    if closed.empty:
        return closed.reset_index(drop=True)
    levels = closed.groupby(["stack", "scenario"])["concurrency"].transform("nunique")
    return closed[levels >= 2].reset_index(drop=True)


def best_level(g: pd.DataFrame, slo_p99_ms: float, max_error_pct: float) -> pd.Series | None:
    """The level of one swept pair with the highest median rps within the SLO (ties: the lower one); None if none."""
    p99 = pd.to_numeric(g["p99_ms"], errors="coerce")
    err = pd.to_numeric(g["error_pct"], errors="coerce")
    within = g[(p99 <= slo_p99_ms) & (err < max_error_pct) & g["rps"].notna()]
    if within.empty:
        return None
    return within.sort_values(["rps", "concurrency"], ascending=[False, True], kind="stable").iloc[0]


def saturation(agg: pd.DataFrame, ranked: pd.DataFrame, slo_p99_ms: float = SLO_P99_MS,
               max_error_pct: float = SATURATION_MAX_ERROR_PCT) -> pd.DataFrame:
    """Per stack x scenario swept over 2+ concurrency levels: the best level within the SLO; SATURATION_COLUMNS.

    A level qualifies when its median p99_ms <= slo_p99_ms and its median error_pct < max_error_pct;
    the best is reported with its rps, p99_ms, error_pct and ranking flags (`ranked`: a
    generator-bound best level measures Locust, not the stack). `note` says when no level qualified
    (concurrency, rps, p99_ms are then empty) or when the best level is the highest tested, so the
    stack may go further. Open-model cells and pairs with a single level are left out.
    """
    swept = sweeps(agg)
    if swept.empty:
        return pd.DataFrame(columns=SATURATION_COLUMNS)
    flags = ranked.set_index(["stack", "scenario", "concurrency"])["flags"]
    rows = []
    for (stack, scenario), g in swept.groupby(["stack", "scenario"], sort=True):
        levels = sorted(int(c) for c in g["concurrency"].unique())
        r: dict[str, Any] = {"stack": stack, "scenario": scenario, "endpoint": g["endpoint"].iloc[0],
                             "levels": len(levels), "max_tested": levels[-1],
                             "slo_p99_ms": float(slo_p99_ms), "max_error_pct": float(max_error_pct)}
        best = best_level(g, slo_p99_ms, max_error_pct)
        if best is None:
            r.update(concurrency=None, rps=float("nan"), p99_ms=float("nan"), error_pct=float("nan"), flags="",
                     note=NOTE_NO_LEVEL)
        else:
            conc = int(best["concurrency"])
            r.update(concurrency=conc, rps=float(best["rps"]), p99_ms=float(best["p99_ms"]),
                     error_pct=float(best["error_pct"]), flags=flags.get((stack, scenario, conc), "") or "",
                     note=NOTE_NOT_REACHED if conc == levels[-1] else "")
        rows.append(r)
    out = pd.DataFrame(rows, columns=SATURATION_COLUMNS)
    for col in ("levels", "max_tested"):
        out[col] = out[col].astype(int)
    out["concurrency"] = pd.array(list(out["concurrency"]), dtype="Int64")
    return out
