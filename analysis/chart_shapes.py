"""The scenario section's charts of shaped runs, whose load changes inside the measured window: the ramp's
steps (capacity, knee, SLO), the spike's course (the spike shaded, recovery marked) and the soak's drift
(RSS with its fitted slope, req/s per slot).

Cells are found by the figures only their shape derives (analysis.scenario_cells.SHAPE_MARKS); each
chart draws each stack's first repeat, one line per stack. None when the run has no such cells.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.chart_scenarios import emit, legend_right, log2_levels, log_axis, rate_axis, stack_colours
from analysis.charts import Chart
from analysis.labels import LABELS
from analysis.scenario_cells import by_group, first_repeat, numbers, of_cells, shape_cells

SLO_COLOR, SPIKE_SHADE = "#b00020", "#f2c14e55"


@dataclass(frozen=True)
class Panels:
    """One shape's cells (each stack's first repeat) laid out: a row of two panels per scenario and users."""

    cells: pd.DataFrame  # the cells' keys
    rows: pd.DataFrame  # the drawn frame's rows of those cells
    figures: pd.DataFrame  # their figures.csv rows
    colour: dict[str, str]  # stack -> its colour
    groups: list[tuple[tuple[str, int], pd.DataFrame]]  # (scenario, users) -> its rows
    fig: Figure
    axes: Any  # numpy array of Axes pairs, one row per group


def _panels(frame: pd.DataFrame, figures: pd.DataFrame, kind: str) -> Panels | None:
    """The figure of a shape's chart, or None when the run has no cell of that shape."""
    cells = first_repeat(shape_cells(figures, kind))
    rows = of_cells(frame, cells)
    if rows.empty:
        return None
    groups = by_group(rows)
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 0.6 + 3.6 * len(groups)), squeeze=False)
    return Panels(cells, rows, of_cells(figures, cells), stack_colours(rows["stack"]), groups, fig, axes)


def _of_group(frame: pd.DataFrame, key: tuple[str, int]) -> pd.DataFrame:
    return frame[(frame["scenario"] == key[0]) & (frame["concurrency"] == key[1])]


def _figure_of(figures: pd.DataFrame, stack: str, name: str) -> float | None:
    """One figure's first finite value for a stack (the caller passed one cell's figures)."""
    found = numbers(figures.loc[(figures["stack"] == stack) & (figures["figure"] == name), "value"])
    return found[0] if found else None


