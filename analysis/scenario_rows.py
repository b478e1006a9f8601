"""The rows of stages.csv, endpoints.csv and series.csv for one cell, read off its latency record.

Pure reads of the blocks results/README.md documents (latency.json `shape.stages`, `requests`, `series`)
and of samples.csv; times are seconds from the measured window's start, latency in ms from the 10 us
histograms (lower bucket edge, as everywhere in analysis).
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from analysis.columns import Row
from analysis.hist import percentile_from_hist
from analysis.load import Cell
from analysis.samples import TIME

NAN = math.nan
RSS = "server_rss_bytes"
MIB = 2**20  # RSS in MB as server_rss_mb reports it


def ratio(num: float, den: float, scale: float = 1.0) -> float:
    return NAN if den == 0 or math.isnan(num) or math.isnan(den) else scale * num / den


def cell_key(cell: Cell) -> Row:
    """The (stack, scenario, concurrency, repeat) that names a cell in every companion table."""
    meta = cell.meta
    return {"stack": meta["stack"], "scenario": meta["scenario"], "concurrency": meta["concurrency"],
            "repeat": meta["repeat"]}


def figure(key: Row, name: str, value: float | None, unit: str, note: str | None = None) -> Row:
    """One row of figures.csv: a derived figure of one cell, NaN with a note when it could not be had."""
    return {**key, "figure": name, "value": NAN if value is None else float(value), "unit": unit, "note": note}


def stage_rows(cell: Cell, start: float) -> list[Row]:
    """stages.csv rows of a shaped cell: each stage's users, span, counts, rate and p50/p99 (index from 1)."""
    shape = cell.latency.get("shape") if cell.latency is not None else None
    rows = []
    for index, st in enumerate(shape["stages"] if shape is not None else [], start=1):
        duration = float(st["end"]) - float(st["start"])
        count, failures = int(st["count"]), int(st["failures"])
        rows.append({**cell_key(cell), "stage": st["name"], "index": index, "users": int(st["users"]),
                     "start_s": float(st["start"]) - start, "duration_s": duration, "requests": count,
                     "errors": failures, "error_pct": ratio(failures, count, 100.0),
                     "rps": ratio(count, duration), "p50_ms": percentile_from_hist(st["hist"], 0.50),
                     "p99_ms": percentile_from_hist(st["hist"], 0.99)})
    return rows


def endpoint_rows(cell: Cell, duration: float) -> list[Row]:
    """endpoints.csv rows of a cell that sent more than one request name (the mix); [] otherwise."""
    requests = cell.latency["requests"] if cell.latency is not None else {}
    if len(requests) < 2:
        return []
    total = sum(int(r["count"]) for r in requests.values())
    return [{**cell_key(cell), "name": name, "requests": int(r["count"]), "errors": int(r["failures"]),
             "error_pct": ratio(int(r["failures"]), int(r["count"]), 100.0), "rps": ratio(int(r["count"]), duration),
             "share_pct": ratio(int(r["count"]), total, 100.0), "p50_ms": percentile_from_hist(r["hist"], 0.50),
             "p99_ms": percentile_from_hist(r["hist"], 0.99)}
            for name, r in sorted(requests.items())]


def slot_rss_mb(samples: pd.DataFrame | None, start: float, end: float) -> float:
    """The highest server RSS sampled in [start, end), in MB; NaN when no sample falls there."""
    if samples is None or RSS not in samples.columns:
        return NAN
    inside = samples[(samples[TIME] >= start) & (samples[TIME] < end)][RSS].dropna()
    return NAN if inside.empty else float(inside.max()) / MIB


def _ms(value: Any) -> float:
    return NAN if value is None else float(value)


def series_rows(cell: Cell, start: float) -> list[Row]:
    """series.csv rows: one per slot of latency.json `series` (t_s = slot start from the window start)."""
    series = cell.latency.get("series") if cell.latency is not None else None
    if series is None:
        return []
    slot = float(series["slot_s"])
    return [{**cell_key(cell), "t_s": i * slot, "completed": int(done), "failures": int(failed),
             "rps": ratio(int(done), slot), "p50_ms": _ms(p50), "p99_ms": _ms(p99),
             "rss_mb": slot_rss_mb(cell.samples, start + i * slot, start + (i + 1) * slot)}
            for i, (done, failed, p50, p99) in enumerate(zip(series["completed"], series["failures"],
                                                             series["p50_ms"], series["p99_ms"], strict=False))]
