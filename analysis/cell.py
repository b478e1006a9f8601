"""The numbers and flags of one finished cell, over its measured window only.

Everything comes from the cell's raw files (results/README.md): the window
from phases.json, requests and latency from the merged latency record,
resources from samples.csv. A missing input gives NaN (or None for counts and
flags), never a guess; what to make of the numbers is decided by analysis.flags.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from analysis import flags
from analysis.columns import FLAG_COLUMNS, INT_COLUMNS, METRICS, Row
from analysis.hist import (
    corrected_percentiles,
    longest_gap_s,
    mean_from_hist,
    open_model,
    percentile_from_hist,
    user_accounting,
)
from analysis.ideal import ideal_rps
from analysis.load import Cell
from analysis.samples import delta, window_max
from runformat.latency import merge_hists
from runformat.records import LatencyFile

NAN = math.nan


def empty_metrics() -> Row:
    """Every metric unknown: NaN for numbers, None (<NA>) for counts and flags."""
    return {m: None if m in INT_COLUMNS or m in FLAG_COLUMNS else NAN for m in METRICS}


def ratio(num: float, den: float, scale: float = 1.0) -> float:
    if den == 0 or math.isnan(num) or math.isnan(den):
        return NAN
    return scale * num / den


def window(cell: Cell) -> tuple[float, float] | None:
    """[measure, end] from phases.json; latency.json's copy of the window if phases.json lacks it."""
    if cell.phases is not None and "measure" in cell.phases and "end" in cell.phases:
        return float(cell.phases["measure"]), float(cell.phases["end"])
    marks = cell.latency.get("window") if cell.latency is not None else None
    if marks and len(marks) == 2 and marks[0] is not None and marks[1] is not None:
        return float(marks[0]), float(marks[1])
    return None


VARYING_USERS = ("ramp", "spike")  # latency.json shape kinds whose users change within the window


def littles_ratio(concurrency: Any, rps: float, mean_ms: float, think_ms: float = 0.0) -> float:
    """Closed-model Little's law check: concurrency / (rps x (mean latency + think time) in s); about 1
    when consistent."""
    if flags.missing(concurrency):
        return NAN
    return ratio(float(concurrency), rps * (mean_ms + think_ms) / 1000.0)


def cell_littles_ratio(latency: LatencyFile | None, concurrency: Any, rps: float, mean_ms: float) -> float:
    """Little's law for this cell: with its think time; NaN when its users change within the window (a ramp
    or a spike: no one concurrency to check against)."""
    shape = latency.get("shape") if latency is not None else None
    if shape is not None and shape.get("kind") in VARYING_USERS:
        return NAN
    think = latency.get("think_ms") if latency is not None else None
    return littles_ratio(concurrency, rps, mean_ms, float(think) if isinstance(think, (int, float)) else 0.0)


def latency_numbers(latency: LatencyFile, duration: float) -> Row:
    """Requests, errors, rate, bytes and latency percentiles over all request names of the window."""
    stats = list(latency["requests"].values())
    requests = sum(int(r["count"]) for r in stats)  # count includes failures
    errors = sum(int(r["failures"]) for r in stats)
    hist = merge_hists(r["hist"] for r in stats)
    has_bytes = any("bytes" in r for r in stats)
    return {
        "requests": requests, "errors": errors,
        "bytes_per_req": ratio(sum(int(r.get("bytes", 0)) for r in stats), requests) if has_bytes else NAN,
        "error_pct": ratio(errors, requests, 100.0),
        "rps": ratio(requests, duration),
        "mean_ms": mean_from_hist(hist),
        "p50_ms": percentile_from_hist(hist, 0.50),
        "p90_ms": percentile_from_hist(hist, 0.90),
        "p99_ms": percentile_from_hist(hist, 0.99),
        "p999_ms": percentile_from_hist(hist, 0.999),
    }


def server_share(samples: pd.DataFrame | None, server_cpu: float, start: float, end: float,
                 server_cpus: int) -> float:
    """The server's CPU seconds over the window as a % of the window x its CPUs; NaN when no server process
    was sampled in the window (a --target server is not ours to measure: its CPU reads 0, not its use)."""
    if window_max(samples, "server_procs", start, end) == 0:
        return NAN
    return ratio(server_cpu, (end - start) * server_cpus, 100.0)


