"""Turn a run folder into one tidy row per cell, and rank stacks from it.

All numbers are derived from the raw files of results/README.md only, over
the measured window [phases.measure, phases.end] of each cell, so they can
be recomputed at any time. summary.csv is this table written to disk.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from analysis.errors import RunDirError
from analysis.load import Cell, Run, load_run

BUCKET_MS = 0.01

COLUMNS = [
    "stack", "framework", "server", "worker", "interface",
    "scenario", "endpoint", "concurrency", "repeat", "status", "reason",
    "requests", "errors", "error_pct", "duration_s", "rps",
    "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms",
    "server_cpu_s", "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct", "steal_pct",
]
METRICS = COLUMNS[COLUMNS.index("requests"):]
INT_COLUMNS = ["concurrency", "repeat", "requests", "errors"]
TEXT_COLUMNS = ["stack", "framework", "server", "worker", "interface", "scenario", "endpoint", "status", "reason"]

RANK_COLUMNS = ["scenario", "concurrency", "rank", "stack", "rps", "rel_rps", "p99_ms",
                "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct", "flags"]

# Thresholds of the ranking flags: past these a cell measures something other than the server.
GENERATOR_BOUND_PCT = 90.0
ERRORS_PCT = 1.0
STEAL_PCT = 10.0

NAN = float("nan")


# -- histograms -------------------------------------------------------------

def merge_hists(hists: Iterable[Mapping[Any, Any]]) -> dict[int, int]:
    """Add histograms bucket by bucket (JSON keys are strings; buckets are ints)."""
    merged: dict[int, int] = {}
    for hist in hists:
        for key, count in hist.items():
            k = int(key)
            merged[k] = merged.get(k, 0) + int(count)
    return merged


def _bucket_value_ms(key: int) -> float:
    # key / 100 rather than key * 0.01: gives the float closest to the exact decimal (412 -> 4.12).
    return key / 100


def percentile_from_hist(hist: Mapping[int, int], q: float) -> float:
    """Nearest-rank percentile of a 10 us histogram, in ms; q is a fraction (0.99 = p99).

    Returns the *lower edge* of the bucket holding the ceil(q*N)-th smallest
    response time, so the true value lies in [result, result + 0.01) ms. This
    matches Locust's own habit of truncating. NaN for an empty histogram.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be a fraction in [0, 1], got {q}")
    items = sorted((int(k), int(v)) for k, v in hist.items() if int(v) > 0)
    total = sum(v for _, v in items)
    if total == 0:
        return NAN
    # round() absorbs float noise such as 0.07 * 100 = 7.000000000000001 (rank 7, not 8).
    rank = max(1, math.ceil(round(q * total, 6)))
    seen = 0
    for key, count in items:
        seen += count
        if seen >= rank:
            return _bucket_value_ms(key)
    return _bucket_value_ms(items[-1][0])  # unreachable: seen reaches total >= rank


def mean_from_hist(hist: Mapping[int, int]) -> float:
    """Mean response time in ms, taking each bucket at its lower edge like percentile_from_hist.

    So it may read up to 0.01 ms low; it never mixes conventions with the percentiles.
    NaN for an empty histogram.
    """
    total = sum(int(v) for v in hist.values())
    if total == 0:
        return NAN
    return sum(int(k) * int(v) for k, v in hist.items()) / total / 100


# -- samples ----------------------------------------------------------------

def _interp_delta(samples: pd.DataFrame | None, column: str, start: float, end: float) -> float:
    """Growth of a cumulative counter over [start, end], linearly interpolated between samples.

    NaN when the samples do not cover the window: numpy.interp would clamp to the
    edge values and silently under-count.
    """
    if samples is None or column not in samples.columns:
        return NAN
    s = samples[["t", column]].dropna()
    if len(s) < 2 or start < s["t"].iloc[0] or end > s["t"].iloc[-1]:
        return NAN
    t = s["t"].to_numpy(dtype=float)
    v = s[column].to_numpy(dtype=float)
    a, b = np.interp([start, end], t, v)
    return float(b - a)


def _window_max(samples: pd.DataFrame | None, column: str, start: float, end: float) -> float:
    """Largest sample inside [start, end]; the sample nearest the window's middle if none falls inside."""
    if samples is None or column not in samples.columns:
        return NAN
    s = samples[["t", column]].dropna()
    if s.empty:
        return NAN
    inside = s[(s["t"] >= start) & (s["t"] <= end)]
    if not inside.empty:
        return float(inside[column].max())
    middle = (start + end) / 2
    return float(s.loc[(s["t"] - middle).abs().idxmin(), column])


