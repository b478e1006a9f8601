"""What went wrong in a run, and why: said first, in the report and on the terminal.

A ranking of the cells that worked says nothing about the ones that did not,
so the failures are gathered here from the raw records: stacks that did not
start or failed verification (stack.json), cells that failed (cell.json's
reason), and cells that were measured but stalled (their percentiles only
count what completed).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.analyze import Analysis
from analysis.columns import Record
from analysis.flags import missing

WARNED = "verify warnings (measured)"


@dataclass(frozen=True)
class StackProblem:
    stack: str
    what: str  # "start failed", "verify failed (not measured)", ...
    reason: str
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def measured(self) -> bool:
        """Only a warning: the stack was measured all the same."""
        return self.what == WARNED


@dataclass(frozen=True)
class CellProblem:
    stack: str
    scenario: str
    concurrency: int | None
    repeat: int | None
    reason: str


def _stack_problem(stack_id: str, analysis: Analysis, measured: set[str]) -> StackProblem | None:
    spec = analysis.run.stacks.get(stack_id)
    if spec is None:
        return StackProblem(stack_id, "not started", "no stack.json: the run ended before this stack started")
    start: Mapping[str, Any] = spec.get("start") or {}
    verify: Mapping[str, Any] = spec.get("verify") or {}
    findings = [f for f in verify.get("findings") or [] if isinstance(f, dict)]
    if start.get("status") == "failed":
        return StackProblem(stack_id, "start failed", start.get("reason") or "no reason recorded")
    if verify.get("status") == "fail":
        return StackProblem(stack_id, "verify failed (not measured)",
                            "responses did not match the scenario's expected output", findings)
    if verify.get("status") == "warn":
        return StackProblem(stack_id, WARNED, "see findings", findings)
    if stack_id not in measured:
        return StackProblem(stack_id, "no finished cells", "the run ended before a cell of this stack finished")
    return None


def stack_problems(analysis: Analysis) -> list[StackProblem]:
    """Stacks not (fully) measured, or measured with verify warnings, and why; failures before warnings."""
    measured = set(analysis.frame["stack"])
    listed = list(dict.fromkeys(list(analysis.meta["stacks"]) + list(analysis.run.stacks)))
    found = [p for s in listed if (p := _stack_problem(s, analysis, measured)) is not None]
    return sorted(found, key=lambda p: p.measured)


def _cell(r: Record, reason: str) -> CellProblem:
    def number(value: Any) -> int | None:
        return None if missing(value) else int(value)

    return CellProblem(str(r["stack"]), str(r["scenario"]), number(r["concurrency"]), number(r["repeat"]), reason)


def failed_cells(frame: pd.DataFrame) -> list[CellProblem]:
    """Cells whose cell.json says failed, with its reason: left out of the ranking and the charts."""
    return [_cell(r, r["reason"] or "no reason recorded") for r in frame[frame["status"] != "ok"].to_dict("records")]


def stalled_cells(frame: pd.DataFrame) -> list[CellProblem]:
    """Ok cells in which no request completed for a stall's length: ranked, but flagged `stalled`."""
    stalled = frame[frame["stalled"].fillna(False).astype(bool)]
    return [_cell(r, f"no request completed for {r['max_gap_s']:g} s of the {r['duration_s']:g} s window "
                     f"(median latency {r['p50_ms']:g} ms)")
            for r in stalled.to_dict("records")]


def problem_lines(analysis: Analysis) -> list[str]:
    """One plain line per problem, failures first: for a terminal, before the ranking."""
    stacks = stack_problems(analysis)
    lines = [f"{p.stack}: {p.what}: {p.reason}" for p in stacks if not p.measured]
    for label, cells in (("failed", failed_cells(analysis.frame)), ("stalled", stalled_cells(analysis.frame))):
        lines += [f"{c.stack} {c.scenario} c{c.concurrency} r{c.repeat}: {label}: {c.reason}" for c in cells]
    return lines + [f"{p.stack}: {p.what}: {p.reason}" for p in stacks if p.measured]
