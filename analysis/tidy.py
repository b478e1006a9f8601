"""The tidy frame: one row per finished cell, columns analysis.columns.COLUMNS.

Every later table (aggregate, ranking, saturation, summary.csv) is computed
from this frame, so its dtypes are fixed here once: nullable Int64 counts,
nullable booleans for flags (<NA> = could not be decided), floats for numbers.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pandas as pd

from analysis.cell import cell_metrics, empty_metrics
from analysis.columns import COLUMNS, FLAG_COLUMNS, INT_COLUMNS, NUMBER_METRICS, SPEC_COLUMNS, TEXT_COLUMNS
from analysis.load import Cell, Run, load_run
from runformat.errors import RunDirError
from runformat.records import StackRecord

# aggregate, cell_metrics and ranking are here only for callers of the old analysis.tidy
# (stackmark/calibrate.py, benchmarks/harness.py, stackmark/cli.py, tests/test_flags_e2e.py) until they
# import them from analysis.aggregate, analysis.cell and analysis.ranking, or use analysis.analyze.

__all__ = ["cell_row", "stack_workers", "tidy_frame", "tidy_from_run"]


def stack_workers(spec: StackRecord | None) -> int | None:
    """The stack's worker count from its stack.json (Stack.to_dict writes `workers`); None if not recorded."""
    value = cast(Mapping[str, Any], spec).get("workers") if spec is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def cell_row(cell: Cell, run: Run) -> dict[str, Any]:
    """A cell's identifiers, its stack's spec, and its metrics; a failed cell keeps only why it failed."""
    meta = cell.meta
    spec = run.stacks.get(cell.stack)
    row: dict[str, Any] = {
        "stack": cell.stack,
        **{col: spec.get(col) if spec is not None else None for col in SPEC_COLUMNS},
        "scenario": meta["scenario"], "endpoint": meta["endpoint"],
        "concurrency": meta["concurrency"], "repeat": meta["repeat"],
        "status": meta["status"] or "failed", "reason": meta["reason"],
    }
    if row["status"] == "ok":
        settings = run.meta["settings"]
        row.update(cell_metrics(cell, run.meta["host"].get("cpu_count"), settings["loadgen_cpus"],
                                settings["server_cpus"]))
    else:
        row.update(empty_metrics())  # a failed cell's partial numbers would be read as results
    row["workers"] = stack_workers(spec)  # what ran, failed or not
    return row


def tidy_from_run(run: Run) -> pd.DataFrame:
    """The tidy frame of an already loaded Run; a RunDirError if no cell has finished."""
    if not run.cells:
        raise RunDirError(f"{run.path}: no finished cells yet; wait for `stackmark bench` to finish a cell "
                          "or check the stacks' start/verify outcome in stacks/*/stack.json")
    df = pd.DataFrame([cell_row(c, run) for c in run.cells], columns=COLUMNS)
    for col in INT_COLUMNS:
        df[col] = pd.array([None if pd.isna(v) else int(v) for v in df[col]], dtype="Int64")
    for col in FLAG_COLUMNS:
        df[col] = pd.array([None if v is None or pd.isna(v) else bool(v) for v in df[col]], dtype="boolean")
    for col in NUMBER_METRICS:
        if col not in INT_COLUMNS:
            df[col] = df[col].astype(float)
    for col in TEXT_COLUMNS:
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df.sort_values(["stack", "scenario", "concurrency", "repeat"], kind="stable").reset_index(drop=True)


def tidy_frame(run_dir: Path) -> pd.DataFrame:
    """One row per finished cell of a run folder; failed cells keep status/reason and NaN metrics."""
    return tidy_from_run(load_run(Path(run_dir)))
