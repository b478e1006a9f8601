"""The report's bar charts as figures: per scenario grouped by framework, and one small chart per framework
and per server ("which server for my framework", "which framework on my server").

Each function takes the chart table (analysis.charts.chart_table: the aggregate's medians, intervals
and ranking flags) and returns a figure with the Marks it drew, or None when it has nothing to draw;
writing files and captions is analysis.charts' job.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from analysis.chart_bars import (
    FLAG_COLOR,
    HEAD_GAP,
    INK,
    METRICS,
    Marks,
    Metric,
    bar_panel,
    concerned_flags,
    ordered_groups,
    slots,
)
from analysis.labels import FLAG_SHORT, LABELS

PALETTE = [f"C{i}" for i in range(10)]  # matplotlib's default colour cycle: tab10
ROW_IN = 0.17  # inches per bar row: 7.5 pt labels with a little air
BARE = "bare (no framework)"
Groups = list[tuple[str, pd.DataFrame]]


def framework_name(value: Any) -> str:
    """The framework as people say it: the framework-free apps are 'bare'."""
    return BARE if str(value) in ("none", "", "nan") else str(value)


def group_name(scenario: Any, concurrency: Any, open_model: Any = False) -> str:
    """'json, 32 users': a (scenario, concurrency) group as every panel names it (an open-model scenario's
    concurrency is a cap on requests in flight, not users)."""
    return f"{scenario}, {int(concurrency)} {LABELS['concurrency_open' if open_model else 'concurrency']}"


def _open(sub: pd.DataFrame) -> bool:
    return bool(sub["open"].any()) if "open" in sub.columns else False


def colours(values: Iterable[Any]) -> dict[str, str]:
    """A stable colour per name (sorted): give it every name of the run, so each chart agrees."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted({str(v) for v in values}))}


def _used(colour: Mapping[str, str], names: Iterable[Any]) -> dict[str, str]:
    """The legend entries of the names this chart shows, in the run's colours."""
    shown = {str(n) for n in names}
    return {n: c for n, c in colour.items() if n in shown}


def _bottom(fig_h: float, entries: int) -> float:
    """The share of the figure's height its legend takes under the axis labels."""
    return min(0.4, (0.3 + 0.22 * math.ceil(entries / 6)) / fig_h)


def _legend(fig: Figure, colour: Mapping[str, str], title: str, hatched: bool) -> None:
    handles: list[Any] = [Patch(color=c, label=name) for name, c in colour.items()]
    if hatched:
        handles.append(Patch(facecolor="white", edgecolor=FLAG_COLOR, hatch="////", label="flagged (see caption)"))
    fig.legend(handles=handles, title=title, loc="lower center", ncol=min(len(handles), 6), fontsize=7.5,
               title_fontsize=8, frameon=False)


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    cols = max(1, min(n, max_cols))
    return math.ceil(n / cols), cols


