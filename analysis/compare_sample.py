"""One side of a comparison, from a run folder or a saved baseline, in one in-memory shape.

Per cell key (stack, scenario, endpoint, concurrency): the per-repeat values
of the compared metrics over the repeats that finished ok (the test needs
the spread, not a median), the failed repeats with their reasons, and the
flags raised over the repeats (analysis.flags.FLAG_RULES names, read
generically, so a new flag joins without a change here). Plus what decides
whether two sides are comparable and what changed between them: host,
settings, packages, git, and each stack's command line.

A baseline file (runformat.baseline) is this shape on disk, so a run and
the baseline saved from it compare as equal.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pandas as pd

from analysis.analyze import Analysis, analyze
from analysis.columns import KEYS, Record
from analysis.flags import FLAG_RULES, missing, ranking_flags
from analysis.stats import finite
from analysis.thresholds import METRICS
from runformat.baseline import (
    BASELINE_VERSION,
    BASELINES_DIR,
    Baseline,
    BaselineCell,
    find_baseline,
    read_baseline,
)
from runformat.errors import RunDirError
from runformat.records import Settings, StackRecord

Key = tuple[str, str, str, int]  # stack, scenario, endpoint, concurrency


@dataclass(frozen=True)
class CellSample:
    """One cell over its repeats: the ok repeats' values per metric, the failed repeats, the flags."""

    values: Mapping[str, tuple[float, ...]]
    failed: tuple[tuple[int, str], ...] = ()
    flags: tuple[str, ...] = ()

    @property
    def measured(self) -> bool:
        """Some repeat finished ok and measured something."""
        return any(self.values.values())


@dataclass(frozen=True)
class Sample:
    """A run or a baseline, as compare sees it."""

    label: str  # how the output names this side
    run_id: str
    cells: Mapping[Key, CellSample]
    host: Mapping[str, Any]
    settings: Mapping[str, Any]
    packages: Mapping[str, str | None]
    git: Mapping[str, Any]
    stacks: tuple[str, ...]  # what the run meant to measure
    commands: Mapping[str, tuple[str, ...]]
    stack_problems: Mapping[str, str]  # stack -> why it was not measured

    def planned(self, stack: str, scenario: str, concurrency: int) -> bool:
        """The run meant to measure this cell (its stack, scenario and concurrency were all asked for)."""
        return (stack in self.stacks and scenario in self.settings.get("scenarios", [])
                and concurrency in self.settings.get("concurrency", []))


def raised_flags(row: Record) -> tuple[str, ...]:
    """The FLAG_RULES names an aggregate row raises: the ranking's own rule, plus any flag column by name."""
    def column_raised(name: str) -> bool:
        value = row.get(name.replace("-", "_"))  # "generator-bound" is the column generator_bound
        return not missing(value) and bool(value)

    named = {n for n in ranking_flags(row).split(",") if n}
    return tuple(n for n in FLAG_RULES if n in named or column_raised(n))


def normalised_command(record: StackRecord) -> tuple[str, ...]:
    """The command line without what changes on every run: the port (as {port}) and absolute paths (their
    last part), so a difference left is a change of the stack, not of the machine or the checkout."""
    port = str(record.get("port", ""))

    def one(arg: str) -> str:
        if port and (arg == port or arg.endswith(":" + port)):
            arg = arg[: len(arg) - len(port)] + "{port}"
        return Path(arg).name if arg.startswith("/") else arg

    return tuple(one(str(a)) for a in record.get("command", []))


def stack_problem(record: StackRecord | None) -> str | None:
    """Why a stack measured nothing, from its stack.json; None if it started and passed verification."""
    if record is None:
        return None
    start = record.get("start")
    if start is not None and start["status"] != "ok":
        return f"did not start: {start.get('reason') or 'no reason recorded'}"
    verify = record.get("verify")
    if isinstance(verify, dict) and verify.get("status") == "fail":
        failed = verify.get("failed_endpoints") or sorted(
            {str(f.get("endpoint")) for f in verify.get("findings", []) if f.get("level") == "fail"})
        return f"failed verification on {', '.join(str(e) for e in failed)}"
    return None


