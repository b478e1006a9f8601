"""PNG charts of a tidy frame: one function per chart, each returns the path it wrote.

Every chart shows the median over repeats of the ok cells, one bar (or row)
per stack and (scenario, concurrency), sorted best first, coloured by
scenario/concurrency, with the ranking flags written next to flagged stacks
so a generator-bound number is never shown bare. Throughput and CPU per
request carry the 95% bootstrap interval of the median as an error bar where
there were 2+ repeats, and every label says how many repeats it is (n=).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402  (must follow matplotlib.use)
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from analysis.tidy import aggregate, medians, ranking, write_atomic  # noqa: E402

DPI = 110
PALETTE = plt.get_cmap("tab10").colors


def describe_settings(settings: dict[str, Any], df: pd.DataFrame | None = None) -> str:
    """'concurrency 8, 3 s window, median of 2 repeats': how the plotted numbers were measured.

    With df, the repeat count is what actually finished ok (an interrupted run has fewer
    than settings.repeat), so the title never claims a median that was not taken.
    """
    parts = []
    conc = settings.get("concurrency") or []
    if conc:
        parts.append("concurrency " + "/".join(str(c) for c in conc))
    duration = settings.get("duration_s")
    if duration is not None:
        parts.append(f"{duration:g} s window")
    counts: list[int] = []
    if df is not None:
        med = medians(df)
        counts = sorted({int(n) for n in med["repeats"]}) if not med.empty else []
    elif settings.get("repeat"):
        counts = [int(settings["repeat"])]
    if counts == [1]:
        parts.append("1 repeat")
    elif len(counts) == 1:
        parts.append(f"median of {counts[0]} repeats")
    elif counts:
        parts.append(f"median of {counts[0]}–{counts[-1]} repeats")
    return ", ".join(parts)


def _table(df: pd.DataFrame) -> pd.DataFrame:
    """aggregate() rows (medians and intervals per (scenario, concurrency, stack)) plus flags and a group label."""
    med = aggregate(df)
    if med.empty:
        return med.assign(flags=pd.Series(dtype=object), group=pd.Series(dtype=object))
    flags = ranking(df).set_index(["scenario", "concurrency", "stack"])["flags"]
    med = med.join(flags, on=["scenario", "concurrency", "stack"])
    med["flags"] = med["flags"].fillna("")
    med["group"] = med["scenario"].astype(str) + ", c" + med["concurrency"].astype(str)
    return med


def _save(fig: plt.Figure, path: Path) -> Path:
    """Write the PNG atomically and free the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.tight_layout()
        return write_atomic(path, lambda f: fig.savefig(f, dpi=DPI, format="png"), binary=True)
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