# -- one cell ---------------------------------------------------------------

def _window(cell: Cell) -> tuple[float, float] | None:
    """[measure, end] from phases.json; latency.json's copy of the window if phases.json is missing."""
    phases = cell.phases or {}
    if phases.get("measure") is not None and phases.get("end") is not None:
        return float(phases["measure"]), float(phases["end"])
    window = (cell.latency or {}).get("window")
    if window and len(window) == 2 and None not in window:
        return float(window[0]), float(window[1])
    return None


def _ratio(num: float, den: float, scale: float = 1.0) -> float:
    if den == 0 or math.isnan(num) or math.isnan(den):
        return NAN
    return scale * num / den


def cell_metrics(cell: Cell, cpu_count: int | None, default_loadgen_cpus: list[int] | None = None) -> dict[str, Any]:
    """The METRICS of one ok cell; NaN where an input file is missing."""
    out: dict[str, Any] = {m: NAN for m in METRICS}
    out["requests"] = out["errors"] = None
    window = _window(cell)
    if window is None:
        return out
    start, end = window
    duration = end - start
    out["duration_s"] = duration

    if cell.latency is not None:
        names = (cell.latency.get("requests") or {}).values()
        requests = sum(int(r.get("count", 0)) for r in names)  # count includes failures
        errors = sum(int(r.get("failures", 0)) for r in names)
        hist = merge_hists(r.get("hist") or {} for r in names)
        out.update(
            requests=requests,
            errors=errors,
            error_pct=_ratio(errors, requests, 100.0),
            rps=_ratio(requests, duration),
            mean_ms=mean_from_hist(hist),
            p50_ms=percentile_from_hist(hist, 0.50),
            p90_ms=percentile_from_hist(hist, 0.90),
            p99_ms=percentile_from_hist(hist, 0.99),
            p999_ms=percentile_from_hist(hist, 0.999),
        )

    samples = cell.samples
    server_cpu = _interp_delta(samples, "server_cpu_s", start, end)
    out["server_cpu_s"] = server_cpu
    if out["requests"] is not None:
        out["cpu_us_per_req"] = _ratio(server_cpu, out["requests"], 1e6)
    out["server_rss_mb"] = _window_max(samples, "server_rss_bytes", start, end) / 2**20

    loadgen_cpus = cell.meta.get("loadgen_cpus") or default_loadgen_cpus or []
    out["generator_cpu_pct"] = _ratio(_interp_delta(samples, "gen_cpu_s", start, end), duration * len(loadgen_cpus), 100.0)
    out["steal_pct"] = _ratio(_interp_delta(samples, "steal_s", start, end), duration * (cpu_count or 0), 100.0)
    return out


def _cell_row(cell: Cell, run: Run) -> dict[str, Any]:
    meta = cell.meta
    stack_id = cell.stack
    spec = run.stacks.get(stack_id) or {}
    status = meta.get("status") or "failed"
    row: dict[str, Any] = {
        "stack": stack_id,
        "framework": spec.get("framework"),
        "server": spec.get("server"),
        "worker": spec.get("worker"),
        "interface": spec.get("interface"),
        "scenario": meta.get("scenario"),
        "endpoint": meta.get("endpoint"),
        "concurrency": meta.get("concurrency"),
        "repeat": meta.get("repeat"),
        "status": status,
        "reason": meta.get("reason"),
    }
    if status == "ok":
        settings = run.meta.get("settings") or {}
        host = run.meta.get("host") or {}
        row.update(cell_metrics(cell, host.get("cpu_count"), settings.get("loadgen_cpus")))
    else:
        # A failed cell's partial numbers would be read as results; keep only why it failed.
        row.update({m: None if m in ("requests", "errors") else NAN for m in METRICS})
    return row


