"""A run folder in memory: run.json, every stack.json, and the finished cells, read through runformat.

Only reads files: never imports the harness, never starts anything, so old
runs can be re-analysed long after the code that made them has changed.
runformat owns the format (file names, shape checks, the schema migration,
merging a multi-process cell's latency files); this module only gathers what
it reads, plus samples.csv, which analysis reads with pandas. Finished cells
are those with a cell.json (it is written last); other cell folders are
leftovers of an interrupted run and are skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.samples import read_samples
from runformat import paths, read
from runformat.records import CellRecord, LatencyFile, Phases, RunMeta, StackRecord


@dataclass(frozen=True)
class Cell:
    """One finished (stack, scenario, concurrency, repeat) measurement; optional files may be None."""

    path: Path
    meta: CellRecord
    phases: Phases | None = None
    latency: LatencyFile | None = None  # merged over latency.json and any latency-w*.json
    samples: pd.DataFrame | None = None
    latency_files: int = 0  # how many latency files were merged into `latency`

    @property
    def stack(self) -> str:
        return self.meta["stack"]


@dataclass(frozen=True)
class Run:
    """A run folder: run.json (migrated to the current schema), every stack.json, the finished cells."""

    path: Path
    meta: RunMeta
    stacks: dict[str, StackRecord | None] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)


def load_cell(cell_dir: Path) -> Cell | None:
    """One cell folder, or None if it is unfinished (no cell.json yet)."""
    cell_dir = Path(cell_dir)
    meta = read.read_cell(cell_dir)
    if meta is None:
        return None
    latency, files = read.read_latency(cell_dir)
    return Cell(path=cell_dir, meta=meta, phases=read.read_phases(cell_dir), latency=latency,
                samples=read_samples(cell_dir / paths.SAMPLES_CSV), latency_files=files)


def load_stacks(run_dir: Path) -> dict[str, StackRecord | None]:
    """stack id -> its stack.json (None if the stack folder has no stack.json yet)."""
    return {d.name: read.read_stack(d) for d in paths.stack_dirs(Path(run_dir))}


def load_cells(run_dir: Path) -> list[Cell]:
    """All finished cells of all stacks, in folder-name order."""
    found = (load_cell(d) for stack in paths.stack_dirs(Path(run_dir)) for d in paths.cell_dirs(stack))
    return [cell for cell in found if cell is not None]


def load_run(run_dir: Path) -> Run:
    """Everything analysis needs from a run folder; a RunDirError (one line) if it cannot be read."""
    run_dir = Path(run_dir)
    meta = read.read_run_meta(run_dir)
    return Run(path=run_dir, meta=meta, stacks=load_stacks(run_dir), cells=load_cells(run_dir))
