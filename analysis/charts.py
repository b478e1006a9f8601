"""The report's charts: which exist, their stable PNG names, sections, titles and captions.

Every bar chart shows the median over repeats of the ok cells (the Analysis's aggregate, never
recomputed here), grouped and sorted (analysis.chart_views, analysis.chart_bars), with the 95%
bootstrap interval as whiskers where there were 2+ repeats and the ranking flags marked only on the
charts they weaken. The over-time charts read each cell's history from the run folder
(analysis.timeline). A caption says what a chart shows and explains whiskers and flags only where it
drew them; a run with nothing to plot still gets each fixed chart, saying why it is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402  (must follow matplotlib.use)
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from analysis import chart_output, chart_views  # noqa: E402
from analysis.analyze import Analysis  # noqa: E402
from analysis.chart_bars import METRICS, Marks  # noqa: E402
from analysis.chart_timeline import CAPTION, timeline_figure  # noqa: E402
from analysis.flags import SATURATION_MAX_ERROR_PCT, SLO_P99_MS  # noqa: E402
from analysis.labels import FLAG_SHORT, LABELS  # noqa: E402
from analysis.saturation import sweeps  # noqa: E402
from analysis.timeline import series_by_group  # noqa: E402
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
    """Aggregate rows (medians and intervals per (scenario, concurrency, stack)) plus flags, a group label and
    whether the scenario is open-model (its concurrency is a cap on requests in flight)."""
    med = analysis.aggregate
    if med.empty:
        return med.assign(flags=pd.Series(dtype=object), group=pd.Series(dtype=object), open=pd.Series(dtype=bool))
    flags = analysis.ranking.set_index(["scenario", "concurrency", "stack"])["flags"]
    med = med.join(flags, on=["scenario", "concurrency", "stack"])
    med["flags"] = med["flags"].fillna("")
    med["group"] = med["scenario"].astype(str) + ", c" + med["concurrency"].astype(str)
    med["open"] = med["scenario"].astype(str).isin(analysis.open_scenarios)
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


def write_charts(analysis: Analysis, out_dir: Path) -> list[Path]:
    """The report's PNGs into out_dir (write_report_charts); their paths. Kept for callers that want files only."""
    return [Path(out_dir) / c.file for c in write_report_charts(analysis, out_dir)]


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


