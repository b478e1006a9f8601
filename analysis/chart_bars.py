"""Grouped horizontal bars: the one layout every per-stack bar chart of the report uses.

A chart of 45 bars in one column cannot be read; the same bars in groups (by framework, by server or
by scenario), each group sorted best first under its own heading, answer "which is best here" at a
glance. A Metric says declaratively how one number is drawn: its label and unit (analysis.labels),
which way is better, whether it has a 95% interval over repeats, and which flags concern it (a
generator-bound cell weakens its req/s, not its memory), so flags are marked only where they matter.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import blended_transform_factory

from analysis.labels import FLAG_SHORT, LABELS

FLAG_COLOR = "#b00020"
INK = "#222222"
HEAD_GAP = 1.4  # rows a group heading takes (the heading and some air above it)
AXIS_ROOM = 1.3  # the value axis runs to this many times the longest bar (or whisker): room for its figure


@dataclass(frozen=True)
class Metric:
    """How one aggregate column is drawn as bars."""

    column: str
    axis: str  # the axis label, with its unit
    best_high: bool
    fmt: Callable[[float], str]
    flags: tuple[str, ...] = ()  # the ranking flags that weaken this number: marked on its bars only
    interval: bool = False  # `<column>_lo` / `<column>_hi` hold a 95% interval where n >= 2

    @property
    def better(self) -> str:
        return "higher is better" if self.best_high else "lower is better"


METRICS: dict[str, Metric] = {
    "rps": Metric("rps", LABELS["rps"], True, lambda v: f"{v:,.0f}",
                  ("stalled", "generator-bound", "unsaturated", "starved", "errors", "noisy"), interval=True),
    "cpu_us_per_req": Metric("cpu_us_per_req", LABELS["cpu_us_per_req"], False, lambda v: f"{v:,.0f}",
                             ("errors", "noisy", "steal"), interval=True),
    "server_rss_mb": Metric("server_rss_mb", LABELS["server_rss_mb"], False, lambda v: f"{v:,.1f}"),
}


@dataclass
class Marks:
    """What a chart actually drew, so its caption explains whiskers and flags only where they appear."""

    whiskers: bool = False
    flags: set[str] | None = None

    def add(self, other: Marks) -> None:
        self.whiskers = self.whiskers or other.whiskers
        self.flags = (self.flags or set()) | (other.flags or set())


def concerned_flags(flags: Any, concern: Sequence[str]) -> list[str]:
    """The flags of a row (comma-separated text) that concern this chart, in their ranking order."""
    names = [f.strip() for f in str(flags or "").split(",") if f.strip()]
    return [f for f in names if f in concern]


def ordered_groups(rows: pd.DataFrame, group_by: str, metric: Metric, by_best: bool) -> list[tuple[str, pd.DataFrame]]:
    """(group name, its rows best first); groups by their best member when `by_best`, else by name."""
    rows = rows.dropna(subset=[metric.column])
    groups = []
    for name, sub in rows.groupby(group_by, sort=True):
        sub = sub.sort_values([metric.column, "stack"], ascending=[not metric.best_high, True], kind="stable")
        groups.append((str(name), sub))
    if by_best:
        sign = -1.0 if metric.best_high else 1.0
        groups.sort(key=lambda g: (sign * float(g[1][metric.column].iloc[0]), g[0]))
    return groups


def slots(groups: Sequence[tuple[str, pd.DataFrame]]) -> float:
    """The vertical room a panel of these groups takes, in bar rows."""
    return sum(HEAD_GAP + len(sub) for _, sub in groups)


def bar_panel(ax: Any, groups: Sequence[tuple[str, pd.DataFrame]], metric: Metric,
              color: Callable[[Mapping[Any, Any]], str], height: float,
              label: Callable[[Mapping[Any, Any]], str] = lambda r: str(r["stack"])) -> Marks:
    """Draw the groups as horizontal bars, a bold heading over each, best first; return what it marked."""
    marks = Marks(flags=set())
    y, ticks, names = 0.0, [], []
    lo_col, hi_col = f"{metric.column}_lo", f"{metric.column}_hi"
    head = blended_transform_factory(ax.transAxes, ax.transData)
    reach = 0.0
    for name, sub in groups:
        ax.text(-0.01, y + 0.2, name, transform=head, ha="right", va="center", fontsize=8, fontweight="bold")
        y += HEAD_GAP - 0.4
        for row in sub.to_dict("records"):
            value = float(row[metric.column])
            flagged = concerned_flags(row.get("flags"), metric.flags)
            ax.barh(y, value, height=0.72, color=color(row), hatch="////" if flagged else None,
                    edgecolor=FLAG_COLOR if flagged else "none", linewidth=0)
            end = value
            if metric.interval and lo_col in row and not pd.isna(row[lo_col]) and not pd.isna(row[hi_col]):
                lo, hi = float(row[lo_col]), float(row[hi_col])
                ax.errorbar(value, y, xerr=[[max(value - lo, 0.0)], [max(hi - value, 0.0)]], fmt="none",
                            ecolor=INK, elinewidth=1, capsize=2.5)
                end, marks.whiskers = max(hi, value), True
            note = metric.fmt(value) + "".join(f" {FLAG_SHORT.get(f, f)}" for f in flagged)
            ax.annotate(note, (end, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7,
                        color=FLAG_COLOR if flagged else INK)
            marks.flags = (marks.flags or set()) | set(flagged)
            reach = max(reach, end)
            ticks.append(y)
            names.append(label(row))
            y += 1
        y += 0.4
    ax.set_yticks(ticks, names, fontsize=7.5)
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(height, -0.6)
    ax.set_xlim(0, (reach or 1.0) * AXIS_ROOM)
    ax.xaxis.set_major_formatter(_thousands)
    ax.tick_params(axis="x", labelsize=7.5)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return marks


def _thousands_fmt(value: float, _pos: int) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == 0 else f"{value:g}"


_thousands = FuncFormatter(_thousands_fmt)