def panels_figure(panels: Sequence[tuple[str, Metric, Groups]], colour_of: Callable[[Mapping[Any, Any]], str],
                  legend: Mapping[str, str], legend_title: str, title: str, max_cols: int = 2,
                  width: float = 10.0) -> tuple[Figure, Marks]:
    """Panels of grouped bars side by side (wrapping), a shared colour legend under them."""
    rows, cols = _grid(len(panels), max_cols)
    height_rows = [max(slots(g) for _, _, g in panels[r * cols:(r + 1) * cols]) for r in range(rows)]
    fig_h = 0.9 + 0.45 * math.ceil(len(legend) / 6) + sum(0.55 + ROW_IN * h for h in height_rows)
    fig, axes = plt.subplots(rows, cols, figsize=(width, fig_h), squeeze=False,
                             gridspec_kw={"height_ratios": [h + 3 for h in height_rows]})
    marks = Marks(flags=set())
    for i, ax in enumerate(axes.flat):
        if i >= len(panels):
            ax.set_axis_off()
            continue
        name, metric, groups = panels[i]
        marks.add(bar_panel(ax, groups, metric, colour_of, height_rows[i // cols] - 0.3))
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_xlabel(f"{metric.axis} ({metric.better})", fontsize=8)
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    _legend(fig, legend, legend_title, bool(marks.flags))
    fig.tight_layout(rect=(0, _bottom(fig_h, len(legend) + 1), 1, 1))
    return fig, marks


def by_scenario(table: pd.DataFrame, metric: Metric, title: str,
                server_colour: Mapping[str, str]) -> tuple[Figure, Marks] | None:
    """One panel per (scenario, concurrency), bars grouped by framework, coloured by server."""
    table = table.dropna(subset=[metric.column])
    if table.empty:
        return None
    table = table.assign(fw=table["framework"].map(framework_name))
    server = _used(server_colour, table["server"])
    panels = [(group_name(s, c, _open(sub)), metric, ordered_groups(sub, "fw", metric, by_best=True))
              for (s, c), sub in table.groupby(["scenario", "concurrency"], sort=True)]
    return panels_figure(panels, lambda r: server[str(r["server"])], server, "server", title)


def one_subject(table: pd.DataFrame, column: str, value: str, colour_by: str, title: str,
                run_colour: Mapping[str, str]) -> tuple[Figure, Marks] | None:
    """Throughput and CPU time per request of the stacks of one framework (or one server), side by side,
    grouped by (scenario, concurrency)."""
    names = table[column].map(framework_name) if column == "framework" else table[column].astype(str)
    sub = table[names == value]
    opens = sub["open"] if "open" in sub.columns else [False] * len(sub)
    sub = sub.assign(group=[group_name(s, c, o) for s, c, o in zip(sub["scenario"], sub["concurrency"], opens,
                                                                   strict=True)])
    panels = [(metric.axis, metric, ordered_groups(sub, "group", metric, by_best=False))
              for metric in (METRICS["rps"], METRICS["cpu_us_per_req"])]
    panels = [p for p in panels if p[2]]
    if not panels:
        return None
    key = sub[colour_by].map(framework_name) if colour_by == "framework" else sub[colour_by].astype(str)
    colour = _used(run_colour, key)
    pick = (lambda r: colour[framework_name(r["framework"])]) if colour_by == "framework" else \
        (lambda r: colour[str(r[colour_by])])
    return panels_figure(panels, pick, colour, colour_by, title, max_cols=2, width=10.0)


def subjects(table: pd.DataFrame, column: str) -> list[str]:
    """The frameworks (or servers) with at least one measured number, in name order."""
    names = table[column].map(framework_name) if column == "framework" else table[column].astype(str)
    return sorted(set(names[table["rps"].notna() | table["cpu_us_per_req"].notna()]))


def latency_figure(table: pd.DataFrame, title: str, concern: Sequence[str],
                   server_colour: Mapping[str, str]) -> tuple[Figure, Marks] | None:
    """p50 / p90 / p99 per stack on a log axis: one panel per (scenario, concurrency), grouped by framework,
    lowest p99 first within each group; flagged stacks (of the flags that weaken latency) in red."""
    cols = ["p50_ms", "p90_ms", "p99_ms"]
    table = table.dropna(subset=cols)
    table = table[(table[cols] > 0).all(axis=1)]
    if table.empty:
        return None
    table = table.assign(fw=table["framework"].map(framework_name))
    server = _used(server_colour, table["server"])
    p99 = Metric("p99_ms", LABELS["p99_ms"], False, lambda v: f"{v:.3g}")
    panels = [(group_name(s, c, _open(sub)), ordered_groups(sub, "fw", p99, by_best=True))
              for (s, c), sub in table.groupby(["scenario", "concurrency"], sort=True)]
    rows, ncols = _grid(len(panels), 2)
    height_rows = [max(slots(g) for _, g in panels[r * ncols:(r + 1) * ncols]) for r in range(rows)]
    fig_h = 1.2 + sum(0.55 + ROW_IN * h for h in height_rows)
    fig, axes = plt.subplots(rows, ncols, figsize=(10.0, fig_h),
                             squeeze=False, gridspec_kw={"height_ratios": [h + 3 for h in height_rows]})
    lo, hi = float(table["p50_ms"].min()), float(table["p99_ms"].max())
    marks = Marks(flags=set())
    for i, ax in enumerate(axes.flat):
        if i >= len(panels):
            ax.set_axis_off()
            continue
        name, groups = panels[i]
        _percentile_panel(ax, groups, server, concern, marks, height_rows[i // ncols] - 0.3)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(lo / 1.5, hi * 2)  # room for the p99 figure after the last marker
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_xlabel("response time, ms (log scale; lower is better)", fontsize=8)
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    handles: list[Any] = [Line2D([], [], color=INK, marker=m, linestyle="", label=lab)
               for m, lab in (("o", "p50"), ("s", "p90"), ("^", "p99"))]
    handles += [Patch(color=c, label=n) for n, c in server.items()]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 9), fontsize=7.5, frameon=False)
    fig.tight_layout(rect=(0, _bottom(fig_h, 1), 1, 1))
    return fig, marks


def _percentile_panel(ax: Any, groups: Groups, server: Mapping[str, str], concern: Sequence[str], marks: Marks,
                      height: float) -> None:
    head = blended_transform_factory(ax.transAxes, ax.transData)
    y, ticks, names = 0.0, [], []
    for name, sub in groups:
        ax.text(-0.01, y + 0.2, name, transform=head, ha="right", va="center", fontsize=8, fontweight="bold")
        y += HEAD_GAP - 0.4
        for row in sub.to_dict("records"):
            c = server[str(row["server"])]
            flagged = concerned_flags(row.get("flags"), concern)
            ax.plot([row["p50_ms"], row["p99_ms"]], [y, y], color=c, alpha=0.5, linewidth=2)
            for col, marker, size in (("p50_ms", "o", 4.5), ("p90_ms", "s", 4), ("p99_ms", "^", 5)):
                ax.plot(row[col], y, marker, color=c, markersize=size)
            note = f"{row['p99_ms']:.3g}" + "".join(f" {f}" for f in _short(flagged))
            ax.annotate(note, (row["p99_ms"], y), xytext=(5, 0), textcoords="offset points", va="center",
                        fontsize=7, color=FLAG_COLOR if flagged else INK)
            marks.flags = (marks.flags or set()) | set(flagged)
            ticks.append(y)
            names.append(str(row["stack"]))
            y += 1
        y += 0.4
    ax.set_yticks(ticks, names, fontsize=7.5)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=7.5)
    ax.set_ylim(height, -0.6)
    ax.grid(axis="x", which="both", alpha=0.25)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _short(flags: Sequence[str]) -> list[str]:
    return [FLAG_SHORT.get(f, f) for f in flags]
