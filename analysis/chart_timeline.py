"""Throughput and latency over time within each cell, small multiples: one panel per stack for a scenario.

A median cannot show a slow warm-up, a stall in the measured window or a stack that degrades as it
runs; a line over time can. Every panel keeps its own scales (the stacks differ tenfold in req/s; one
shared axis would flatten the slow ones) and the same time axis, so shapes compare across stacks.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from analysis.chart_bars import FLAG_COLOR
from analysis.labels import LABELS
from analysis.timeline import CellSeries

RPS_COLOR, FINE_COLOR, P99_COLOR, WINDOW_COLOR = "C0", "#7fb2e5", "C1", "#00000014"
COLS = 6
CAPTION = ("Each stack's first repeat over time, in seconds from the start of its Locust run (primer and warm-up "
           "included): req/s in each second from Locust's stats history (thick line), req/s in each 0.1 s slot of "
           "the measured window (thin line, on the grey band), and Locust's p99 over its trailing window in ms "
           "(dashed, right axis); a drop to zero inside the grey band is a stall")


def _panel(ax_: Axes, s: CellSeries) -> None:
    if s.window is not None:
        ax_.axvspan(*s.window, color=WINDOW_COLOR, linewidth=0)
    if s.fine_seconds:
        ax_.plot(s.fine_seconds, s.fine_rps, color=FINE_COLOR, linewidth=0.6)
        zeros = [t for t, v in zip(s.fine_seconds, s.fine_rps, strict=True) if v == 0]
        if zeros:
            ax_.plot(zeros, [0] * len(zeros), "|", color=FLAG_COLOR, markersize=6)
    if s.seconds:
        ax_.plot(s.seconds, s.rps, color=RPS_COLOR, linewidth=1.4)
    top = max([*s.rps, *s.fine_rps, 1.0])
    top = top if math.isfinite(top) else 1.0
    ax_.set_ylim(0, top * 1.15)
    ax_.yaxis.set_major_locator(MaxNLocator(3))
    ax_.tick_params(labelsize=6, length=2)
    ax_.set_title(s.stack + ("" if s.ok else " (failed)"), fontsize=7, loc="left",
                  color="#222222" if s.ok else FLAG_COLOR)
    p99 = [(t, v) for t, v in zip(s.seconds, s.p99_ms, strict=True) if math.isfinite(v)]
    if p99:
        twin = ax_.twinx()
        twin.plot([t for t, _ in p99], [v for _, v in p99], color=P99_COLOR, linewidth=0.9, linestyle="--")
        twin.set_ylim(0, max(v for _, v in p99) * 1.2 or 1.0)
        twin.yaxis.set_major_locator(MaxNLocator(3))
        twin.tick_params(labelsize=6, length=2, colors=P99_COLOR)


def timeline_figure(series: Sequence[CellSeries], title: str) -> Figure:
    """One panel per stack (in stack order), shared time axis, a legend under them."""
    rows = math.ceil(len(series) / COLS)
    cols = min(len(series), COLS)
    fig_h = 1.0 + 1.25 * rows
    fig, axes = plt.subplots(rows, cols, figsize=(max(7.5, 1.75 * cols), fig_h), squeeze=False, sharex=True)
    for i, ax in enumerate(axes.flat):
        if i < len(series):
            _panel(ax, series[i])
        else:
            ax.set_axis_off()
    for ax in axes[-1, :]:
        ax.set_xlabel("s", fontsize=7)
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    handles = [Line2D([], [], color=RPS_COLOR, linewidth=1.4, label=f"{LABELS['rps']}, per second"),
               Line2D([], [], color=FINE_COLOR, linewidth=0.8, label=f"{LABELS['rps']}, per 0.1 s"),
               Line2D([], [], color=P99_COLOR, linestyle="--", label=f"{LABELS['p99_ms']} (right axis)"),
               Patch(color=WINDOW_COLOR, label="measured window")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7.5, frameon=False)
    fig.tight_layout(rect=(0, 0.35 / fig_h, 1, 1))
    return fig
