"""Which cells of a run answer which scenario question, chosen by what their data says, not by their names.

The report's "What the scenarios answer" section draws one chart and writes one sentence per kind of
question present in a run. A cell belongs to a kind by its endpoint path (/io?ms=N with an ideal rate,
/stream?kb=N), by a figure only that kind derives (a ramp's capacity, a spike's p99, a soak's RSS slope),
by its corrected percentiles (open model), or by its per-endpoint rows (the mix): so a user's own
scenario with the same shape is answered too. Everything here is a pure function of frames.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from analysis.columns import (
    AGG_COLUMNS,
    CELL_KEYS,
    ENDPOINT_COLUMNS,
    FIGURE_COLUMNS,
    SCALING_COLUMNS,
    SERIES_COLUMNS,
    STAGE_COLUMNS,
)
from analysis.ideal import io_wait_ms

PAYLOAD_PATH = re.compile(r"^/stream\?kb=(\d+(?:\.\d+)?)$")  # a streamed response of N KiB
# a figure only cells of that shape derive (analysis figures.csv): it marks the cell as one of them
SHAPE_MARKS = {"ramp": "capacity_rps", "spike": "spike_p99_ms", "soak": "rss_mb_per_h"}
GROUP = ["scenario", "concurrency"]


@dataclass(frozen=True)
class ScenarioFrames:
    """The frames the scenario section reads (each an Analysis field; empty with its columns when absent)."""

    aggregate: pd.DataFrame  # AGG_COLUMNS: medians over ok repeats
    figures: pd.DataFrame  # FIGURE_COLUMNS: one row per derived figure of one ok cell
    stages: pd.DataFrame  # STAGE_COLUMNS
    endpoints: pd.DataFrame  # ENDPOINT_COLUMNS
    series: pd.DataFrame  # SERIES_COLUMNS
    scaling: pd.DataFrame  # SCALING_COLUMNS
    cells: pd.DataFrame | None = None  # the tidy frame (COLUMNS): failed cells too, which the aggregate leaves out

    @staticmethod
    def empty() -> ScenarioFrames:
        """No scenario data at all: every frame empty with its columns."""
        def frame(columns: list[str]) -> pd.DataFrame:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        return ScenarioFrames(frame(AGG_COLUMNS), frame(FIGURE_COLUMNS), frame(STAGE_COLUMNS),
                              frame(ENDPOINT_COLUMNS), frame(SERIES_COLUMNS), frame(SCALING_COLUMNS))


def stream_kb(endpoint: object) -> float | None:
    """N of a `/stream?kb=N` endpoint path; None for any other endpoint."""
    found = PAYLOAD_PATH.match(endpoint) if isinstance(endpoint, str) else None
    return float(found.group(1)) if found else None


def _numbers(frame: pd.DataFrame, number_of: Callable[[object], float | None]) -> pd.Series:
    """`number_of` each row's endpoint path, NaN where it has none."""
    values = [number_of(e) for e in frame["endpoint"]]
    return pd.Series([math.nan if v is None else v for v in values], index=frame.index, dtype=float)


def _by_path(aggregate: pd.DataFrame, number_of: Callable[[object], float | None], column: str,
             needed: str) -> pd.DataFrame:
    """Aggregate rows whose endpoint `number_of` reads a number from, in `column`, with `needed` present."""
    if aggregate.empty:
        return aggregate.assign(**{column: pd.Series(dtype=float)})
    out = aggregate.assign(**{column: _numbers(aggregate, number_of)})
    keep = out[column].notna() & pd.to_numeric(out[needed], errors="coerce").notna()
    return out[keep & pd.to_numeric(out["rps"], errors="coerce").notna()]


def io_failed(cells: pd.DataFrame | None, ms: float, concurrency: int) -> list[str]:
    """The stacks none of whose /io?ms=`ms` cells at `concurrency` finished ok (e.g. nothing completed in the
    window): at high concurrency a blocking worker can leave every user waiting longer than the window."""
    if cells is None or cells.empty:
        return []
    level = cells[(_numbers(cells, io_wait_ms) == ms) & (cells["concurrency"] == concurrency)]
    ok = set(level.loc[level["status"] == "ok", "stack"])
    return sorted(set(level["stack"]) - ok)  # no repeat of theirs finished ok at this level


def io_rows(aggregate: pd.DataFrame) -> pd.DataFrame:
    """/io?ms=N cells with an ideal rate (closed model), column `ms` added."""
    return _by_path(aggregate, io_wait_ms, "ms", "ideal_rps")


