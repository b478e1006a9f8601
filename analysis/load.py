"""Read a raw run folder (results/README.md, schema_version 1) into memory.

Only reads files: never imports the harness, never starts anything, so old
runs can be re-analysed long after the code that made them has changed.
Finished cells are those with a cell.json (it is written last); other cell
folders are leftovers of an interrupted run and are skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.errors import RunDirError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Cell:
    """One finished (stack, scenario, concurrency, repeat) measurement; optional files may be None."""

    path: Path
    meta: dict[str, Any]
    phases: dict[str, Any] | None = None
    latency: dict[str, Any] | None = None
    samples: pd.DataFrame | None = None

    @property
    def stack(self) -> str:
        return str(self.meta.get("stack") or self.path.parent.name)


@dataclass(frozen=True)
class Run:
    """A run folder: run.json, the stack.json of every stack folder, and the finished cells."""

    path: Path
    meta: dict[str, Any]
    stacks: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)


def read_json(path: Path) -> Any:
    """Parse one JSON file, turning damage into a RunDirError that names the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RunDirError(f"{path}: not valid JSON ({e.msg}, line {e.lineno}); the file is damaged, "
                          "delete that folder and measure it again") from None
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: not UTF-8 text; the file is damaged, delete that folder and measure it again") from None


def _optional_json(path: Path) -> Any | None:
    return read_json(path) if path.is_file() else None


def load_run_meta(run_dir: Path) -> dict[str, Any]:
    """Read run.json and refuse folders that are not schema-1 stackmark runs."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such folder; pass a run folder made by `stackmark bench` (results/<run-id>)")
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise RunDirError(f"{run_dir}: not a stackmark run folder (no run.json); pass a folder made by `stackmark bench`")
    meta = read_json(run_json)
    if not isinstance(meta, dict):
        raise RunDirError(f"{run_json}: not a stackmark run.json (expected a JSON object); pass a folder made by `stackmark bench`")
    version = meta.get("schema_version")
    if version is None:
        raise RunDirError(f"{run_json}: no schema_version, so not a stackmark run file; pass a folder made by `stackmark bench`")
    if isinstance(version, bool) or not isinstance(version, int):
        raise RunDirError(f"{run_json}: schema_version {version!r} is not a whole number; the file is not from stackmark")
    if version > SCHEMA_VERSION:
        raise RunDirError(f"{run_dir}: schema_version {version} is newer than this stackmark understands "
                          f"({SCHEMA_VERSION}); upgrade stackmark")
    if version != SCHEMA_VERSION:
        raise RunDirError(f"{run_dir}: schema_version {version} is unknown (this stackmark reads {SCHEMA_VERSION}); "
                          "re-run `stackmark bench` to get a readable folder")
    return meta


def read_samples(path: Path) -> pd.DataFrame | None:
    """samples.csv as numbers sorted by time; None when absent or empty (a cell that died early)."""
    if not path.is_file():
        return None
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
    except pd.errors.ParserError as e:
        raise RunDirError(f"{path}: not a readable CSV ({e}); the file is damaged, delete that folder and measure it again") from None
    for col in df.columns:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    if "t" not in df.columns:
        raise RunDirError(f"{path}: no `t` column, so not a stackmark samples.csv; delete that folder and measure it again")
    return df.dropna(subset=["t"]).sort_values("t", kind="stable").reset_index(drop=True)


def load_cell(cell_dir: Path) -> Cell | None:
    """One cell folder, or None if it is unfinished (no cell.json yet)."""
    cell_json = cell_dir / "cell.json"
    if not cell_json.is_file():
        return None
    meta = read_json(cell_json)
    if not isinstance(meta, dict):
        raise RunDirError(f"{cell_json}: expected a JSON object; the file is damaged, delete that folder and measure it again")
    return Cell(
        path=cell_dir,
        meta=meta,
        phases=_optional_json(cell_dir / "phases.json"),
        latency=_optional_json(cell_dir / "latency.json"),
        samples=read_samples(cell_dir / "samples.csv"),
    )


def _stack_dirs(run_dir: Path) -> list[Path]:
    stacks_dir = run_dir / "stacks"
    if not stacks_dir.is_dir():
        return []
    return sorted(p for p in stacks_dir.iterdir() if p.is_dir())


def load_stacks(run_dir: Path) -> dict[str, dict[str, Any] | None]:
    """stack id -> stack.json contents (None if the stack folder has no stack.json yet)."""
    return {d.name: _optional_json(d / "stack.json") for d in _stack_dirs(Path(run_dir))}


def load_cells(run_dir: Path) -> list[Cell]:
    """All finished cells of all stacks, in folder-name order."""
    cells: list[Cell] = []
    for stack_dir in _stack_dirs(Path(run_dir)):
        for cell_dir in sorted(p for p in stack_dir.iterdir() if p.is_dir()):
            cell = load_cell(cell_dir)
            if cell is not None:
                cells.append(cell)
    return cells


def load_run(run_dir: Path) -> Run:
    """Everything analysis needs from a run folder, validated against schema_version 1."""
    run_dir = Path(run_dir)
    meta = load_run_meta(run_dir)
    return Run(path=run_dir, meta=meta, stacks=load_stacks(run_dir), cells=load_cells(run_dir))