def tidy_from_run(run: Run) -> pd.DataFrame:
    """tidy_frame for an already loaded Run (lets the report load the folder once)."""
    if not run.cells:
        raise RunDirError(f"{run.path}: no finished cells yet; wait for `stackmark bench` to finish a cell "
                          "or check the stacks' start/verify outcome in stacks/*/stack.json")
    df = pd.DataFrame([_cell_row(c, run) for c in run.cells], columns=COLUMNS)
    for col in INT_COLUMNS:
        df[col] = pd.array([None if pd.isna(v) else int(v) for v in df[col]], dtype="Int64")
    for col in METRICS:
        if col not in INT_COLUMNS:
            df[col] = df[col].astype(float)
    for col in TEXT_COLUMNS:
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df.sort_values(["stack", "scenario", "concurrency", "repeat"], kind="stable").reset_index(drop=True)


def tidy_frame(run_dir: Path) -> pd.DataFrame:
    """One row per finished cell, columns COLUMNS; failed cells keep status/reason and NaN metrics."""
    return tidy_from_run(load_run(Path(run_dir)))


# -- summary.csv --------------------------------------------------------------

def write_atomic(path: Path, write: Callable[[IO[Any]], object], binary: bool = False) -> Path:
    """Create path via a temp file in the same folder and os.replace: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; derived files are meant to be shared
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_summary(df: pd.DataFrame, run_dir: Path) -> Path:
    """Write df as run_dir/summary.csv atomically, with exactly COLUMNS in that order."""
    return write_atomic(Path(run_dir) / "summary.csv", lambda f: df[COLUMNS].to_csv(f, index=False))


def write_summary(run_dir: Path) -> Path:
    """(Re)build run_dir/summary.csv from the raw files and return its path."""
    return save_summary(tidy_frame(run_dir), run_dir)


# -- ranking ------------------------------------------------------------------

def medians(df: pd.DataFrame) -> pd.DataFrame:
    """Ok cells reduced to one row per (scenario, endpoint, concurrency, stack): median over repeats.

    Also carries, per group, the worst generator_cpu_pct / error_pct / steal_pct of any repeat
    (as *_max) and the number of repeats, so a flag raised by one repeat is not hidden by the median.
    """
    keys = ["scenario", "endpoint", "concurrency", "stack"]
    ok = df[df["status"] == "ok"].copy()
    values = list(METRICS)
    for col in ("requests", "errors"):
        ok[col] = ok[col].astype(float)  # a median of two counts can be fractional
    if ok.empty:
        return pd.DataFrame(columns=keys + values + ["repeats", "generator_cpu_pct_max", "error_pct_max", "steal_pct_max"])
    ok["endpoint"] = ok["endpoint"].fillna("")
    grouped = ok.groupby(keys, sort=True, dropna=False)
    med = grouped[values].median()
    med["repeats"] = grouped.size()
    for col in ("generator_cpu_pct", "error_pct", "steal_pct"):
        med[f"{col}_max"] = grouped[col].max()
    return med.reset_index()


def _flags(row: pd.Series) -> str:
    flags = []
    if row["generator_cpu_pct_max"] >= GENERATOR_BOUND_PCT:
        flags.append("generator-bound")
    if row["error_pct_max"] >= ERRORS_PCT:
        flags.append("errors")
    if row["steal_pct_max"] >= STEAL_PCT:
        flags.append("steal")
    return ",".join(flags)


def ranking(df: pd.DataFrame) -> pd.DataFrame:
    """Stacks ranked by median rps within each scenario and concurrency, best first.

    rel_rps = rps / best rps of that scenario+concurrency. flags lists
    "generator-bound" (generator_cpu_pct >= 90), "errors" (error_pct >= 1) and
    "steal" (steal_pct >= 10) when any repeat crossed the threshold: such rows
    stay in the table, but their rps may measure the machine, not the stack.
    """
    med = medians(df)
    if med.empty:
        return pd.DataFrame(columns=RANK_COLUMNS)
    med["flags"] = med.apply(_flags, axis=1)
    med = med.sort_values(["scenario", "concurrency", "rps", "stack"], ascending=[True, True, False, True],
                          kind="stable", na_position="last")
    by = med.groupby(["scenario", "concurrency"], sort=False)
    med["rank"] = by.cumcount() + 1
    best = by["rps"].transform("max")
    med["rel_rps"] = (med["rps"] / best).where(best > 0)
    out = med[RANK_COLUMNS].reset_index(drop=True)
    out["concurrency"] = out["concurrency"].astype("Int64")
    out["rank"] = out["rank"].astype(int)
    out["flags"] = out["flags"].astype(object)
    return out
