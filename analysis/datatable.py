"""The report's evidence: the full data table (every stack and cell, sortable and filterable in the page)
and each stack as it ran (verification, command line, configuration), one click from its rows.

Cells carry their raw value in `data-sort` so the page's script sorts numbers as numbers; the words and
units are analysis.labels', as in the terminal.
"""
from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.analyze import Analysis
from analysis.columns import SPEC_COLUMNS, Record
from analysis.flags import missing
from analysis.labels import LABELS, TIE_MARK, relative_text


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    spec: str = ""  # a format spec for numbers ("range": an interval, sorted by its low end); "" for text
    filter: bool = False  # offered as a <select> filter


COLUMNS = (
    Column("scenario", LABELS["scenario"], filter=True),
    Column("concurrency", LABELS["concurrency"], "d"),
    Column("rank", LABELS["rank"], "d"),
    Column("stack", LABELS["stack"]),
    Column("framework", "framework", filter=True),
    Column("server", "server", filter=True),
    Column("worker", "worker"),
    Column("n", LABELS["n"], "d"),
    Column("rps", LABELS["rps"], ",.0f"),
    Column("rps_interval", LABELS["rps_interval"], "range"),
    Column("rel_rps", LABELS["rel_rps"], "%"),
    Column("p50_ms", LABELS["p50_ms"], ".2f"),
    Column("p99_ms", LABELS["p99_ms"], ".2f"),
    Column("cpu_us_per_req", LABELS["cpu_us_per_req"], ",.0f"),
    Column("cpu_interval", LABELS["cpu_interval"], "range"),
    Column("server_rss_mb", LABELS["server_rss_mb"], ".1f"),
    Column("generator_cpu_pct", LABELS["generator_cpu_pct"], ".0f"),
    Column("error_pct", LABELS["error_pct"], ".2f"),
    Column("flags", LABELS["flags"]),
)


@dataclass(frozen=True)
class DataCell:
    text: str
    sort: str  # the raw value the page sorts by ("" when missing: sorted last)
    numeric: bool


@dataclass(frozen=True)
class DataRow:
    stack: str
    cells: list[DataCell]
    flags: list[str]
    tie: bool
    values: dict[str, str]  # filter column -> its value, for data-* attributes


def _interval(lo: Any, hi: Any) -> tuple[str, str]:
    if missing(lo) or missing(hi):
        return "–", ""
    return f"{float(lo):,.0f}–{float(hi):,.0f}", f"{float(lo):.6g}"


def _cell(column: Column, row: Record) -> DataCell:
    value = row.get(column.key)
    if column.key == "rps_interval":
        return DataCell(*_interval(row.get("rps_lo"), row.get("rps_hi")), numeric=True)
    if column.key == "cpu_interval":
        return DataCell(*_interval(row.get("cpu_us_per_req_lo"), row.get("cpu_us_per_req_hi")), numeric=True)
    if column.key == "flags":
        flags = [f for f in str(value or "").split(",") if f]
        text = ", ".join(flags + ([TIE_MARK] if row.get("tie_with_next") else []))
        return DataCell(text, text, numeric=False)
    if not column.spec:
        return DataCell("" if missing(value) else str(value), "" if missing(value) else str(value), numeric=False)
    if value is None or missing(value) or (isinstance(value, float) and math.isinf(value)):
        return DataCell("–", "", numeric=True)
    number = float(value)
    text = relative_text(number) if column.spec == "%" else format(int(number) if column.spec == "d" else number,
                                                                      column.spec)
    return DataCell(text, f"{number:.6g}", numeric=True)


