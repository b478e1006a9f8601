"""The scenarios' companion tables (figures, stages, endpoints, series), from a loaded run, computed once.

Pure: the loaded Run (its cells' latency records and samples) and the tidy frame in, four frames out,
each with its columns from analysis.columns (empty with those columns when nothing applies). Which
figures a cell gets is declared by what it recorded: an `/io?ms=N` endpoint (the ideal), a latency.json
`shape` of kind ramp, spike or soak (FIGURES), more than one request name (endpoints.csv).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd

from analysis.cell import window
from analysis.columns import (
    CELL_KEYS,
    ENDPOINT_COLUMNS,
    FIGURE_COLUMNS,
    SERIES_COLUMNS,
    STAGE_COLUMNS,
    Row,
)
from analysis.figures_ramp import ramp_figures
from analysis.figures_soak import soak_figures
from analysis.figures_spike import spike_figures
from analysis.load import Cell, Run
from analysis.scenario_rows import cell_key, endpoint_rows, figure, ratio, series_rows, stage_rows
from analysis.tidy import stack_workers
from runformat.records import ShapeBlock

INT_FIELDS = ["concurrency", "repeat", "index", "users", "requests", "errors", "completed", "failures"]


@dataclass(frozen=True)
class ShapedCell:
    """One ok cell with a shape block, with what every kind's figures are computed from."""

    key: Row
    cell: Cell
    shape: ShapeBlock
    start: float  # the measured window, unix seconds
    end: float
    stages: list[Row]  # its stages.csv rows
    slots: list[Row]  # its series.csv rows
    workers: int | None


FIGURES: dict[str, Callable[[ShapedCell], list[Row]]] = {
    "ramp": lambda c: ramp_figures(c.key, c.stages, c.shape),
    "spike": lambda c: spike_figures(c.key, c.stages, c.slots),
    "soak": lambda c: soak_figures(c.key, c.cell.samples, c.start, c.end, c.slots, c.workers),
}


class ScenarioTables(NamedTuple):
    figures: pd.DataFrame  # FIGURE_COLUMNS
    stages: pd.DataFrame  # STAGE_COLUMNS
    endpoints: pd.DataFrame  # ENDPOINT_COLUMNS
    series: pd.DataFrame  # SERIES_COLUMNS


def table(rows: list[Row], columns: list[str]) -> pd.DataFrame:
    """Rows as a frame with exactly `columns`, counts as nullable Int64, sorted by cell (stable)."""
    df = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col in INT_FIELDS:
            df[col] = pd.array([None if pd.isna(v) else int(v) for v in df[col]], dtype="Int64")
        elif col in ("value", "rss_mb") or col.endswith(("_s", "_ms", "_pct", "rps")):
            df[col] = df[col].astype(float)
        else:  # text: None, never NaN, for what is not there (as the tidy frame's text columns)
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df.sort_values(CELL_KEYS, kind="stable").reset_index(drop=True) if rows else df


def io_figures(frame: pd.DataFrame) -> list[Row]:
    """ideal_rps and ideal_pct (rps / ideal x 100) of every ok cell that has an ideal (/io?ms=N)."""
    rows: list[Row] = []
    ok = frame[(frame["status"] == "ok") & pd.to_numeric(frame["ideal_rps"], errors="coerce").notna()]
    for r in ok.to_dict("records"):
        key = {k: r[k] for k in CELL_KEYS}
        rows += [figure(key, "ideal_rps", float(r["ideal_rps"]), "req/s"),
                 figure(key, "ideal_pct", ratio(float(r["rps"]), float(r["ideal_rps"]), 100.0), "%")]
    return rows


def shaped(cell: Cell, run: Run, start: float, end: float) -> ShapedCell | None:
    shape = cell.latency.get("shape") if cell.latency is not None else None
    if shape is None:
        return None
    return ShapedCell(cell_key(cell), cell, shape, start, end, stage_rows(cell, start), series_rows(cell, start),
                      stack_workers(run.stacks.get(cell.stack)))


def scenario_tables(run: Run, frame: pd.DataFrame) -> ScenarioTables:
    """figures, stages, endpoints and series of every ok cell of a run (results/README.md says each rule)."""
    figures, stages, endpoints, series = io_figures(frame), [], [], []
    for cell in run.cells:
        span = window(cell)
        if cell.meta["status"] != "ok" or cell.latency is None or span is None:
            continue
        endpoints += endpoint_rows(cell, span[1] - span[0])
        view = shaped(cell, run, *span)
        if view is None:
            continue
        stages += view.stages
        series += view.slots
        kind = FIGURES.get(view.shape["kind"])
        if kind is not None:
            figures += kind(view)
    return ScenarioTables(table(figures, FIGURE_COLUMNS), table(stages, STAGE_COLUMNS),
                          table(endpoints, ENDPOINT_COLUMNS), table(series, SERIES_COLUMNS))
