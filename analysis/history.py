"""A metric followed across runs: each bench's medians appended to history.jsonl, and the step changes in them.

A run's entry is taken from its Analysis (the aggregate's medians over ok
repeats, never recomputed), so history and report cannot disagree. Steps are
found by an existing change-point library, ruptures' PELT, not by a
home-made rule; this module only scales each series and picks the penalty.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import ruptures  # type: ignore[import-untyped]  # ships no type hints

from analysis.analyze import Analysis
from analysis.columns import Record
from analysis.flags import missing, ranking_flags
from runformat.history import HISTORY_FILE, HISTORY_VERSION, METRICS, HistoryCell, HistoryEntry, append_entry

SERIES_KEYS = ["stack", "scenario", "endpoint", "concurrency"]  # one line of a chart, one series to search
RUN_COLUMNS = ["run", "run_id", "time", "git_sha", "git_dirty", "commit", "host"]
FRAME_COLUMNS = RUN_COLUMNS + SERIES_KEYS + ["n", *METRICS, "flags"]
STEP_COLUMNS = ["metric", *SERIES_KEYS, "run", "run_id", "commit", "before", "after", "change_pct"]
# metric -> (what it is, with its unit; how its numbers are printed; whether higher is better)
METRIC_INFO = {
    "rps": ("throughput, req/s", ",.0f", True),
    "cpu_us_per_req": ("server CPU time per request, µs", ",.0f", False),
    "p99_ms": ("p99 latency, ms", ",.2f", False),
    "error_pct": ("errors, % of requests", ".2f", False),
}

MIN_SEGMENT = 2  # runs on each side of a step: one disturbed run is never a level of its own
PENALTY_PER_LOG_N = 4.0  # PELT penalty, x ln(runs), on the series in units of its run-to-run noise
NOISE_FLOOR = 0.01  # noise is taken as at least 1% of the series' largest value: steadier is not believable
STEP_METHOD = (f"PELT (the ruptures library) on each series with the L1 cost (segment medians, so one disturbed "
               f"run is not a step), the series scaled by its run-to-run noise, penalty {PENALTY_PER_LOG_N:g} x "
               f"ln(runs), at least {MIN_SEGMENT} runs per level; before and after are the medians of the runs on "
               "each side, up to the neighbouring steps")


def _number(value: Any) -> float | None:
    return None if missing(value) else float(value)


def format_value(metric: str, value: float) -> str:
    """A metric's number as the tables print it ('–' when unknown)."""
    return "–" if missing(value) else format(value, METRIC_INFO[metric][1])


def describe_step(row: Record) -> str:
    """'+12.3% (worse)': a step's relative change and which way is better for its metric."""
    change = row["change_pct"]
    if missing(change):
        return "from 0"
    higher_better = METRIC_INFO[str(row["metric"])][2]
    better = (change > 0) == higher_better
    return f"{change:+.1f}% ({'better' if better else 'worse'})"


def history_cell(row: Record) -> HistoryCell:
    """One aggregate row (medians over ok repeats) as a history cell, with its ranking flags."""
    return {
        "stack": str(row["stack"]), "scenario": str(row["scenario"]), "endpoint": str(row["endpoint"] or ""),
        "concurrency": int(row["concurrency"]), "n": int(row["n"]),
        "rps": _number(row["rps"]), "cpu_us_per_req": _number(row["cpu_us_per_req"]),
        "p99_ms": _number(row["p99_ms"]), "error_pct": _number(row["error_pct"]),
        "flags": [f for f in ranking_flags(row).split(",") if f],
    }


def history_entry(analysis: Analysis) -> HistoryEntry:
    """A run's line of history: its per-cell medians, commit, machine and package versions, from run.json."""
    meta = analysis.meta
    git, host = meta["git"], meta["host"]
    return {
        "history_version": HISTORY_VERSION,
        "run_id": meta["run_id"] or analysis.path.name,
        "time": float(meta["started_at"]),
        "git_sha": git.get("sha"), "git_dirty": git.get("dirty"),
        "host": {"cpu_model": host.get("cpu_model"), "cpu_count": host.get("cpu_count"),
                 "python": host.get("python")},
        "packages": dict(meta["packages"]),
        "cells": [history_cell(r) for r in analysis.aggregate.to_dict("records")],
    }


def record_history(analysis: Analysis, history_path: Path | None = None) -> Path:
    """Append the run to history_path (default: history.jsonl beside the run folder, i.e. results/)."""
    path = Path(history_path) if history_path is not None else analysis.path.parent / HISTORY_FILE
    return append_entry(path, history_entry(analysis))


def commit_label(sha: str | None, dirty: bool | None, run_id: str) -> str:
    """What a run is called on a chart: its short commit, '+' if the checkout had changes; else its run id."""
    return f"{sha[:8]}{'+' if dirty else ''}" if sha else run_id


def host_label(entry: HistoryEntry) -> str:
    """'Intel Xeon x2, Python 3.11.7': the machine a run measured, to see when history changed machines."""
    host = entry["host"]
    return f"{host['cpu_model'] or 'unknown CPU'} x{host['cpu_count'] or '?'}, Python {host['python'] or '?'}"


