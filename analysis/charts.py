"""PNG charts of an Analysis: one function per chart, each returns the path it wrote.

Every chart shows the median over repeats of the ok cells (the Analysis's
aggregate, never recomputed here), one bar (or row) per stack and (scenario,
concurrency), sorted best first, coloured by scenario/concurrency, with the
ranking flags written next to flagged stacks so a generator-bound or stalled
number is never shown bare. Throughput and CPU per request carry the 95%
bootstrap interval of the median as an error bar where there were 2+
repeats, and every label says how many repeats it is (n=).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402  (must follow matplotlib.use)
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from analysis.analyze import Analysis  # noqa: E402
from analysis.flags import SATURATION_MAX_ERROR_PCT, SLO_P99_MS  # noqa: E402
from analysis.saturation import sweeps  # noqa: E402
from runformat import atomic  # noqa: E402

DPI = 110
PALETTE = [f"C{i}" for i in range(10)]  # matplotlib's default colour cycle: tab10


def describe_settings(settings: Mapping[str, Any], repeats: Sequence[int] | None = None) -> str:
    """'concurrency 8, 3 s window, median of 2 repeats': how the plotted numbers were measured.

    `repeats` are the numbers of ok repeats that were actually taken (Analysis.repeats: an
    interrupted run has fewer than settings.repeat), so a title never claims a median that was not
    taken; without them, the repeats asked for.
    """
    parts = []
    conc = settings.get("concurrency") or []
    if conc:
        parts.append("concurrency " + "/".join(str(c) for c in conc))
    duration = settings.get("duration_s")
    if duration is not None:
        parts.append(f"{duration:g} s window")
    counts = list(repeats) if repeats is not None else ([int(settings["repeat"])] if settings.get("repeat") else [])
    if counts == [1]:
        parts.append("1 repeat")
    elif len(counts) == 1:
        parts.append(f"median of {counts[0]} repeats")
    elif counts:
        parts.append(f"median of {counts[0]}–{counts[-1]} repeats")
    return ", ".join(parts)


def chart_table(analysis: Analysis) -> pd.DataFrame:
    """Aggregate rows (medians and intervals per (scenario, concurrency, stack)) plus flags and a group label."""
    med = analysis.aggregate
    if med.empty:
        return med.assign(flags=pd.Series(dtype=object), group=pd.Series(dtype=object))
    flags = analysis.ranking.set_index(["scenario", "concurrency", "stack"])["flags"]
    med = med.join(flags, on=["scenario", "concurrency", "stack"])
    med["flags"] = med["flags"].fillna("")
    med["group"] = med["scenario"].astype(str) + ", c" + med["concurrency"].astype(str)
    return med


def _save(fig: Figure, path: Path) -> Path:
    """Write the PNG atomically and free the figure."""
    try:
        fig.tight_layout()
        return atomic.write_with(Path(path), lambda f: fig.savefig(f, dpi=DPI, format="png"), binary=True)
    finally:
        plt.close(fig)


def _empty(path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(8, 2.2))
    ax.set_title(title, fontsize=10, loc="left")
    ax.text(0.5, 0.5, "no ok cells to plot", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return _save(fig, path)


def _ordered(table: pd.DataFrame, column: str, best_high: bool) -> pd.DataFrame:
    """Groups in name order, stacks best first within each; rows without a value dropped."""
    t = table.dropna(subset=[column])
    return t.sort_values(["scenario", "concurrency", column, "stack"],
                         ascending=[True, True, not best_high, True], kind="stable").reset_index(drop=True)


def _bar_chart(table: pd.DataFrame, path: Path, column: str, title: str, xlabel: str,
               best_high: bool, fmt: Callable[[float], str], interval: bool = False) -> Path:
    table = _ordered(table, column, best_high)
    if table.empty:
        return _empty(path, title)
    groups = list(dict.fromkeys(table["group"]))
    colors = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.42 * len(table)))
    y = range(len(table))
    ax.barh(list(y), table[column], color=[colors[g] for g in table["group"]], height=0.7)
    lo_col, hi_col = f"{column}_lo", f"{column}_hi"
    has_interval = interval and lo_col in table.columns
    if has_interval:
        ranged = table[table[lo_col].notna() & table[hi_col].notna()]
        if not ranged.empty:
            # 95% bootstrap interval of the median; lower/upper lengths from the bar's end.
            xerr = [(ranged[column] - ranged[lo_col]).clip(lower=0), (ranged[hi_col] - ranged[column]).clip(lower=0)]
            ax.errorbar(ranged[column], list(ranged.index), xerr=xerr, fmt="none", ecolor="#222222",
                        elinewidth=1.2, capsize=4, label="95% interval of the median")
    ax.set_yticks(list(y), table["stack"])
    ax.invert_yaxis()  # best on top
    reach = table[hi_col].fillna(table[column]) if has_interval else table[column]
    top = float(pd.concat([table[column], reach]).max())
    for i, row in enumerate(table.to_dict("records")):
        end = row[hi_col] if has_interval and pd.notna(row[hi_col]) else row[column]
        spread = ""
        if has_interval and pd.notna(row[lo_col]) and pd.notna(row[hi_col]):
            spread = f" ({row[lo_col]:,.0f}–{row[hi_col]:,.0f})"
        note = fmt(row[column]) + spread + f"  n={int(row['n'])}" + (f"  [{row['flags']}]" if row["flags"] else "")
        ax.text(end + top * 0.01, i, note, va="center", fontsize=8,
                color="#b00020" if row["flags"] else "#222222")
    ax.set_xlim(0, top * 1.6)
    ax.set_xlabel(xlabel + ("\nbar: median over n repeats; whisker and (lo–hi): 95% bootstrap interval of the "
                            "median (n ≥ 2)" if has_interval else ""))
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    if len(groups) > 1:
        handles = [Rectangle((0, 0), 1, 1, color=colors[g]) for g in groups]
        ax.legend(handles, groups, title="scenario, concurrency", fontsize=8,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


def throughput_chart(table: pd.DataFrame, path: Path, how: str = "") -> Path:
    """Requests per second per stack, best on top."""
    title = "Throughput, req/s (higher is better)" + (f" — {how}" if how else "")
    return _bar_chart(table, path, "rps", title, "requests per second in the measured window",
                      best_high=True, fmt=lambda v: f"{v:,.0f}", interval=True)


def cpu_chart(table: pd.DataFrame, path: Path, how: str = "") -> Path:
    """Server CPU time spent per request: the efficiency view, independent of the generator's limit."""
    title = "Server CPU per request, µs (lower is better)" + (f" — {how}" if how else "")
    return _bar_chart(table, path, "cpu_us_per_req", title, "server process-tree CPU µs per request",
                      best_high=False, fmt=lambda v: f"{v:,.0f} µs", interval=True)


