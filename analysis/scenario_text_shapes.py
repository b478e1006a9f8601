"""What the shaped runs answer (ramp, spike, soak): one sentence each from figures.csv's medians over
repeats, and their figures as a table (one column per figure). See analysis.scenario_text for the rest.
"""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from analysis.labels import FIGURE_LABELS, LABELS
from analysis.scenario_cells import (
    GROUP,
    ScenarioFrames,
    by_group,
    figure_medians,
    of_cells,
    runs_text,
    shape_cells,
    span,
)
from analysis.scenario_text import Table, number_text, nums, pct_span

SHORT_SOAK_S = 600.0  # under this, a soak's slope is a trend to watch, not a verdict on a leak
RECOVERY_FACTOR = 1.5  # recovery: p99 back within this factor of its level before the spike (analysis figures)


def duration_text(seconds: float) -> str:
    """'12 s', '30 min', '4.0 h': a window's length as people say it; '?' when unknown."""
    if seconds != seconds:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _figures_table(frames: ScenarioFrames, cells: pd.DataFrame) -> Table:
    """One row per (stack, scenario, concurrency), one column per figure (median over repeats), then notes."""
    med = figure_medians(frames.figures, cells)
    names = list(dict.fromkeys(med["figure"]))
    units = {str(r["figure"]): str(r["unit"] or "") for r in med.to_dict("records")}
    headers = ["stack", "scenario", LABELS["concurrency"],
               *[FIGURE_LABELS.get(n, f"{n} ({units[n]})" if units[n] else n) for n in names], "note"]
    rows = []
    for (scenario, conc), cell in by_group(med):
        for stack, g in cell.groupby("stack", sort=True):
            values = dict(zip(g["figure"], g["value"], strict=True))
            notes = "; ".join(dict.fromkeys(n for n in g["note"] if n))
            rows.append([str(stack), scenario, str(conc), *[number_text(values.get(n)) for n in names], notes])
    return Table(headers, rows)


def _wide(frames: ScenarioFrames, kind: str) -> pd.DataFrame:
    """A shape kind's figures, one row per (stack, scenario, concurrency), one column per figure, + repeats."""
    med = figure_medians(frames.figures, shape_cells(frames.figures, kind))
    if med.empty:
        return med
    wide = med.set_index(["stack", *GROUP, "figure"])["value"].unstack("figure")  # all-NaN figures kept
    wide["repeats"] = med.groupby(["stack", *GROUP])["repeats"].max()
    return wide.reset_index()



def ramp_sentence(frames: ScenarioFrames) -> str | None:
    wide = _wide(frames, "ramp")
    if wide.empty:
        return None
    parts = []
    for (scenario, conc), g in by_group(wide):
        knee = g[nums(g, "knee_users").notna()]
        none = len(g) - len(knee)
        text = (f"in {scenario} (steps up to {int(conc)} users, p99 SLO {span(nums(g, 'slo_p99_ms'), 'g')} ms), "
                f"the knee (the most users within it) was {span(nums(knee, 'knee_users'))} users at "
                f"{span(nums(knee, 'knee_rps'))} req/s on {len(knee)} of {len(g)} stack(s)")
        if none:
            text += f" ({none} had no step within it)"
        at_top = int((nums(knee, "knee_users") >= conc).sum())
        if at_top:  # never crossed the SLO: the knee is not found, only bounded from below
            text += (f"; on {at_top} of them every step stayed within it, so their knee is at or above "
                     f"{int(conc)} users (raise --concurrency to find it)")
        text += f"; the capacity found was {span(nums(g, 'capacity_rps'))} req/s"
        at_80 = nums(g, "p99_at_80pct_ms")
        text += (f", with p99 {span(at_80, ',.1f')} ms at 80% of it" if at_80.notna().any()
                 else ", and 80% of it lay below the first step (which already ran faster than that)")
        parts.append(text)
    text = "; ".join(parts)
    return f"{text[0].upper()}{text[1:]} ({runs_text(wide['repeats'])})."


def _stage_users(frames: ScenarioFrames, cells: pd.DataFrame, stage: str) -> str:
    st = of_cells(frames.stages, cells)
    return span(st.loc[st["stage"] == stage, "users"], ",.0f")


def spike_sentence(frames: ScenarioFrames) -> str | None:
    wide = _wide(frames, "spike")
    if wide.empty:
        return None
    cells = shape_cells(frames.figures, "spike")
    parts = []
    for (scenario, conc), g in by_group(wide):
        mine = cells[(cells["scenario"] == scenario) & (cells["concurrency"] == conc)]
        back = nums(g, "recovery_s")
        text = (f"in {scenario} (a spike from {_stage_users(frames, mine, 'before')} to "
                f"{_stage_users(frames, mine, 'spike')} users), p99 went from {span(nums(g, 'before_p99_ms'), ',.1f')} "
                f"ms before to {span(nums(g, 'spike_p99_ms'), ',.1f')} ms during the spike, with "
                f"{pct_span(nums(g, 'spike_error_pct'))} errors")
        if back.notna().any():
            text += (f"; p99 was back within {RECOVERY_FACTOR:g}x of its level before {span(back, ',.1f')} s after "
                     f"it on {int(back.notna().sum())} of {len(g)} stack(s)")
        if back.isna().any():
            text += f"; {int(back.isna().sum())} stack(s) not back within the window"
        parts.append(text)
    text = "; ".join(parts)
    return f"{text[0].upper()}{text[1:]} ({runs_text(wide['repeats'])})."


def _window_s(frames: ScenarioFrames, cells: pd.DataFrame) -> float:
    """The soak's measured length: from the first slot's start to the last slot's end (longest stack)."""
    rows = of_cells(frames.series, cells)
    t = pd.to_numeric(rows["t_s"], errors="coerce").dropna()
    if t.empty:
        return float("nan")
    steps = t.sort_values().drop_duplicates().diff().dropna()
    return float(t.max() - t.min() + (steps.median() if not steps.empty else 1.0))


def soak_sentence(frames: ScenarioFrames) -> str | None:
    wide = _wide(frames, "soak")
    if wide.empty:
        return None
    cells = shape_cells(frames.figures, "soak")
    parts, shortest = [], float("inf")
    for (scenario, conc), g in by_group(wide):
        length = _window_s(frames, cells[(cells["scenario"] == scenario) & (cells["concurrency"] == conc)])
        shortest = min(shortest, length) if length == length else shortest
        parts.append(
            f"in {scenario} (a {duration_text(length)} soak at {int(conc)} users), server memory grew "
            f"{span(nums(g, 'rss_mb_per_h_per_worker'), ',.1f')} MB/h per worker (fitted slope; RSS "
            f"{span(nums(g, 'rss_start_mb'), ',.0f')} MB at the start, {span(nums(g, 'rss_end_mb'), ',.0f')} MB at "
            f"the end), throughput drifted {span(nums(g, 'rps_drift_pct_per_h'), '+,.1f')}% per hour and errors "
            f"{span(nums(g, 'error_drift_pts_per_h'), '+,.2f')} points per hour")
    text = "; ".join(parts)
    text = f"{text[0].upper()}{text[1:]} ({runs_text(wide['repeats'])})."
    if shortest < SHORT_SOAK_S:
        text += " A window this short shows a trend, not a leak: soak for an hour or more before reading a slope."
    return text



def shape_table(kind: str) -> Callable[[ScenarioFrames], Table]:
    """The figures table of a shape kind (ramp, spike, soak): a function of the frames."""
    def table(frames: ScenarioFrames) -> Table:
        return _figures_table(frames, shape_cells(frames.figures, kind))
    return table