def resource_numbers(cell: Cell, start: float, end: float, cpu_count: int | None,
                     loadgen_cpus: Sequence[int], server_cpus: Sequence[int] = ()) -> Row:
    """Server CPU and memory, Locust's CPU share, steal and other load over the window, from samples.csv.
    The server's share is of its pinned CPUs, or of all the machine's when it was not pinned."""
    samples, duration, cpus = cell.samples, end - start, cpu_count or 0
    server = delta(samples, "server_cpu_s", start, end)
    gen = delta(samples, "gen_cpu_s", start, end)
    steal = delta(samples, "steal_s", start, end)
    busy = delta(samples, "busy_s", start, end)
    # busy_s counts steal too on Linux (it is not idle): take it out with the server's and Locust's own CPU
    other = NAN if any(math.isnan(v) for v in (busy, server, gen, steal)) else max(0.0, busy - server - gen - steal)
    return {
        "server_cpu_s": server,
        "server_rss_mb": window_max(samples, "server_rss_bytes", start, end) / 2**20,
        "generator_cpu_pct": ratio(gen, duration * len(loadgen_cpus), 100.0),
        "steal_pct": ratio(steal, duration * cpus, 100.0),
        "other_load_pct": ratio(other, duration * cpus, 100.0),
        "server_cpu_pct": server_share(samples, server, start, end, len(server_cpus) or cpus),
    }


def cell_flags(out: Row, open_model: bool) -> Row:
    """The per-cell flags, decided by analysis.flags on the numbers already in `out`."""
    return {
        "generator_bound": flags.generator_bound(out["generator_cpu_pct"]),
        "littles_off": flags.littles_off(out["littles_ratio"]),
        "noisy": flags.cell_noisy(out["steal_pct"], out["other_load_pct"]),
        "stalled": flags.stalled(out["max_gap_s"], out["p50_ms"], out["offered_rps"]),
        "unsaturated": flags.unsaturated(out["server_cpu_pct"], out["generator_cpu_pct"], open_model),
    }


def cell_metrics(cell: Cell, cpu_count: int | None, default_loadgen_cpus: Sequence[int] | None = None,
                 server_cpus: Sequence[int] = ()) -> Row:
    """The METRICS of one ok cell; NaN (or None for counts and flags) where an input file is missing.
    server_cpus: run.json's settings.server_cpus (empty: the server was not pinned, so all CPUs count)."""
    out = empty_metrics()
    span = window(cell)
    if span is None:
        return out
    start, end = span
    out["duration_s"] = end - start
    if cell.latency is not None:
        out.update(latency_numbers(cell.latency, end - start))
    out.update(resource_numbers(cell, start, end, cpu_count,
                                cell.meta.get("loadgen_cpus") or default_loadgen_cpus or [], server_cpus))
    if out["requests"] is not None:
        out["cpu_us_per_req"] = ratio(out["server_cpu_s"], out["requests"], 1e6)
    out["starved_users"], out["starved"] = user_accounting(cell.latency)
    out["max_gap_s"] = longest_gap_s(cell.latency.get("timeline") if cell.latency is not None else None)
    numbers = open_model(cell.latency)
    if numbers is None:
        out["littles_ratio"] = cell_littles_ratio(cell.latency, cell.meta["concurrency"], out["rps"], out["mean_ms"])
    else:
        # open model: concurrency is the cap on requests in flight, not the number in flight, so
        # Little's law has nothing to be checked against
        out["offered_rps"], out["missed"], out["late"] = numbers
    out.update(cell_flags(out, open_model=numbers is not None))
    out.update(scenario_numbers(cell, out, open_model=numbers is not None))
    return out


def scenario_numbers(cell: Cell, out: Row, open_model: bool) -> Row:
    """The issue-13 columns a cell's own files decide: MB/s, the /io ideal, the corrected percentiles."""
    co = corrected_percentiles(cell.latency)
    return {
        "mb_per_s": out["rps"] * out["bytes_per_req"] / 1e6,
        "ideal_rps": ideal_rps(cell.meta["endpoint"], cell.meta["concurrency"], open_model),
        "co_p50_ms": co.p50_ms, "co_p90_ms": co.p90_ms, "co_p99_ms": co.p99_ms,
    }