def sweep_figure(analysis: Analysis, how: str = "") -> Figure | None:
    """Throughput against concurrency, one panel per swept scenario, one line per stack; None without a sweep.

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
        return None
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
    fig.tight_layout()
    return fig


def sweep_chart(analysis: Analysis, path: Path, how: str = "") -> Path:
    """sweep.png: sweep_figure, or an empty-state chart without a sweep."""
    fig = sweep_figure(analysis, how)
    if fig is None:
        return _empty(path, "Throughput vs concurrency, req/s" + (f" — {how}" if how else ""))
    return _save(fig, path)


def _sweep(analysis: Analysis, out_dir: Path, how: str, svg: bool) -> Chart:
    """The sweep for the report: sweep_figure with its caption."""
    fig = sweep_figure(analysis, how)
    return _emit(out_dir, "sweep.png", "Throughput against concurrency (the sweep)", "sweep",
                 "Median req/s of each stack at each concurrency level, one panel per swept scenario; filled "
                 "markers are levels within the latency SLO, a star the best of them",
                 None if fig is None else (fig, Marks(flags=set())), svg)


# --- the report's charts -------------------------------------------------------------------------------------

SECTIONS = ("overview", "by-framework", "by-server", "sweep", "latency", "timeline", "resources")
# flag -> what it means for the number it marks, in the few words a caption has room for
FLAG_MEANING = {
    "stalled": "no request completed for a while: the server stalled",
    "generator-bound": "Locust's own ceiling, so the stack may be faster",
    "unsaturated": "neither side was saturated, so it is not the stack's capacity",
    "starved": "some users got no answer",
    "littles-off": "Little's law disagrees",
    "errors": "1% or more of requests failed",
    "noisy": "too unsteady to rank on",
    "steal": "the hypervisor took 10% or more of the CPU",
}
LATENCY_FLAGS = ("stalled", "generator-bound", "starved", "littles-off", "errors")
WHISKERS = "whiskers: the 95% bootstrap interval of the median over repeats"
NO_DATA = "no ok cells to plot: every cell failed or none finished"


@dataclass(frozen=True)
class Chart:
    """One chart of the report: its PNG in report/ (stable name) and how the page presents it."""

    file: str  # the stable PNG file name in report/, for READMEs and pull requests
    title: str
    section: str  # one of SECTIONS
    caption: str  # one plain sentence: what it shows, whiskers and flags explained only where drawn
    svg: str | None = None  # the same chart as inline SVG for the HTML; None: the report embeds the PNG


def caption(what: str, marks: Marks | None, marked: str = "hatched bars with a red figure") -> str:
    """What the chart shows, then its whiskers and its flag marks, each only if it drew them."""
    parts = [what]
    if marks is not None and marks.whiskers:
        parts.append(WHISKERS)
    flags = sorted(marks.flags or set(), key=list(FLAG_MEANING).index) if marks is not None else []
    if flags:
        parts.append(f"{marked} are flagged: " + ", ".join(
            f"{FLAG_SHORT.get(f, f)} {f} ({FLAG_MEANING.get(f, '')})" for f in flags))
    return "; ".join(parts) + "."


def _emit(out_dir: Path, file: str, title: str, section: str, what: str,
          drawn: tuple[Figure, Marks] | None, svg: bool, marked: str = "hatched bars with a red figure") -> Chart:
    """Write one chart (or its empty state) and describe it."""
    if drawn is None:
        fig, marks, what = chart_output.empty_figure(title, NO_DATA), None, NO_DATA
    else:
        (fig, marks) = drawn
    return Chart(file, title, section, caption(what, marks, marked),
                 chart_output.finish(fig, Path(out_dir) / file, svg))


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name.split(" (")[0].lower()).strip("-")


PANELS_PER_PAGE = 2  # (scenario, concurrency) panels per bar chart: more go to throughput-2.png, ... (one page each)


def pages(table: pd.DataFrame) -> list[pd.DataFrame]:
    """The table cut into chart pages of PANELS_PER_PAGE (scenario, concurrency) groups; one page if empty."""
    if table.empty:
        return [table]
    keys = sorted(set(zip(table["scenario"], table["concurrency"], strict=True)))
    chunks = [keys[i:i + PANELS_PER_PAGE] for i in range(0, len(keys), PANELS_PER_PAGE)]
    index = pd.MultiIndex.from_arrays([table["scenario"], table["concurrency"]])
    return [table[index.isin(chunk)] for chunk in chunks]


def page_file(file: str, page: int) -> str:
    """throughput.png, throughput-2.png, ...: the first page keeps the stable name."""
    return file if page == 0 else f"{Path(file).stem}-{page + 1}{Path(file).suffix}"


def top_levels(table: pd.DataFrame) -> pd.DataFrame:
    """Each scenario at its highest concurrency: the small per-framework and per-server charts stay small."""
    if table.empty:
        return table
    return table[table["concurrency"] == table.groupby("scenario")["concurrency"].transform("max")]


def _paged(out_dir: Path, ok: pd.DataFrame, file: str, title: str, section: str, what: str,
           draw: Callable[[pd.DataFrame, str], tuple[Figure, Marks] | None], svg: bool,
           marked: str = "hatched bars with a red figure") -> list[Chart]:
    """One chart per page of (scenario, concurrency) panels, each printable on a page."""
    parts = pages(ok)
    out = []
    for i, part in enumerate(parts):
        of = f" ({i + 1} of {len(parts)})" if len(parts) > 1 else ""
        out.append(_emit(out_dir, page_file(file, i), title + of, section, what, draw(part, of), svg, marked))
    return out


def _subject_charts(out_dir: Path, ok: pd.DataFrame, sub: str, colours: Mapping[str, Mapping[str, str]],
                    svg: bool) -> list[Chart]:
    """'Which server for my framework' and 'which framework on my server': one small chart each."""
    top = top_levels(ok)
    level = ", each scenario at its highest concurrency" if len(top) < len(ok) else ""
    specs = (("framework", "server", "by-framework", "{} on each server", "{}: which server"),
             ("server", "framework", "by-server", "Each framework on {}", "{}: which framework"))
    charts = []
    for column, colour_by, section, what, title in specs:
        for name in chart_views.subjects(top, column) if not top.empty else []:
            drawn = chart_views.one_subject(top, column, name, colour_by, title.format(name) + sub, colours[colour_by])
            charts.append(_emit(out_dir, f"{section}-{_slug(name)}.png", title.format(name), section,
                                what.format(name) + f": median {LABELS['rps']} and {LABELS['cpu_us_per_req']} per "
                                f"scenario{level}, best first", drawn, svg))
    return charts


def write_report_charts(analysis: Analysis, out_dir: Path, svg: bool = False) -> list[Chart]:
    """Every chart of the report, written as PNGs into out_dir, in page order; never raises on a partial run.

    A pure function of the Analysis and the files of its run folder (the per-second histories). With
    `svg`, a chart also carries an inline SVG where that is lighter than its PNG; off by default, since
    on a real 45-cell run every palette PNG was the lighter (and the SVGs double the drawing time).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    how = describe_settings(analysis.meta["settings"], analysis.repeats)
    table = chart_table(analysis)
    ok = table if table.empty else table[table["n"].fillna(0) > 0]
    sub = f" ({how})" if how else ""
    server = chart_views.colours(table["server"]) if not table.empty else {}
    framework = chart_views.colours(table["framework"].map(chart_views.framework_name)) if not table.empty else {}
    charts = _paged(out_dir, ok, "throughput.png", "Throughput per stack", "overview",
                    f"Median {LABELS['rps']} per stack{sub}, one panel per scenario, grouped by framework and "
                    "sorted best first, coloured by server", lambda t, of: chart_views.by_scenario(
                        t, METRICS["rps"], f"Throughput, {LABELS['rps']} (higher is better){sub}{of}", server), svg)
    charts += _subject_charts(out_dir, ok, sub, {"server": server, "framework": framework}, svg)
    if not analysis.saturation.empty:
        charts.append(_sweep(analysis, out_dir, how, svg))
    charts += _paged(out_dir, ok, "latency.png", "Latency percentiles per stack", "latency",
                     "Median p50, p90 and p99 response time per stack on a log scale, grouped by framework, "
                     "lowest p99 first", lambda t, of: chart_views.latency_figure(
                         t, f"Latency p50 / p90 / p99, ms (lower is better){sub}{of}", LATENCY_FLAGS, server), svg,
                     marked="stacks with a red p99 figure")
    charts += timeline_charts(analysis, out_dir, svg)
    charts += _paged(out_dir, ok, "cpu_per_request.png", "Server CPU time per request", "resources",
                     f"Median server {LABELS['cpu_us_per_req']} per stack (the server's whole process tree), "
                     "grouped by framework, cheapest first", lambda t, of: chart_views.by_scenario(
                         t, METRICS["cpu_us_per_req"], f"Server CPU time per request, µs (lower is better){sub}{of}",
                         server), svg)
    charts += _paged(out_dir, ok, "memory.png", "Server memory", "resources",
                     f"Median {LABELS['server_rss_mb']} of the server's processes in the measured window, "
                     "grouped by framework, smallest first", lambda t, of: chart_views.by_scenario(
                         t, METRICS["server_rss_mb"], f"Server memory, {LABELS['server_rss_mb']} "
                         f"(lower is better){sub}{of}", server), svg)
    return charts


def timeline_charts(analysis: Analysis, out_dir: Path, svg: bool = False) -> list[Chart]:
    """One small-multiples chart per scenario, at its highest concurrency (the most load, where stalls show;
    a sweep of six levels would otherwise make six), from the per-second histories on disk."""
    found = series_by_group(analysis.run)
    top = {scenario: max(c for s, c in found if s == scenario) for scenario, _ in found}
    charts = []
    for (scenario, conc), series in found.items():
        if conc != top[scenario]:
            continue
        title = f"Over time: {chart_views.group_name(scenario, conc, scenario in analysis.open_scenarios)}"
        file = f"timeline-{_slug(scenario)}-c{conc}.png"
        fig = timeline_figure(series, f"{title}, one panel per stack (first repeat)")
        png = chart_output.finish(fig, Path(out_dir) / file, svg)
        charts.append(Chart(file, title, "timeline", CAPTION + ".", png))
    return charts