def memory_chart(table: pd.DataFrame, path: Path, how: str = "") -> Path:
    """Peak resident memory of the server's process tree during the measured window."""
    title = "Server memory, peak RSS MiB (lower is better)" + (f" — {how}" if how else "")
    return _bar_chart(table, path, "server_rss_mb", title, "MiB, summed over the server's processes",
                      best_high=False, fmt=lambda v: f"{v:,.1f} MiB")


def latency_chart(table: pd.DataFrame, path: Path, how: str = "") -> Path:
    """p50/p90/p99 response time per stack on a log axis, lowest p99 on top."""
    title = "Latency p50 / p90 / p99, ms (lower is better, log scale)" + (f" — {how}" if how else "")
    table = _ordered(table, "p99_ms", best_high=False)
    table = table[(table[["p50_ms", "p90_ms", "p99_ms"]] > 0).all(axis=1)].reset_index(drop=True)
    if table.empty:
        return _empty(path, title)
    groups = list(dict.fromkeys(table["group"]))
    colors = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    fig, ax = plt.subplots(figsize=(9, 1.5 + 0.42 * len(table)))
    for i, row in enumerate(table.to_dict("records")):
        c = colors[row["group"]]
        ax.plot([row["p50_ms"], row["p99_ms"]], [i, i], color=c, alpha=0.5, linewidth=2)
        ax.plot(row["p50_ms"], i, "o", color=c, markersize=7)
        ax.plot(row["p90_ms"], i, "s", color=c, markersize=6)
        ax.plot(row["p99_ms"], i, "^", color=c, markersize=8)
        note = f"p99 {row['p99_ms']:.2f} ms" + (f"  [{row['flags']}]" if row["flags"] else "")
        ax.annotate(note, (row["p99_ms"], i), xytext=(8, 0), textcoords="offset points", va="center",
                    fontsize=8, color="#b00020" if row["flags"] else "#222222")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    lo, hi = float(table["p50_ms"].min()), float(table["p99_ms"].max())
    ax.set_xlim(lo / 1.6, hi * 6)
    ax.set_yticks(range(len(table)), table["stack"])
    ax.set_ylim(len(table) - 0.5, -0.5)  # lowest p99 on top
    ax.set_xlabel("response time, ms (o p50, ■ p90, ▲ p99)")
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.set_axisbelow(True)
    if len(groups) > 1:
        handles = [Line2D([], [], color=colors[g], marker="o", linestyle="") for g in groups]
        ax.legend(handles, groups, title="scenario, concurrency", fontsize=8,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


CHARTS: dict[str, Callable[[pd.DataFrame, Path, str], Path]] = {
    "throughput.png": throughput_chart,
    "latency.png": latency_chart,
    "cpu_per_request.png": cpu_chart,
    "memory.png": memory_chart,
}


def write_charts(analysis: Analysis, out_dir: Path) -> list[Path]:
    """The four charts into out_dir (throughput, latency, cpu_per_request, memory .png) and, after a
    concurrency sweep, sweep.png; returns their paths."""
    how = describe_settings(analysis.meta["settings"], analysis.repeats)
    table = chart_table(analysis)
    charts = [chart(table, Path(out_dir) / name, how) for name, chart in CHARTS.items()]
    if not analysis.saturation.empty:
        charts.append(sweep_chart(analysis, Path(out_dir) / "sweep.png", how))
    return charts


def _sweep_panel(ax: Any, sub: pd.DataFrame, stacks: list[str], colors: Mapping[str, Any],
                 best_points: Mapping[tuple[str, str], tuple[int, float]], slo: float, max_err: float) -> None:
    """One scenario's lines: filled markers within the SLO, hollow outside, a star on the saturation point."""
    for stack in stacks:
        g = sub[sub["stack"] == stack].dropna(subset=["rps"]).sort_values("concurrency")
        if g.empty:
            continue
        c = colors[stack]
        x = g["concurrency"].astype(float).to_numpy()
        ax.plot(x, g["rps"], color=c, linewidth=1.6, label=stack)
        within = ((pd.to_numeric(g["p99_ms"]) <= slo) & (pd.to_numeric(g["error_pct"]) < max_err)).to_numpy()
        ax.scatter(x[within], g["rps"].to_numpy()[within], color=c, s=36, zorder=3)
        ax.scatter(x[~within], g["rps"].to_numpy()[~within], facecolors="white", edgecolors=[c], s=36, zorder=3)
        point = best_points.get((stack, str(sub["scenario"].iloc[0])))
        if point is not None:
            ax.scatter([point[0]], [point[1]], marker="*", color=c, edgecolors="#222222", s=200, zorder=4)
    levels = sorted(int(v) for v in sub["concurrency"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels, [str(v) for v in levels])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def sweep_chart(analysis: Analysis, path: Path, how: str = "") -> Path:
    """Throughput against concurrency, one panel per swept scenario, one line per stack.

    Medians over repeats of the closed-model (stack, scenario) pairs measured at 2+ concurrency
    levels. Filled markers: levels within the SLO the saturation table was computed with (median
    p99 and errors); hollow: outside it; a star: the saturation point (Analysis.saturation).
    """
    sat = analysis.saturation
    slo = float(sat["slo_p99_ms"].iloc[0]) if not sat.empty else SLO_P99_MS
    max_err = float(sat["max_error_pct"].iloc[0]) if not sat.empty else SATURATION_MAX_ERROR_PCT
    title = "Throughput vs concurrency, req/s" + (f" — {how}" if how else "")
    legend = f"filled: median p99 ≤ {slo:g} ms and errors < {max_err:g}%; hollow: outside; ★ most req/s within it"
    agg = sweeps(analysis.aggregate)
    if agg.empty:
        return _empty(path, title)
    best = sat.dropna(subset=["concurrency"])
    best_points = {(r["stack"], r["scenario"]): (int(r["concurrency"]), r["rps"]) for r in best.to_dict("records")}
    scenarios = sorted(agg["scenario"].unique())
    stacks = sorted(agg["stack"].unique())
    colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(stacks)}
    fig, axes = plt.subplots(len(scenarios), 1, figsize=(9, 3.6 * len(scenarios)), squeeze=False)
    for ax, scenario in zip(axes[:, 0], scenarios, strict=True):
        _sweep_panel(ax, agg[agg["scenario"] == scenario], stacks, colors, best_points, slo, max_err)
        ax.set_xlabel("concurrency (simultaneous users)\n" + legend, fontsize=9)
        ax.set_ylabel("req/s (median)")
        ax.set_title(f"{scenario}: " + title, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)