def payload_rows(aggregate: pd.DataFrame) -> pd.DataFrame:
    """/stream?kb=N cells with MB/s, column `kb` added; each (stack) at the payload cells' top concurrency."""
    rows = _by_path(aggregate, stream_kb, "kb", "mb_per_s")
    if rows.empty:
        return rows
    top: pd.DataFrame = rows[rows["concurrency"] == rows["concurrency"].max()]
    return top


def open_rows(aggregate: pd.DataFrame) -> pd.DataFrame:
    """Open-model cells with coordinated-omission-corrected percentiles."""
    if aggregate.empty:
        return aggregate
    return aggregate[pd.to_numeric(aggregate["co_p99_ms"], errors="coerce").notna()]


def shape_cells(figures: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The cells (CELL_KEYS) of one shape kind, found by the figure only that kind derives."""
    if figures.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CELL_KEYS})
    marked = figures[figures["figure"] == SHAPE_MARKS[kind]]
    return marked[CELL_KEYS].drop_duplicates().reset_index(drop=True)


def by_group(frame: pd.DataFrame) -> list[tuple[tuple[str, int], pd.DataFrame]]:
    """The frame's rows per (scenario, concurrency), in order: one panel or one clause each."""
    if frame.empty:
        return []
    keys = frame[GROUP].drop_duplicates().sort_values(GROUP)
    return [((str(s), int(c)), frame[(frame["scenario"] == s) & (frame["concurrency"] == c)])
            for s, c in zip(keys["scenario"], keys["concurrency"], strict=True)]


def mix_endpoints(endpoints: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Per-endpoint rows of the cells that sent several request names, less the shaped ones (a soak of the
    mix is answered as a soak)."""
    shaped = pd.concat([shape_cells(figures, kind) for kind in SHAPE_MARKS], ignore_index=True)
    if endpoints.empty or shaped.empty:
        return endpoints
    mine = pd.MultiIndex.from_frame(endpoints[CELL_KEYS].astype(str))
    return endpoints[~mine.isin(pd.MultiIndex.from_frame(shaped[CELL_KEYS].astype(str)))]


def first_repeat(cells: pd.DataFrame) -> pd.DataFrame:
    """Each (stack, scenario, concurrency)'s lowest repeat: what a chart of one run's course draws."""
    if cells.empty:
        return cells
    low = cells.groupby(["stack", *GROUP])["repeat"].transform("min")
    return cells[cells["repeat"] == low]


def of_cells(frame: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """The rows of `frame` (with CELL_KEYS) that belong to `cells`."""
    if frame.empty or cells.empty:
        return frame.iloc[0:0]
    keys = pd.MultiIndex.from_frame(cells[CELL_KEYS].astype(str))
    mine = pd.MultiIndex.from_frame(frame[CELL_KEYS].astype(str))
    return frame[mine.isin(keys)]


def figure_medians(figures: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Per (stack, scenario, concurrency, figure): the median value over repeats, its unit and first note."""
    rows = of_cells(figures, cells)
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ["stack", *GROUP, "figure", "value", "unit", "note",
                                                                      "repeats"]})
    rows = rows.assign(value=pd.to_numeric(rows["value"], errors="coerce"))
    return (rows.groupby(["stack", *GROUP, "figure"], sort=False)
            .agg(value=("value", "median"), unit=("unit", "first"),
                 note=("note", lambda s: next((str(v) for v in s if isinstance(v, str) and v), "")),
                 repeats=("repeat", "nunique"))
            .reset_index())


def numbers(values: Iterable[object]) -> list[float]:
    """The finite numbers among `values`."""
    out = []
    for v in values:
        try:
            f = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def span(values: Iterable[object], spec: str = ",.0f", unit: str = "") -> str:
    """'81-96%': the range of the finite values over stacks, or the one value; '–' when none."""
    found = numbers(values)
    if not found:
        return "–"
    lo, hi = format(min(found), spec), format(max(found), spec)
    return (lo if lo == hi else f"{lo}–{hi}") + unit


def runs_text(repeats: Iterable[object]) -> str:
    """'one run' when every group had one ok repeat; else the medians' repeats."""
    found = sorted({int(v) for v in numbers(repeats)})
    if not found or found == [1]:
        return "one run"
    if len(found) == 1:
        return f"medians of {found[0]} repeats"
    return f"medians of {found[0]}–{found[-1]} repeats"


def interface_name(value: object) -> str:
    """'async (ASGI)' or 'sync (WSGI)': how the I/O question names the two kinds of stacks."""
    return {"asgi": "async (ASGI)", "wsgi": "sync (WSGI)"}.get(str(value).lower(), str(value))
