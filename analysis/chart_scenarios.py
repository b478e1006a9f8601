"""The scenario section's charts from the aggregate and the per-endpoint rows: I/O-bound against its ideal,
the realistic mix per endpoint, payload size in MB/s and req/s, and the open model corrected.

Each function takes frames an Analysis holds and the report folder, writes one PNG with the report's
writer (analysis.chart_output: palette PNG, 80 dpi) and returns its Chart, or None when the run has no
such cells. The shaped runs (ramp, spike, soak) are drawn by analysis.chart_shapes.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402  (must follow matplotlib.use)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from analysis import chart_output  # noqa: E402
from analysis.chart_views import PALETTE, colours  # noqa: E402
from analysis.charts import Chart  # noqa: E402
from analysis.labels import LABELS  # noqa: E402
from analysis.scenario_cells import by_group, interface_name, io_rows, open_rows, payload_rows  # noqa: E402

SECTION = "scenarios"
IDEAL_COLOR = "#222222"
ALL_NAME = "all requests"  # the mix's overall bar beside its endpoints
THOUSANDS = FuncFormatter(lambda v, _: f"{v:,.0f}")
PLAIN = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:g}")


def emit(fig: Figure, out_dir: Path, file: str, title: str, caption: str) -> Chart:
    """Write the PNG (the report's writer and style; the caller laid it out) and describe it for the section."""
    chart_output.finish(fig, Path(out_dir) / file, svg=False)
    return Chart(file, title, SECTION, caption)


def log2_levels(ax: Axes, levels: list[float], labels: list[str] | None = None) -> None:
    """A log2 x axis ticked at exactly the levels measured."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels, labels or [f"{v:g}" for v in levels])
    ax.xaxis.set_minor_formatter(NullFormatter())


def log_axis(ax: Axes, which: str = "y") -> None:
    """A log axis labelled in plain numbers at 1, 2 and 5 of each decade (never 10^2 or 4x10^0)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(PLAIN)
    axis.set_minor_formatter(NullFormatter())


def rate_axis(ax: Axes, label: str) -> None:
    """A req/s axis: from 0, thousands separated, labelled."""
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(THOUSANDS)
    ax.set_ylabel(label, fontsize=8)


def legend_right(ax: Axes) -> None:
    """The stacks' legend outside the panel, on its right (the lines stay unhidden)."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def stack_colours(names: pd.Series) -> dict[str, str]:
    """One colour per stack, stable over the chart (sorted names, matplotlib's tab10)."""
    return colours(names)


def io_chart(aggregate: pd.DataFrame, out_dir: Path) -> Chart | None:
    """Req/s per stack at each concurrency, one panel per upstream latency, against the ideal users / latency.

    Colour says the interface (async against sync is the question); log y, since sync stacks can sit
    a hundredfold under the ideal.
    """
    rows = io_rows(aggregate)
    if rows.empty:
        return None
    latencies = sorted(rows["ms"].unique())
    kinds = colours(rows["interface"].map(interface_name))
    fig, axes = plt.subplots(1, len(latencies), figsize=(4.6 * len(latencies) + 1.2, 4.0), squeeze=False)
    for ax, ms in zip(axes[0], latencies, strict=True):
        sub = rows[rows["ms"] == ms]
        for _stack, g in sub.groupby("stack", sort=True):
            g = g.sort_values("concurrency")
            ax.plot(g["concurrency"].astype(float), g["rps"].astype(float), marker="o", markersize=4, linewidth=1.1,
                    color=kinds[interface_name(g["interface"].iloc[0])], alpha=0.8)
        ideal = sub.groupby("concurrency")["ideal_rps"].median().sort_index()
        ax.plot(ideal.index.astype(float), ideal.to_numpy(dtype=float), color=IDEAL_COLOR, linestyle="--",
                marker="_", markersize=14, linewidth=1.4)
        levels = sorted(float(c) for c in sub["concurrency"].unique())
        log2_levels(ax, levels)
        log_axis(ax)
        ax.set_title(f"/io?ms={ms:g}: {ms:g} ms upstream", fontsize=9, loc="left")
        ax.set_xlabel(LABELS["concurrency"], fontsize=8)
        ax.set_ylabel(f"{LABELS['rps']} (median, log)", fontsize=8)
        ax.grid(alpha=0.3, which="both")
    handles = [Line2D([], [], color=c, marker="o", label=name) for name, c in kinds.items()]
    handles.append(Line2D([], [], color=IDEAL_COLOR, linestyle="--", label="ideal = users / latency"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle("I/O-bound: req/s against the ideal", fontsize=10, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return emit(fig, out_dir, "scenario-io.png", "I/O-bound: how close each stack gets to the ideal",
                "Median req/s of each stack (one line each, coloured by interface) at each concurrency, one panel "
                "per upstream latency; the dashed line is the ideal, users / latency: what a server that keeps "
                "every user's request waiting at once would reach.")


def _mix_table(endpoints: pd.DataFrame, aggregate: pd.DataFrame) -> pd.DataFrame:
    """Per (scenario, concurrency, stack, name): median p99 and share over repeats, plus an 'all requests' row
    from the aggregate (the cell's overall p99)."""
    per = (endpoints.assign(p99_ms=pd.to_numeric(endpoints["p99_ms"], errors="coerce"),
                            share_pct=pd.to_numeric(endpoints["share_pct"], errors="coerce"))
           .groupby(["scenario", "concurrency", "stack", "name"], sort=True)[["p99_ms", "share_pct"]].median()
           .reset_index())
    cells = per[["scenario", "concurrency", "stack"]].drop_duplicates()
    overall = aggregate.merge(cells, on=["scenario", "concurrency", "stack"])[
        ["scenario", "concurrency", "stack", "p99_ms"]].assign(name=ALL_NAME, share_pct=100.0)
    return pd.concat([per, overall], ignore_index=True) if not overall.empty else per


def mix_chart(endpoints: pd.DataFrame, aggregate: pd.DataFrame, out_dir: Path) -> Chart | None:
    """Per-endpoint p99 and share of requests per stack (grouped bars), the overall p99 beside them."""
    if endpoints.empty:
        return None
    table = _mix_table(endpoints, aggregate)
    groups = by_group(table)
    names = sorted(n for n in table["name"].unique() if n != ALL_NAME) + [ALL_NAME]
    colour = {n: ("#555555" if n == ALL_NAME else PALETTE[i % len(PALETTE)]) for i, n in enumerate(names)}
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 0.9 + 3.0 * len(groups)), squeeze=False)
    for (key, sub), (ax_p99, ax_share) in zip(groups, axes, strict=True):
        stacks = sorted(sub["stack"].unique())
        _grouped_bars(ax_p99, sub, stacks, names, "p99_ms", colour)
        _grouped_bars(ax_share, sub[sub["name"] != ALL_NAME], stacks, names[:-1], "share_pct", colour)
        ax_p99.set_ylabel(f"{LABELS['p99_ms']} (median)", fontsize=8)
        ax_share.set_ylabel("share of requests, %", fontsize=8)
        ax_p99.set_title(f"{key[0]}, {key[1]} users: p99 per endpoint", fontsize=9, loc="left")
        ax_share.set_title(f"{key[0]}, {key[1]} users: share of requests", fontsize=9, loc="left")
    handles = [Line2D([], [], color=c, linewidth=6, label=n) for n, c in colour.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.9 / (0.9 + 3.0 * len(groups)) * 0.6, 1, 1))
    return emit(fig, out_dir, "scenario-mix.png", "Realistic mix: each endpoint's p99 and share",
                "Median p99 of each request name per stack (grey: all requests together) and each name's share "
                "of the requests: the weights the mix sent, as the server answered them.")


def _grouped_bars(ax: Axes, sub: pd.DataFrame, stacks: list[str], names: list[str], column: str,
                  colour: Mapping[str, str]) -> None:
    """Bars of `column` per stack (x), one bar per name within each stack's slot."""
    width = 0.8 / max(1, len(names))
    x = np.arange(len(stacks))
    for i, name in enumerate(names):
        values = sub[sub["name"] == name].set_index("stack")[column].reindex(stacks).astype(float)
        ax.bar(x + (i - (len(names) - 1) / 2) * width, values.fillna(0).to_numpy(), width, color=colour[name])
    ax.set_xticks(x, stacks, rotation=30, ha="right", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(alpha=0.3, axis="y")


def payload_chart(aggregate: pd.DataFrame, out_dir: Path) -> Chart | None:
    """MB/s and req/s per stack at each response size (KB on a log axis)."""
    rows = payload_rows(aggregate)
    if rows.empty:
        return None
    colour = stack_colours(rows["stack"])
    sizes = sorted(float(k) for k in rows["kb"].unique())
    fig, (ax_mb, ax_rps) = plt.subplots(1, 2, figsize=(11, 4.2))
    for stack, g in rows.groupby("stack", sort=True):
        g = g.sort_values("kb")
        for ax, column in ((ax_mb, "mb_per_s"), (ax_rps, "rps")):
            ax.plot(g["kb"].astype(float), g[column].astype(float), marker="o", markersize=4, linewidth=1.2,
                    color=colour[str(stack)], label=str(stack))
    for ax, what in ((ax_mb, LABELS["mb_per_s"]), (ax_rps, LABELS["rps"])):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{k:g} KB" for k in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        log_axis(ax)
        ax.set_ylabel(f"{what} (median, log)", fontsize=8)
        ax.set_xlabel("response size", fontsize=8)
        ax.grid(alpha=0.3, which="both")
    conc = int(rows["concurrency"].max())
    ax_mb.set_title(f"Bytes: {LABELS['mb_per_s']} at {conc} users", fontsize=9, loc="left")
    ax_rps.set_title(f"Requests: {LABELS['rps']} at {conc} users", fontsize=9, loc="left")
    legend_right(ax_rps)
    fig.tight_layout()
    return emit(fig, out_dir, "scenario-payload.png", "Payload size: MB/s beside req/s",
                "Median megabytes per second (req/s x bytes per response) and req/s of each stack at each "
                f"response size, at {conc} users: where lines part on the left and meet on the right, "
                "stacks differ by requests, not by bytes.")


OPEN_PAIRS = (("p50_ms", "co_p50_ms", "p50"), ("p90_ms", "co_p90_ms", "p90"), ("p99_ms", "co_p99_ms", "p99"))


def open_chart(aggregate: pd.DataFrame, out_dir: Path) -> Chart | None:
    """Measured p50/p90/p99 beside the coordinated-omission-corrected ones, per stack (log x)."""
    rows = open_rows(aggregate)
    if rows.empty:
        return None
    rows = rows.sort_values(["scenario", "concurrency", "stack"])
    labels = [f"{r['stack']} ({r['scenario']}, {int(r['concurrency'])})" for r in rows.to_dict("records")]
    y = np.arange(len(rows))
    fig_h = max(2.8, 1.4 + 0.62 * len(rows))
    fig, ax = plt.subplots(figsize=(10, fig_h))
    height = 0.8 / 6
    shades = {"p50": "C0", "p90": "C1", "p99": "C3"}
    for i, (measured, corrected, name) in enumerate(OPEN_PAIRS):
        for j, (column, hatch) in enumerate(((measured, ""), (corrected, "////"))):
            offset = (2 * i + j - 2.5) * height
            values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
            ax.barh(y + offset, values, height, color=shades[name], hatch=hatch, edgecolor="white",
                    alpha=1.0 if not hatch else 0.65)
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    log_axis(ax, "x")
    ax.set_xlabel("ms (median over repeats, log)", fontsize=8)
    ax.grid(alpha=0.3, axis="x", which="both")
    handles = [Line2D([], [], color=c, linewidth=6, label=n) for n, c in shades.items()]
    handles.append(Line2D([], [], color="#888888", linewidth=6, label="solid: measured"))
    handles.append(Line2D([], [], color="#bbbbbb", linewidth=6, label="hatched: from the scheduled start"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7.5, frameon=False)
    ax.set_title("Open model: latency measured and corrected for coordinated omission", fontsize=10, loc="left")
    fig.tight_layout(rect=(0, 0.35 / fig_h, 1, 1))
    return emit(fig, out_dir, "scenario-open.png", "Open model: measured against corrected latency",
                "Median p50, p90 and p99 per stack as measured from when each request went out (solid) and from "
                "when it was scheduled to go out (hatched: corrected for coordinated omission, as wrk2 does).")
