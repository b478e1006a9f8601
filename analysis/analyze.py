"""A run analysed once: the one object every table, chart, report and terminal view is formatted from.

Compute, then format (pyperf's _compare.py): `analyze` reads the run folder,
builds the tidy frame, aggregates it once (the bootstraps), ranks that, finds
saturation and steadiness, the scenarios' tables (figures, stages,
endpoints, series) and worker scaling, and returns them together. Writers never
recompute; they take an Analysis.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.aggregate import Steadiness, aggregate, repeat_counts, steadiness, with_intervals
from analysis.flags import SATURATION_MAX_ERROR_PCT, SLO_P99_MS
from analysis.load import Run, load_run
from analysis.ranking import rank
from analysis.saturation import saturation
from analysis.scaling import scaling
from analysis.scenario_figures import scenario_tables
from analysis.tidy import tidy_from_run
from runformat.records import RunMeta


@dataclass(frozen=True, eq=False)
class Analysis:
    """A run folder and everything derived from it, each computed once."""

    run: Run  # run.json (migrated), every stack.json, the finished cells
    frame: pd.DataFrame  # the tidy frame: one row per finished cell (analysis.columns.COLUMNS)
    aggregate: pd.DataFrame  # one row per stack x cell over ok repeats (AGG_COLUMNS)
    ranking: pd.DataFrame  # the aggregate ranked per scenario and concurrency (RANK_COLUMNS)
    saturation: pd.DataFrame  # best level within the SLO per swept stack x scenario (SATURATION_COLUMNS)
    steadiness: Steadiness  # median CV of rps and of CPU per request over groups with repeats
    # what the scenarios answer (analysis.scenario_figures; each empty, with its columns, when nothing applies):
    figures: pd.DataFrame  # derived figures per ok cell, long form (FIGURE_COLUMNS)
    stages: pd.DataFrame  # each stage of a ramp or spike cell (STAGE_COLUMNS)
    endpoints: pd.DataFrame  # each request name of a cell that sent several (ENDPOINT_COLUMNS)
    series: pd.DataFrame  # each slot of a shaped cell's window (SERIES_COLUMNS)
    scaling: pd.DataFrame  # stacks run at several worker counts, against their 1-worker self (SCALING_COLUMNS)

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def meta(self) -> RunMeta:
        return self.run.meta

    @property
    def summary(self) -> pd.DataFrame:
        """summary.csv: the tidy frame with each group's interval over repeats (SUMMARY_COLUMNS)."""
        return with_intervals(self.frame, self.aggregate)

    @property
    def repeats(self) -> list[int]:
        """The distinct numbers of ok repeats per group (what the medians were taken over)."""
        return repeat_counts(self.aggregate)

    @property
    def open_scenarios(self) -> set[str]:
        """Scenarios of the open model: their concurrency is a cap on requests in flight, not users."""
        rated = pd.to_numeric(self.frame["offered_rps"], errors="coerce").notna()
        return {str(s) for s in self.frame.loc[rated, "scenario"]}


def compute(run: Run, frame: pd.DataFrame, slo_p99_ms: float = SLO_P99_MS,
            max_error_pct: float = SATURATION_MAX_ERROR_PCT) -> Analysis:
    """Everything derived from a loaded run and its tidy frame; the aggregate is computed here, once."""
    agg = aggregate(frame)
    ranked = rank(agg)
    tables = scenario_tables(run, frame)
    return Analysis(run=run, frame=frame, aggregate=agg, ranking=ranked,
                    saturation=saturation(agg, ranked, slo_p99_ms, max_error_pct), steadiness=steadiness(agg),
                    figures=tables.figures, stages=tables.stages, endpoints=tables.endpoints,
                    series=tables.series, scaling=scaling(agg, run.stacks, server_cpu_count(run)))


def server_cpu_count(run: Run) -> int:
    """The CPUs the servers got: settings.server_cpus, or every CPU of the machine when they were not pinned."""
    pinned = run.meta["settings"]["server_cpus"]
    return len(pinned) if pinned else int(run.meta["host"].get("cpu_count") or 0)


def analyze(run_dir: Path, slo_p99_ms: float = SLO_P99_MS,
            max_error_pct: float = SATURATION_MAX_ERROR_PCT) -> Analysis:
    """Read a run folder and analyse it; a RunDirError (one line) if it cannot be read or has no finished cell."""
    run = load_run(Path(run_dir))
    return compute(run, tidy_from_run(run), slo_p99_ms, max_error_pct)