def _num(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def ramp_chart(stages: pd.DataFrame, figures: pd.DataFrame, out_dir: Path) -> Chart | None:
    """Req/s and p99 per step against users (log2), per stack; the SLO as a line, the knee a star."""
    panels = _panels(stages, figures, "ramp")
    if panels is None:
        return None
    colour, fig = panels.colour, panels.fig
    for (key, sub), (ax_rps, ax_p99) in zip(panels.groups, panels.axes, strict=True):
        figs = _of_group(panels.figures, key)
        for stack, g in sub.groupby("stack", sort=True):
            g = g.assign(users=_num(g, "users")).sort_values("users")
            c = colour[str(stack)]
            ax_rps.plot(g["users"], _num(g, "rps"), marker="o", markersize=4, color=c, label=str(stack))
            ax_p99.plot(g["users"], _num(g, "p99_ms"), marker="o", markersize=4, color=c, label=str(stack))
            knee = _figure_of(figs, str(stack), "knee_users")
            at = g[g["users"] == knee] if knee is not None else g.iloc[0:0]
            for ax, column in ((ax_rps, "rps"), (ax_p99, "p99_ms")):
                ax.scatter(at["users"], _num(at, column), marker="*", s=180, color=c, edgecolors="#222222",
                           zorder=4)
        slo = numbers(figs.loc[figs["figure"] == "slo_p99_ms", "value"])
        if slo:
            ax_p99.axhline(slo[0], color=SLO_COLOR, linestyle="--", linewidth=1.1, label=f"SLO p99 {slo[0]:g} ms")
        levels = sorted(set(numbers(sub["users"])))
        for ax in (ax_rps, ax_p99):
            log2_levels(ax, levels, [f"{v:g}" for v in levels])
            ax.set_xlabel(f"{LABELS['concurrency']} in the step (log2)", fontsize=8)
            ax.grid(alpha=0.3)
        rate_axis(ax_rps, LABELS["rps"])
        ax_p99.set_ylim(bottom=0)
        ax_p99.set_ylabel(LABELS["p99_ms"], fontsize=8)
        ax_rps.set_title(f"{key[0]}, up to {key[1]} users: req/s per step", fontsize=9, loc="left")
        ax_p99.set_title(f"{key[0]}, up to {key[1]} users: p99 per step", fontsize=9, loc="left")
        legend_right(ax_p99)
    fig.tight_layout()
    return emit(fig, out_dir, "scenario-ramp.png", "Ramp: capacity and the knee in one run",
                "Each step of the ramp (users doubling up to the cell's concurrency): its req/s and p99 per stack, "
                "first repeat; the dashed line is the p99 SLO, a star the knee (the most users whose step kept "
                "p99 and errors within the limits); a line that ends early stopped at a step over them.")


def _spike_window(stages: pd.DataFrame) -> tuple[float, float] | None:
    """The spike stage's start and end, in seconds from the window start (median over the stacks drawn)."""
    spike = stages[stages["stage"] == "spike"]
    start = numbers(spike["start_s"])
    if not start:
        return None
    end = numbers(_num(spike, "start_s") + _num(spike, "duration_s"))
    return float(pd.Series(start).median()), float(pd.Series(end).median())


def _over_time(ax: Axes, rows: pd.DataFrame, column: str, colour: dict[str, str],
               labels: dict[str, str] | None = None) -> None:
    """One line per stack of `column` against the slot start."""
    for stack, g in rows.groupby("stack", sort=True):
        g = g.assign(t=_num(g, "t_s")).sort_values("t")
        ax.plot(g["t"], _num(g, column), color=colour[str(stack)], linewidth=1.2,
                label=(labels or {}).get(str(stack), str(stack)))
    ax.set_xlabel("s from the start of the measured window", fontsize=8)
    ax.grid(alpha=0.3)


def spike_chart(series: pd.DataFrame, stages: pd.DataFrame, figures: pd.DataFrame, out_dir: Path) -> Chart | None:
    """p99 and req/s per slot over time per stack, the spike shaded, each stack's recovery a dotted line."""
    panels = _panels(series, figures, "spike")
    if panels is None:
        return None
    colour, fig, phases = panels.colour, panels.fig, of_cells(stages, panels.cells)
    for (key, sub), (ax_p99, ax_rps) in zip(panels.groups, panels.axes, strict=True):
        window = _spike_window(_of_group(phases, key))
        _over_time(ax_p99, sub, "p99_ms", colour)
        _over_time(ax_rps, sub, "rps", colour)
        for ax in (ax_p99, ax_rps):
            if window is not None:
                ax.axvspan(*window, color=SPIKE_SHADE, linewidth=0, label="spike")
        figs = _of_group(panels.figures, key)
        for stack in sorted(sub["stack"].unique()):
            back = _figure_of(figs, str(stack), "recovery_s")
            if back is not None and window is not None:
                ax_p99.axvline(window[1] + back, color=colour[str(stack)], linestyle=":", linewidth=1.4)
        log_axis(ax_p99)
        ax_p99.set_ylabel(f"{LABELS['p99_ms']} per slot (log)", fontsize=8)
        rate_axis(ax_rps, f"{LABELS['rps']} per slot")
        ax_p99.set_title(f"{key[0]}, {key[1]} users: p99 over time", fontsize=9, loc="left")
        ax_rps.set_title(f"{key[0]}, {key[1]} users: req/s over time", fontsize=9, loc="left")
        legend_right(ax_rps)
    fig.tight_layout()
    return emit(fig, out_dir, "scenario-spike.png", "Spike: latency during the jump and the way back",
                "p99 and req/s in each slot of the measured window per stack, first repeat; the shaded band is "
                "the spike, a dotted line where that stack's p99 was back within 1.5x of its level before it "
                "(two slots in a row).")


def soak_chart(series: pd.DataFrame, figures: pd.DataFrame, out_dir: Path) -> Chart | None:
    """Server RSS over time per stack, its fitted slope (MB/h) in the legend; req/s per slot beside it."""
    panels = _panels(series, figures, "soak")
    if panels is None:
        return None
    colour, fig = panels.colour, panels.fig
    for (key, sub), (ax_rss, ax_rps) in zip(panels.groups, panels.axes, strict=True):
        figs = _of_group(panels.figures, key)
        slopes = {str(s): _figure_of(figs, str(s), "rss_mb_per_h") for s in sub["stack"].unique()}
        labels = {s: f"{s}: {v:+,.1f} MB/h" if v is not None else s for s, v in slopes.items()}
        _over_time(ax_rss, sub, "rss_mb", colour, labels)
        _over_time(ax_rps, sub, "rps", colour)
        ax_rss.set_ylabel("server RSS, MB (max in slot)", fontsize=8)
        rate_axis(ax_rps, f"{LABELS['rps']} per slot")
        ax_rss.set_title(f"{key[0]}, {key[1]} users: memory (fitted slope in legend)", fontsize=9,
                         loc="left")
        ax_rps.set_title(f"{key[0]}, {key[1]} users: req/s over time", fontsize=9, loc="left")
        ax_rss.legend(fontsize=7, loc="best", frameon=False)
    fig.tight_layout()
    return emit(fig, out_dir, "scenario-soak.png", "Soak: memory and throughput drift",
                "The server's RSS (highest sample in each slot) and req/s per slot over the measured window, "
                "first repeat; the legend gives each stack's least-squares RSS slope in MB per hour, the sign of "
                "a leak when it stays positive over a long soak.")