def _cell(group: pd.DataFrame, flags: tuple[str, ...]) -> CellSample:
    ok = group[group["status"] == "ok"].sort_values("repeat")
    bad = group[group["status"] != "ok"].sort_values("repeat")
    return CellSample(values={m: tuple(float(v) for v in finite(ok[m])) for m in METRICS},
                      failed=tuple((int(r), str(why or "failed")) for r, why in zip(bad["repeat"], bad["reason"],
                                                                                    strict=True)),
                      flags=flags)


def from_analysis(analysis: Analysis, label: str | None = None) -> Sample:
    """A run folder already analysed: its cells from the tidy frame, their flags from the aggregate."""
    frame = analysis.frame.assign(endpoint=analysis.frame["endpoint"].fillna(""))
    flags = {(str(r["stack"]), str(r["scenario"]), str(r["endpoint"] or ""), int(r["concurrency"])): raised_flags(r)
             for r in analysis.aggregate.to_dict("records")}
    cells: dict[Key, CellSample] = {}
    for group_key, group in frame.groupby(KEYS, sort=True):
        stack, scenario, endpoint, concurrency = cast(tuple[str, str, str, int], group_key)
        key = (str(stack), str(scenario), str(endpoint), int(concurrency))
        cells[key] = _cell(group, flags.get(key, ()))
    meta, records = analysis.meta, analysis.run.stacks
    return Sample(label=label or str(analysis.path), run_id=meta["run_id"], cells=cells, host=meta["host"],
                  settings=meta["settings"], packages=meta["packages"], git=meta["git"],
                  stacks=tuple(meta["stacks"]),
                  commands={s: normalised_command(r) for s, r in records.items() if r is not None},
                  stack_problems={s: p for s, r in records.items() if (p := stack_problem(r)) is not None})


def to_baseline(sample: Sample, name: str) -> Baseline:
    """The baseline file's record of a sample (runformat.baseline.Baseline)."""
    cells: list[BaselineCell] = [
        {"stack": k[0], "scenario": k[1], "endpoint": k[2], "concurrency": k[3],
         "values": {m: list(v) for m, v in c.values.items()},
         "failed": [{"repeat": r, "reason": why} for r, why in c.failed], "flags": list(c.flags)}
        for k, c in sorted(sample.cells.items())]
    settings: Settings = dict(sample.settings)  # type: ignore[assignment]  # run.json's, shape-checked on read
    return {"baseline_version": BASELINE_VERSION, "name": name, "saved_at": time.time(), "source": sample.label,
            "run_id": sample.run_id, "git": dict(sample.git), "host": dict(sample.host),
            "packages": dict(sample.packages), "settings": settings, "stacks": list(sample.stacks),
            "commands": {s: list(c) for s, c in sample.commands.items()},
            "stack_problems": dict(sample.stack_problems), "cells": cells}


def from_baseline(record: Baseline, path: Path) -> Sample:
    cells = {(c["stack"], c["scenario"], c["endpoint"], c["concurrency"]): CellSample(
        values={m: tuple(float(v) for v in c["values"].get(m, [])) for m in METRICS},
        failed=tuple((f["repeat"], f["reason"]) for f in c["failed"]), flags=tuple(c["flags"]))
        for c in record["cells"]}
    return Sample(label=f"baseline {record['name']}: {path}", run_id=record["run_id"], cells=cells,
                  host=record["host"], settings=record["settings"], packages=record["packages"],
                  git=record["git"], stacks=tuple(record["stacks"]),
                  commands={s: tuple(c) for s, c in record["commands"].items()},
                  stack_problems=record["stack_problems"])


def load_sample(spec: str, baselines_dir: Path = BASELINES_DIR) -> Sample:
    """A run folder, a baseline file, or a baseline NAME (baselines_dir/NAME.json); else one RunDirError line."""
    if Path(spec).is_dir():
        return from_analysis(analyze(Path(spec)))
    found = find_baseline(spec, baselines_dir)
    if found is None:
        raise RunDirError(f"{spec}: no such run folder, baseline file or baseline name (looked for "
                          f"{Path(baselines_dir) / spec}.json); pass a folder made by `stackmark bench` or a "
                          "baseline saved by `stackmark baseline save`")
    return from_baseline(read_baseline(found), found)
