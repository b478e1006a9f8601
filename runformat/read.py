"""Reading a run folder's JSON files: parsed, shape-checked, migrated; damage is one clear line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from runformat import paths
from runformat.errors import RunDirError
from runformat.latency import merge_latency
from runformat.records import CellRecord, LatencyFile, Phases, RunMeta, StackRecord, conform
from runformat.schema import migrate


def read_json(path: Path) -> Any:
    """Parse one JSON file, turning damage into a RunDirError that names the file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RunDirError(f"{path}: not valid JSON ({e.msg}, line {e.lineno}); the file is damaged, "
                          "delete that folder and measure it again") from None
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: not UTF-8 text; the file is damaged, delete that folder and "
                          "measure it again") from None


def read_run_meta(run_dir: Path) -> RunMeta:
    """run.json of a run folder, migrated to the current schema; refuses what is not a stackmark run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such folder; pass a run folder made by `stackmark bench` "
                          "(results/<run-id>)")
    source = run_dir / paths.RUN_JSON
    if not source.is_file():
        raise RunDirError(f"{run_dir}: not a stackmark run folder (no run.json); pass a folder made by "
                          "`stackmark bench`")
    return cast(RunMeta, conform(migrate(read_json(source), source), RunMeta, source))


def read_stack(stack: Path) -> StackRecord | None:
    """stack.json of a stack folder; None if the stack has not written it yet."""
    source = Path(stack) / paths.STACK_JSON
    return cast(StackRecord, conform(read_json(source), StackRecord, source)) if source.is_file() else None


def read_cell(cell: Path) -> CellRecord | None:
    """cell.json of a cell folder; None while the cell is unfinished (it is written last)."""
    source = Path(cell) / paths.CELL_JSON
    return cast(CellRecord, conform(read_json(source), CellRecord, source)) if source.is_file() else None


def read_phases(cell: Path) -> Phases | None:
    source = Path(cell) / paths.PHASES_JSON
    return cast(Phases, conform(read_json(source), Phases, source)) if source.is_file() else None


def read_latency(cell: Path) -> tuple[LatencyFile | None, int]:
    """The cell's latency files merged into one record, and how many files there were."""
    files = paths.latency_paths(Path(cell))
    parts = [cast(LatencyFile, conform(read_json(p), LatencyFile, p)) for p in files]
    return merge_latency(parts), len(files)


def cell_is_ok(cell: Path) -> bool:
    """A finished cell that says ok; failed, unfinished or unreadable cells run again on resume."""
    try:
        record = read_cell(cell)
    except RunDirError:
        return False
    return record is not None and record["status"] == "ok"