def history_frame(entries: Iterable[HistoryEntry]) -> pd.DataFrame:
    """One row per run x cell (FRAME_COLUMNS), runs numbered in time order.

    A run appended twice (interrupted, then finished with --resume) counts once, with its last entry.
    """
    ordered = sorted(entries, key=lambda e: e["time"])  # stable: equal times keep file order
    latest = {e["run_id"]: e for e in ordered}  # keeps each run's first place and its last entry
    rows = []
    for run, entry in enumerate(latest.values()):
        head = {"run": run, "run_id": entry["run_id"], "time": entry["time"], "git_sha": entry["git_sha"],
                "git_dirty": entry["git_dirty"],
                "commit": commit_label(entry["git_sha"], entry["git_dirty"], entry["run_id"]),
                "host": host_label(entry)}
        for cell in entry["cells"]:
            rows.append({**head, **cell, "flags": ",".join(cell["flags"])})
    frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
    for metric in METRICS:
        frame[metric] = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    return frame


def noise_scale(values: npt.ArrayLike) -> float:
    """Run-to-run noise of a series: the MAD of successive differences / (0.6745 x sqrt 2), a standard
    deviation that a step (one large difference) barely moves; at least NOISE_FLOOR of the largest value."""
    x = np.asarray(values, dtype=np.float64)
    diffs = np.diff(x)
    mad = float(np.median(np.abs(diffs - np.median(diffs)))) if len(diffs) else 0.0
    return max(mad / (0.6745 * math.sqrt(2)), NOISE_FLOOR * float(np.max(np.abs(x), initial=0.0)))


def detect_steps(values: npt.ArrayLike) -> list[int]:
    """Indexes where a new level starts, found by PELT (ruptures) with the L1 cost.

    The L1 cost fits each segment's median, so one outlying run does not make a step; the series is
    divided by noise_scale and the penalty is PENALTY_PER_LOG_N x ln(len). In simulation (8 to 60 runs,
    normal noise) under 0.5% of flat series got a false step (a history of many series should not cry
    wolf), and steps of 5 noise standard deviations were found in 80% (8 runs) to 100% (30 runs) of
    series. Fewer than 2 x MIN_SEGMENT runs: no steps.
    """
    x = np.asarray(values, dtype=np.float64)
    scale = noise_scale(x)
    if len(x) < 2 * MIN_SEGMENT or scale == 0:
        return []
    algo = ruptures.Pelt(model="l1", min_size=MIN_SEGMENT, jump=1).fit((x / scale).reshape(-1, 1))
    return [int(b) for b in algo.predict(pen=PENALTY_PER_LOG_N * math.log(len(x))) if b < len(x)]


@dataclass(frozen=True)
class Step:
    """A step change in one series: the median level before and after the first run of the new level."""

    at: int  # position in the series of the first run of the new level
    before: float  # median of the runs since the previous step
    after: float  # median of the runs up to the next step


def steps_in(values: npt.ArrayLike) -> list[Step]:
    """The steps of a series with the median level of the segment on each side."""
    x = np.asarray(values, dtype=np.float64)
    cuts = detect_steps(x)
    edges = [0, *cuts, len(x)]
    return [Step(at=cut, before=float(np.median(x[edges[i]:cut])), after=float(np.median(x[cut:edges[i + 2]])))
            for i, cut in enumerate(cuts)]


def step_changes(frame: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Every step in every series (stack x scenario x endpoint x concurrency) of each metric: STEP_COLUMNS.

    Runs where the metric is unknown are left out of its series; `run`, `run_id` and `commit` name the
    first run of the new level. change_pct = after / before - 1, in percent (NaN when before is 0).
    """
    rows = []
    for metric in metrics:
        known = frame.dropna(subset=[metric])
        for key, series in known.groupby(SERIES_KEYS, sort=True):
            series = series.sort_values("run", kind="stable")
            for step in steps_in(series[metric].tolist()):
                first = series.iloc[step.at]
                rows.append({"metric": metric, **dict(zip(SERIES_KEYS, key, strict=True)),
                             "run": int(first["run"]), "run_id": first["run_id"], "commit": first["commit"],
                             "before": step.before, "after": step.after,
                             "change_pct": (step.after / step.before - 1) * 100 if step.before else math.nan})
    return pd.DataFrame(rows, columns=STEP_COLUMNS)


def matches(stack: str, name: str) -> bool:
    """A stack id named by itself or by a dash-separated part of it: a framework (`django`) or server (`uwsgi`)."""
    return f"-{name}-" in f"-{stack}-"


def filter_stacks(frame: pd.DataFrame, names: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """The rows of the stacks named (all if none), and the names that matched nothing."""
    if not names:
        return frame, []
    present = set(frame["stack"].astype(str))
    unmatched = [n for n in names if not any(matches(s, n) for s in present)]
    keep = frame["stack"].astype(str).map(lambda s: any(matches(s, n) for n in names))
    return frame[keep].reset_index(drop=True), unmatched