def data_rows(analysis: Analysis) -> list[DataRow]:
    """One row per ranking row (stack x scenario x concurrency, medians over ok repeats), ranking order."""
    ranking = analysis.ranking
    if ranking.empty:
        return []
    extra = [c for c in ("p50_ms", "error_pct", *SPEC_COLUMNS) if c not in ranking.columns]
    agg = analysis.aggregate[["stack", "scenario", "concurrency", *extra]]
    merged = ranking.merge(agg, on=["stack", "scenario", "concurrency"], how="left")
    out = []
    for r in merged.to_dict("records"):
        flags = [f for f in str(r.get("flags") or "").split(",") if f]
        out.append(DataRow(str(r["stack"]), [_cell(c, r) for c in COLUMNS], flags, bool(r["tie_with_next"]),
                           {c.key: "" if missing(r.get(c.key)) else str(r.get(c.key)) for c in COLUMNS if c.filter}))
    return out


def filter_options(rows: list[DataRow]) -> list[tuple[Column, list[str]]]:
    """Each filterable column with its distinct values, for the page's <select>s."""
    return [(c, sorted({r.values[c.key] for r in rows if r.values[c.key]})) for c in COLUMNS if c.filter]


@dataclass(frozen=True)
class StackView:
    """A stack as it ran: what stack.json says about its start, its verification and its command line."""

    stack: str
    anchor: str
    status: str  # "ok", "warn", "fail", "start failed", "not started"
    start: str
    passed: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    command: str = ""
    configuration: list[tuple[str, str]] = field(default_factory=list)


def anchor(stack: str) -> str:
    """The id a stack's details carry, linked from its rows: #stack-<id>."""
    return f"stack-{stack}"


def _start(record: Mapping[str, Any]) -> tuple[str, str]:
    start: Mapping[str, Any] = record.get("start") or {}
    if start.get("status") == "failed":
        return "start failed", f"failed to start: {start.get('reason') or 'no reason recorded'}"
    ready = start.get("ready_s")
    return "", (f"answered {float(ready):.2f} s after launch" if isinstance(ready, (int, float)) else "started")


def _configuration(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [("configuration", str(record.get("configuration") or "default")),
            ("config hash", str(record.get("config_hash") or "not recorded")),
            ("app", str(record.get("app") or "")), ("target", str(record.get("target") or "")),
            ("server", f"{record.get('server')} ({record.get('worker')} worker, {record.get('interface')})"),
            ("workers", str(record.get("workers") or "")), ("backlog", str(record.get("backlog") or "")),
            ("options", ", ".join(f"{k} = {v!r}" for k, v in sorted((record.get("options") or {}).items()))),
            ("CPUs", ", ".join(str(c) for c in record.get("cpus") or []) or "not pinned")]
    return [(k, v) for k, v in rows if v]


def stack_view(stack: str, record: Mapping[str, Any] | None) -> StackView:
    """One stack's verification outcome and how it was started."""
    if record is None:
        return StackView(stack, anchor(stack), "not started", "no stack.json: the run ended before it started")
    status, start = _start(record)
    verify: Mapping[str, Any] = record.get("verify") or {}
    failed = [str(e) for e in verify.get("failed_endpoints") or []]
    warned = [str(e) for e in verify.get("warned_endpoints") or []]
    findings = [f for f in verify.get("findings") or [] if isinstance(f, dict)]
    if not failed:
        failed = sorted({str(f.get("endpoint")) for f in findings if f.get("level") == "fail"})
    if not warned:
        warned = sorted({str(f.get("endpoint")) for f in findings if f.get("level") == "warn"})
    passed = [str(e) for e in verify.get("endpoints") or [] if str(e) not in failed]
    return StackView(stack, anchor(stack), status or str(verify.get("status") or "not verified"), start,
                     passed, warned, failed, findings, shlex.join(str(p) for p in record.get("command") or []),
                     _configuration(record))


def stack_views(analysis: Analysis) -> list[StackView]:
    """Every stack of the run, in the run's order, those without a stack.json included."""
    stacks = list(dict.fromkeys(list(analysis.meta["stacks"]) + list(analysis.run.stacks)))
    return [stack_view(s, analysis.run.stacks.get(s)) for s in stacks]