def _bar_chart(df: pd.DataFrame, path: Path, column: str, title: str, xlabel: str,
               best_high: bool, fmt: Callable[[float], str], interval: bool = False) -> Path:
    table = _ordered(_table(df), column, best_high)
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
    for i, row in table.iterrows():
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
        handles = [plt.Rectangle((0, 0), 1, 1, color=colors[g]) for g in groups]
        ax.legend(handles, groups, title="scenario, concurrency", fontsize=8,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


def throughput_chart(df: pd.DataFrame, path: Path, how: str = "") -> Path:
    """Requests per second per stack, best on top."""
    title = "Throughput, req/s (higher is better)" + (f" — {how}" if how else "")
    return _bar_chart(df, path, "rps", title, "requests per second in the measured window",
                      best_high=True, fmt=lambda v: f"{v:,.0f}", interval=True)


def cpu_chart(df: pd.DataFrame, path: Path, how: str = "") -> Path:
    """Server CPU time spent per request: the efficiency view, independent of the generator's limit."""
    title = "Server CPU per request, µs (lower is better)" + (f" — {how}" if how else "")
    return _bar_chart(df, path, "cpu_us_per_req", title, "server process-tree CPU µs per request",
                      best_high=False, fmt=lambda v: f"{v:,.0f} µs", interval=True)


def memory_chart(df: pd.DataFrame, path: Path, how: str = "") -> Path:
    """Peak resident memory of the server's process tree during the measured window."""
    title = "Server memory, peak RSS MiB (lower is better)" + (f" — {how}" if how else "")
    return _bar_chart(df, path, "server_rss_mb", title, "MiB, summed over the server's processes",
                      best_high=False, fmt=lambda v: f"{v:,.1f} MiB")


def latency_chart(df: pd.DataFrame, path: Path, how: str = "") -> Path:
    """p50/p90/p99 response time per stack on a log axis, lowest p99 on top."""
    title = "Latency p50 / p90 / p99, ms (lower is better, log scale)" + (f" — {how}" if how else "")
    table = _ordered(_table(df), "p99_ms", best_high=False)
    table = table[(table[["p50_ms", "p90_ms", "p99_ms"]] > 0).all(axis=1)].reset_index(drop=True)
    if table.empty:
        return _empty(path, title)
    groups = list(dict.fromkeys(table["group"]))
    colors = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    fig, ax = plt.subplots(figsize=(9, 1.5 + 0.42 * len(table)))
    for i, row in table.iterrows():
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
        handles = [plt.Line2D([], [], color=colors[g], marker="o", linestyle="") for g in groups]
        ax.legend(handles, groups, title="scenario, concurrency", fontsize=8,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


CHARTS: dict[str, Callable[[pd.DataFrame, Path, str], Path]] = {
    "throughput.png": throughput_chart,
    "latency.png": latency_chart,
    "cpu_per_request.png": cpu_chart,
    "memory.png": memory_chart,
}


def write_charts(df: pd.DataFrame, out_dir: Path, settings: dict[str, Any] | None = None) -> list[Path]:
    """All four charts into out_dir (throughput, latency, cpu_per_request, memory .png); returns their paths."""
    how = describe_settings(settings or {}, df)
    return [chart(df, Path(out_dir) / name, how) for name, chart in CHARTS.items()]


def sweep_chart(df: pd.DataFrame, path: Path, slo_p99_ms: float | None = None, max_error_pct: float | None = None,
                how: str = "") -> Path:
    """Throughput against concurrency, one panel per swept scenario, one line per stack.

    Medians over repeats of the closed-model (stack, scenario) pairs measured at 2+ concurrency
    levels. Filled markers: levels within the SLO (median p99 <= slo_p99_ms and errors below
    max_error_pct); hollow: outside it; a star: the saturation point of analysis.tidy.saturation.
    """
    from analysis.tidy import SATURATION_MAX_ERROR_PCT, SLO_P99_MS, saturation, sweeps

    slo = SLO_P99_MS if slo_p99_ms is None else slo_p99_ms
    max_err = SATURATION_MAX_ERROR_PCT if max_error_pct is None else max_error_pct
    title = "Throughput vs concurrency, req/s" + (f" — {how}" if how else "")
    legend = f"filled: median p99 ≤ {slo:g} ms and errors < {max_err:g}%; hollow: outside; ★ most req/s within it"
    agg = sweeps(df)
    if agg.empty:
        return _empty(path, title)
    best = saturation(df, slo, max_err).dropna(subset=["concurrency"])
    best_points = {(r["stack"], r["scenario"]): (int(r["concurrency"]), r["rps"]) for r in best.to_dict("records")}
    scenarios = sorted(agg["scenario"].unique())
    stacks = sorted(agg["stack"].unique())
    colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(stacks)}
    fig, axes = plt.subplots(len(scenarios), 1, figsize=(9, 3.6 * len(scenarios)), squeeze=False)
    for ax, scenario in zip(axes[:, 0], scenarios):
        sub = agg[agg["scenario"] == scenario]
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
            if (stack, scenario) in best_points:
                bx, by = best_points[(stack, scenario)]
                ax.scatter([bx], [by], marker="*", color=c, edgecolors="#222222", s=200, zorder=4)
        levels = sorted(int(v) for v in sub["concurrency"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(v) for v in levels])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_xlabel("concurrency (simultaneous users)\n" + legend, fontsize=9)
        ax.set_ylabel("req/s (median)")
        ax.set_title(f"{scenario}: " + title, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)
