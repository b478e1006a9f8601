"""The framework x server grid: apps as rows, server variants as columns (the README's table), one grid
per scenario and concurrency and metric, each cell coloured on one scale with its figure and flags.

Why: "which server for my framework?" is a row, "which framework on my server?" a column; a ranked list
of 45 stacks answers neither. The colours are computed here (a log scale, green for the better end) so
the page needs no script to draw them; an empty cell means the stack was not in the run.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.analyze import Analysis
from analysis.answers import ceiling
from analysis.columns import Record
from analysis.flags import missing
from analysis.labels import FLAG_SHORT, LABELS


@dataclass(frozen=True)
class Metric:
    """A grid's metric: its column in the ranking, which end is better, how its figure is printed."""

    column: str
    title: str
    higher_is_better: bool
    spec: str
    floor_when_bound: bool = False  # a generator-bound cell's figure is a floor (printed "≥"), not the stack's


METRICS = (
    Metric("cpu_us_per_req", "server CPU time per request", higher_is_better=False, spec=",.0f"),
    Metric("rps", "throughput", higher_is_better=True, spec=",.0f", floor_when_bound=True),
)


@dataclass(frozen=True)
class GridCell:
    stack: str | None  # None: no such stack in this run
    value: float | None = None
    text: str = ""  # the figure, or why there is none ("failed", "not measured")
    flags: list[str] = field(default_factory=list)
    style: str = ""  # inline CSS: the cell's colour on the grid's scale
    note: str = ""  # said on hover: a generator-bound rate is a floor, with the ceiling its CPU implies


@dataclass(frozen=True)
class Grid:
    scenario: str
    concurrency: int
    metric: Metric
    label: str  # the metric's label, with its unit (analysis.labels)
    columns: list[str]  # server variant ids
    rows: list[tuple[str, list[GridCell]]]  # app id -> one cell per column
    low: str  # the scale's ends, printed under the grid
    high: str


def split_id(stack: str, record: Mapping[str, Any] | None) -> tuple[str, str]:
    """(app, variant) of a stack id `<app>-<variant>`: from stack.json's `variant` when it has one, else from
    the first part of the id that names the server (older runs record no variant)."""
    record = record or {}
    variant = record.get("variant")
    if variant and stack.endswith("-" + variant):
        return stack[: -len(variant) - 1], str(variant)
    parts = stack.split("-")
    server = record.get("server")
    if server in parts[1:]:
        at = parts.index(str(server), 1)
        return "-".join(parts[:at]), "-".join(parts[at:])
    app = record.get("app")
    if app and stack.startswith(app + "-"):
        return str(app), stack[len(app) + 1:]
    return parts[0], "-".join(parts[1:]) or stack


def merged_order(sequences: Sequence[Sequence[str]], group: Mapping[str, str] | None = None) -> list[str]:
    """One order that keeps every sequence's own order (each app lists its variants in matrix order),
    ties broken by the first appearance of the name's group (its server: Gunicorn's variants together),
    then of the name: the README's columns without reading the matrix file."""
    first: dict[str, int] = {}
    before: dict[str, set[str]] = {}
    for seq in sequences:
        for i, name in enumerate(seq):
            first.setdefault(name, len(first))
            before.setdefault(name, set()).update(seq[i - 1:i])
    group = group or {}
    group_first: dict[str, int] = {}
    for name in first:
        group_first.setdefault(group.get(name, name), first[name])

    def rank(name: str) -> tuple[int, int]:
        return group_first[group.get(name, name)], first[name]

    out: list[str] = []
    while before:
        ready = [n for n, preds in before.items() if not preds & before.keys()]
        pick = min(ready or before, key=rank)  # two apps disagreeing (a cycle): the first seen wins
        out.append(pick)
        del before[pick]
    return out


