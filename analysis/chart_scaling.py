"""The worker-scaling chart: each stack's efficiency at each worker count, against perfect scaling (1.0).

One panel per (scenario, concurrency), one row per stack, one bar per worker count, and the server CPUs
in the title: efficiency beyond the CPU count says more about the machine than the server, so the chart
never shows one without the other. Drawn from analysis/scaling.py's frame only, written with the report's
PNG writer (analysis.chart_output).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402  (must follow matplotlib.use)
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis import chart_output  # noqa: E402
from analysis.chart_views import group_name  # noqa: E402

if TYPE_CHECKING:
    from analysis.charts import Chart

FILE = "scaling.png"
SECTION = "scenarios"  # the report's "What the scenarios answer"
PERFECT = 1.0
BAR_H = 0.8  # the height one stack's bars share


def _title(cpus: int) -> str:
    return f"Worker scaling efficiency on {cpus} server CPU{'s' if cpus != 1 else ''}"


def stack_name(base: str, rows: pd.DataFrame) -> str:
    """The stack as the matrix names it: the base's id without the -w<N> the bench gave it (display only)."""
    suffix = f"-w{int(rows.loc[rows['stack'] == base, 'workers'].iloc[0])}"
    return base.removesuffix(suffix)


def _panel(ax: Any, panel: pd.DataFrame, counts: list[int], colour: dict[int, str]) -> None:
    """One (scenario, concurrency): a row per stack, a bar per count above its base (whose 1.0 is the line),
    the best scaling at its most workers first."""
    names = {b: stack_name(str(b), panel) for b in panel["base"].unique()}
    panel = panel[panel["stack"] != panel["base"]]
    counts = [n for n in counts if n in set(panel["workers"])]
    top = panel.sort_values("workers").groupby("base")["efficiency"].last()  # at each stack's most workers
    bases = sorted(panel["base"].unique(), key=lambda b: (-float(top[b]), str(b)))
    h = BAR_H / len(counts)
    for i, n in enumerate(counts):
        rows = panel[panel["workers"] == n].set_index("base")
        ys = [y + (i - (len(counts) - 1) / 2) * h for y, b in enumerate(bases) if b in rows.index]
        values = [float(rows.loc[b, "efficiency"]) for b in bases if b in rows.index]
        ax.barh(ys, values, height=h * 0.92, color=colour[n], label=f"{n} worker{'s' if n != 1 else ''}")
        for y, v in zip(ys, values, strict=True):
            ax.text(v, y, f" {v:.2f}", va="center", fontsize=7, color="#222222")
    ax.axvline(PERFECT, color="#222222", linewidth=1, linestyle="--")
    ax.set_yticks(range(len(bases)), [names[b] for b in bases], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(PERFECT, float(panel["efficiency"].max())) * 1.2)
    ax.grid(axis="x", alpha=0.3)


def scaling_figure(scaling: pd.DataFrame) -> Figure | None:
    """The figure, or None when no stack ran at several worker counts."""
    if scaling.empty:
        return None
    counts = sorted(int(n) for n in scaling.loc[scaling["stack"] != scaling["base"], "workers"].unique())
    colour = {n: f"C{i % 10}" for i, n in enumerate(counts)}
    keys = sorted({(str(s), int(c)) for s, c in zip(scaling["scenario"], scaling["concurrency"], strict=True)})
    heights = [1.2 + 0.35 * len(counts) * scaling[(scaling["scenario"] == s) & (scaling["concurrency"] == c)]
               ["base"].nunique() for s, c in keys]
    fig, axes = plt.subplots(len(keys), 1, figsize=(9, sum(heights) + 0.8), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    cpus = int(scaling["server_cpus"].iloc[0])
    for ax, (scenario, conc) in zip(axes[:, 0], keys, strict=True):
        panel = scaling[(scaling["scenario"] == scenario) & (scaling["concurrency"] == conc)]
        _panel(ax, panel, counts, colour)
        ax.set_title(f"{group_name(scenario, conc)}: {_title(cpus)}", fontsize=10, loc="left")
    last = axes[-1, 0]
    last.set_xlabel(f"req/s at N workers ÷ (N × req/s per worker at the fewest workers); dashed: {PERFECT:g} = "
                    "perfect scaling", fontsize=9)
    last.legend(fontsize=8, loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def caption(scaling: pd.DataFrame) -> str:
    """What the chart shows, the formula and the CPUs, in one sentence."""
    cpus = int(scaling["server_cpus"].iloc[0])
    fewest = int(scaling.groupby("base")["workers"].min().max())
    base = "one worker" if fewest == 1 else "the fewest workers measured"
    return (f"Scaling efficiency of each stack at each worker count: its req/s over N times its req/s per worker "
            f"at {base}, so 1.0 (dashed) is perfect scaling; measured on {cpus} server CPU{'s' if cpus != 1 else ''}"
            f", so workers beyond {cpus} share them and cannot scale.")


def scaling_chart(scaling: pd.DataFrame, out_dir: Path) -> Chart | None:
    """scaling.png in out_dir and its Chart record for the report; None when the frame is empty."""
    from analysis.charts import Chart  # here, not at the top: analysis.charts imports the report's chart modules

    fig = scaling_figure(scaling)
    if fig is None:
        return None
    cpus = int(scaling["server_cpus"].iloc[0])
    return Chart(FILE, _title(cpus), SECTION, caption(scaling), chart_output.finish(fig, Path(out_dir) / FILE,
                                                                                    svg=False))
