"""Each cell's numbers over time, read from files already in its folder: warm-up effects and stalls.

The medians of a cell hide how it got there. Two series are on disk: Locust's per-second stats history
(locust_stats_history.csv, the whole run: primer, warm-up and the measured window; its percentile
columns are Locust's trailing-window response times) and latency.json's `timeline` (requests completed
in each 0.1 s slot of the measured window: a stall shows as a run of empty slots). Only reads files;
a missing or unreadable file gives an empty series, never an error, so a partial run still charts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.load import Cell, Run
from runformat import paths

HISTORY_CSV = f"{paths.LOCUST_CSV_PREFIX}_stats_history.csv"
GroupKey = tuple[str, int]  # (scenario, concurrency): one timeline chart


@dataclass(frozen=True)
class CellSeries:
    """One cell over time; seconds count from the start of its Locust run (the primer)."""

    stack: str
    scenario: str
    concurrency: int
    repeat: int
    ok: bool
    seconds: list[float] = field(default_factory=list)  # Locust history, one point a second
    rps: list[float] = field(default_factory=list)  # requests completed in each second
    p50_ms: list[float] = field(default_factory=list)  # Locust's trailing-window median (NaN when it had none)
    p99_ms: list[float] = field(default_factory=list)
    fine_seconds: list[float] = field(default_factory=list)  # latency.json timeline: 0.1 s slots of the window
    fine_rps: list[float] = field(default_factory=list)
    window: tuple[float, float] | None = None  # the measured window

    @property
    def empty(self) -> bool:
        return not self.seconds and not self.fine_seconds


def read_history(path: Path) -> pd.DataFrame:
    """The 'Aggregated' rows of a Locust stats history: time, total count and percentiles; empty if unreadable."""
    try:
        df = pd.read_csv(path, na_values=["N/A"])
        df = df[df["Name"] == "Aggregated"]
        out = pd.DataFrame({"time": pd.to_numeric(df["Timestamp"], errors="coerce"),
                            "total": pd.to_numeric(df["Total Request Count"], errors="coerce"),
                            "p50": pd.to_numeric(df["50%"], errors="coerce"),
                            "p99": pd.to_numeric(df["99%"], errors="coerce")})
    except (OSError, ValueError, KeyError, pd.errors.ParserError):
        return pd.DataFrame(columns=["time", "total", "p50", "p99"])
    return out.dropna(subset=["time", "total"]).drop_duplicates("time", keep="last").sort_values("time")


def cell_series(cell: Cell) -> CellSeries:
    """A cell's history and its measured window's 0.1 s timeline, on one clock."""
    phases = cell.phases or {}
    hist = read_history(cell.path / HISTORY_CSV)
    start = phases.get("primer")
    if start is None:
        start = float(hist["time"].iloc[0]) if not hist.empty else phases.get("measure")
    base = float(start) if start is not None else 0.0
    meta = cell.meta
    series = dict(stack=meta["stack"], scenario=meta["scenario"], concurrency=int(meta["concurrency"]),
                  repeat=int(meta["repeat"]), ok=meta["status"] == "ok")
    if len(hist) >= 2:
        counted = hist["total"].diff()
        counted = counted.where(counted >= 0, hist["total"])  # Locust reset its stats: counted since the reset
        rate = (counted / hist["time"].diff()).iloc[1:]
        series.update(seconds=[float(t) - base for t in hist["time"].iloc[1:]], rps=[float(v) for v in rate],
                      p50_ms=[float(v) for v in hist["p50"].iloc[1:]], p99_ms=[float(v) for v in hist["p99"].iloc[1:]])
    measure, end = phases.get("measure"), phases.get("end")
    if measure is not None and end is not None:
        series["window"] = (float(measure) - base, float(end) - base)
    timeline = cell.latency.get("timeline") if cell.latency else None
    if timeline and measure is not None and end is not None and timeline.get("slot_s"):
        slot = float(timeline["slot_s"])
        whole = max(1, round((float(end) - float(measure)) / slot))  # a last, partly open slot would read as a dip
        counts = (timeline.get("completed") or [])[:whole]
        series.update(fine_seconds=[float(measure) - base + slot * (i + 0.5) for i in range(len(counts))],
                      fine_rps=[float(n) / slot for n in counts])
    return CellSeries(**series)  # type: ignore[arg-type]


def series_by_group(run: Run) -> dict[GroupKey, list[CellSeries]]:
    """Per (scenario, concurrency), one series per stack: its first repeat with data (an ok one if any)."""
    chosen: dict[tuple[str, int, str], CellSeries] = {}
    for cell in sorted(run.cells, key=lambda c: (c.meta["status"] != "ok", int(c.meta["repeat"]))):
        s = cell_series(cell)
        key = (s.scenario, s.concurrency, s.stack)
        if not s.empty and key not in chosen:
            chosen[key] = s
    groups: dict[GroupKey, list[CellSeries]] = {}
    for (scenario, conc, _), s in sorted(chosen.items()):
        groups.setdefault((scenario, conc), []).append(s)
    return groups