def colour(value: float, low: float, high: float, higher_is_better: bool) -> str:
    """A background on a log scale from red (worst in the grid) to green (best): CPU and req/s span decades."""
    if high <= low or value <= 0 or low <= 0:
        t = 1.0
    else:
        t = (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    t = min(max(t, 0.0), 1.0)
    if not higher_is_better:
        t = 1.0 - t
    return f"background: hsl({120 * t:.0f}, 65%, {88 - 8 * (1 - abs(2 * t - 1)):.0f}%)"


def _cell(stack: str, row: Record | None, metric: Metric, why: str, server_cpus: Sequence[int]) -> GridCell:
    if row is None or missing(row.get(metric.column)):
        return GridCell(stack, text=why)
    flags = [f for f in str(row.get("flags") or "").split(",") if f]
    value = float(row[metric.column])
    text, note = format(value, metric.spec), ""
    if metric.floor_when_bound and "generator-bound" in flags:
        text = "≥" + text
        found = ceiling(row, server_cpus)
        note = "Locust's ceiling: a floor for the server" + (
            f"; its CPU per request implies about {found.per_core:,.0f} req/s per server core (an estimate)"
            if found is not None else "")
    return GridCell(stack, value, text, flags, note=note)


def _why_missing(analysis: Analysis) -> dict[str, str]:
    """stack -> the word a grid cell shows when the stack ran but has no number."""
    failed = set(analysis.frame.loc[analysis.frame["status"] != "ok", "stack"])
    out = {s: "failed" for s in failed}
    for stack, stored in analysis.run.stacks.items():
        record: Mapping[str, Any] = stored or {}
        start, verify = record.get("start") or {}, record.get("verify") or {}
        if start.get("status") == "failed":
            out[stack] = "start failed"
        elif verify.get("status") == "fail":
            out[stack] = "verify failed"
    return out


def grids(analysis: Analysis) -> list[Grid]:
    """Per scenario and concurrency, one grid per METRICS entry (CPU per request first)."""
    ranking = analysis.ranking
    if ranking.empty:
        return []
    stacks = list(dict.fromkeys(list(analysis.meta["stacks"]) + list(analysis.run.stacks)))
    where = {s: split_id(s, analysis.run.stacks.get(s)) for s in stacks}
    apps = list(dict.fromkeys(app for app, _ in where.values()))
    per_app = [[v for s, (a, v) in where.items() if a == app] for app in apps]
    records: dict[str, Mapping[str, Any]] = {s: analysis.run.stacks.get(s) or {} for s in stacks}
    servers = {v: str(records[s].get("server") or v) for s, (_, v) in where.items()}
    columns = merged_order(per_app, servers)
    at = {(a, v): s for s, (a, v) in where.items()}
    why = _why_missing(analysis)
    server_cpus = list(analysis.meta["settings"].get("server_cpus") or [])
    out = []
    for (scenario, conc), group in ranking.groupby(["scenario", "concurrency"], sort=False):
        by_stack = {str(r["stack"]): r for r in group.to_dict("records")}
        for metric in METRICS:
            rows = []
            for app in apps:
                cells = []
                for variant in columns:
                    stack = at.get((app, variant))
                    cells.append(GridCell(None) if stack is None
                                 else _cell(stack, by_stack.get(stack), metric, why.get(stack, ""), server_cpus))
                if any(c.value is not None or c.text for c in cells):  # an app that does not serve it: no row
                    rows.append((app, cells))
            values = [c.value for _, cells in rows for c in cells if c.value is not None and c.value > 0]
            low, high = (min(values), max(values)) if values else (0.0, 0.0)
            rows = [(app, [_coloured(c, low, high, metric) for c in cells]) for app, cells in rows]
            out.append(Grid(str(scenario), int(str(conc)), metric, LABELS[metric.column], columns, rows,
                            format(low, metric.spec), format(high, metric.spec)))
    return out


def _coloured(cell: GridCell, low: float, high: float, metric: Metric) -> GridCell:
    if cell.value is None:
        return cell
    return GridCell(cell.stack, cell.value, cell.text, cell.flags,
                    colour(cell.value, low, high, metric.higher_is_better), cell.note)


def flag_marks(flags: Sequence[str]) -> list[tuple[str, str]]:
    """(short form, full name) of each flag, as the terminal abbreviates them (analysis.labels.FLAG_SHORT)."""
    return [(FLAG_SHORT.get(f, f), f) for f in flags]
