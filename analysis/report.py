"""The run's self-contained HTML report (report/index.html + PNGs), formatted from one Analysis.

A team lead reads the first screen and stops: so what is missing comes first, then the answers (each
claim with its caveat), the framework x server grid, what the scenarios answer (analysis.scenario_section:
one sentence, a chart and the figures per kind of scenario in the run) and the charts; the evidence follows
(the full data table, each stack's verification and command line, how to reproduce the run, the method and the flag
rules). The HTML embeds its charts as data URIs, inline CSS and a small inline script (sorting and
filtering), so the one file can be mailed or archived and still opens offline, years later. Nothing is
computed here that the Analysis already holds; analysis.answers, analysis.grid, analysis.datatable and
analysis.reproduce format its parts.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from analysis import charts as chart_module
from analysis import flags
from analysis.aggregate import Steadiness
from analysis.analyze import Analysis, analyze
from analysis.answers import ESTIMATE_ERROR, answers, heading
from analysis.charts import describe_settings
from analysis.datatable import COLUMNS, anchor, data_rows, filter_options, stack_views
from analysis.grid import Grid, flag_marks, grids
from analysis.labels import FLAG_SHORT, LABELS, TIE_LEGEND, TIE_MARK
from analysis.problems import failed_cells, stack_problems, stalled_cells
from analysis.reproduce import reproduce
from analysis.scenario_section import SECTION as SCENARIO_SECTION
from analysis.scenario_section import scenario_charts, scenario_views
from analysis.stats import BOOTSTRAP_RESAMPLES, INTERVAL
from analysis.tables import SCENARIO_CSVS, write_tables
from runformat import atomic, paths
from runformat.latency import TIMELINE_SLOT_S
from runformat.records import RunMeta

TEMPLATES = Path(__file__).resolve().parent / "templates"
CAVEAT = ("Single-run differences of less than roughly 10–20% between stacks are within the run-to-run "
          "variation of a shared machine like this one; read them as ties unless repeats agree. Rows marked "
          "“≈ next” cannot be told apart from the stack below them (overlapping 95% intervals, or, "
          f"with fewer than 2 repeats, less than {flags.TIE_FRACTION:.0%} apart).")
TIE_RULE = (f"this stack and the next one down are not separable: with 2+ repeats each, their {INTERVAL:.0%} "
            f"req/s intervals overlap; otherwise their medians are less than {flags.TIE_FRACTION:.0%} apart. "
            "Their order is not a result.")
# chart section -> its heading, in page order (analysis.charts' Chart.section names)
CHART_SECTIONS = {
    "overview": "Overview",
    "by-framework": "Which server for my framework",
    "by-server": "Which framework on my server",
    "sweep": "Throughput against concurrency",
    "latency": "Latency",
    "timeline": "Within a cell, over time",
    "resources": "CPU time and memory",
}
CSV_FILES = (paths.SUMMARY_CSV, paths.AGGREGATE_CSV, paths.SATURATION_CSV)
# the scenarios' companion tables (analysis.tables writes each only when it has rows): linked when present
COMPANION_CSV_FILES = tuple(SCENARIO_CSVS)


@dataclass(frozen=True)
class ChartView:
    """A chart as the page shows it: an <img> of its PNG as a data URI, or its inline SVG."""

    file: str
    title: str
    section: str
    caption: str
    src: str
    svg: Markup | None = None


def _cpus(cpus: Any) -> str:
    if not cpus:
        return "not pinned"
    return ("CPU " if len(cpus) == 1 else "CPUs ") + ", ".join(str(c) for c in cpus)


def _plural(n: Any, word: str) -> str:
    if isinstance(n, (list, tuple)):  # e.g. workers per stack: [1] or [1, 2]
        if len(n) == 1:
            n = n[0]
        else:
            return f"{' or '.join(f'{x:g}' for x in n)} {word}s"
    return f"{n:g} {word}" if n == 1 else f"{n:g} {word}s"


def _workers(workers: list[int] | int) -> str:
    """Server workers per stack: '1', or '1, 2' when stacks ran with different counts."""
    return ", ".join(str(w) for w in workers) if isinstance(workers, list) else str(workers)


def measurement_text(meta: RunMeta) -> str:
    """The 'how it was measured' paragraph, built from run.json settings so it cannot drift from them."""
    s = meta["settings"]
    workers = s.get("workers")
    scenarios = ", ".join(s.get("scenarios") or []) or "(none)"
    conc = ", ".join(str(c) for c in s.get("concurrency") or []) or "(none)"
    repeat = s.get("repeat") or 1
    return (
        f"Each stack's server ran on {_cpus(s.get('server_cpus'))}"
        + (f" with {_plural(workers, 'worker')}" if workers else "")
        + f"; the Locust load generator ran on {_cpus(s.get('loadgen_cpus'))}. "
        f"For each scenario ({scenarios}) and concurrency ({conc} simultaneous users), "
        f"Locust ran a {s.get('primer_s', 0):g} s primer and a {s.get('warmup_s', 0):g} s warm-up, which are not "
        f"counted, then a {s.get('duration_s', 0):g} s measured window. "
        f"Each cell was to be measured {_plural(repeat, 'time')}; tables and charts show the median over the "
        "repeats that finished ok. "
        "Throughput and latency count the requests that completed inside the window "
        "(10 µs histogram buckets; percentiles are nearest-rank and report the bucket's lower edge). "
        "Server CPU and memory come from samples of the server's whole process tree about every 0.5 s; "
        "CPU counters are interpolated to the window's edges, memory is the peak sample inside it. "
        "Generator CPU is Locust's CPU time as a share of its CPUs; steal is the share of all the machine's "
        "CPU time taken by the hypervisor. "
        "Locust also counts, per simulated user, the requests it completed inside the window, so users a server "
        "left waiting without an error show up as starved, and the requests completed in each "
        f"{TIMELINE_SLOT_S:g} s slot of the window, so a server that stops answering shows as a gap in completions "
        "(stalled) although its percentiles only count the requests that completed. "
        f"With 2 or more repeats, req/s and CPU per request carry a {INTERVAL:.0%} percentile-bootstrap interval "
        f"of the median ({BOOTSTRAP_RESAMPLES} resamples, fixed seed) and a coefficient of variation (sample "
        "standard deviation / mean)."
    )


def repeats_text(repeats: list[int]) -> str:
    """'3 repeats finished ok per stack and cell', or the range: what actually finished, not what was asked."""
    if not repeats:
        return "no cell finished ok"
    if len(repeats) == 1:
        return f"{_plural(repeats[0], 'repeat')} finished ok per stack and cell"
    return f"{repeats[0]}–{repeats[-1]} repeats finished ok per stack and cell (n in the table)"


def steadiness_text(st: Steadiness) -> str:
    """How steady CPU per request was against throughput over repeats (median CV across stacks)."""
    if st.groups == 0 or math.isnan(st.rps_cv) or math.isnan(st.cpu_cv):
        return ("Every stack has a single ok repeat, so run-to-run variation was not measured and no interval "
                "could be computed; run with --repeat 3 or more before reading small differences.")
    rps_cv, cpu_cv = st.rps_cv, st.cpu_cv
    if cpu_cv > 0 and rps_cv > cpu_cv:
        verdict = f"CPU per request was {rps_cv / cpu_cv:.1f}× steadier than throughput"
    elif rps_cv > 0 and cpu_cv > rps_cv:
        verdict = f"throughput was {cpu_cv / rps_cv:.1f}× steadier than CPU per request"
    else:
        verdict = "both were equally steady"
    return (f"Across the {st.groups} stack/cell combinations with 2 or more repeats, the median coefficient "
            f"of variation over repeats was {cpu_cv:.1%} for CPU per request and {rps_cv:.1%} for throughput: "
            f"{verdict}.")


def _fmt(value: Any, spec: str, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    return format(value, spec) + suffix


def _when(ts: Any) -> str:
    if ts is None:
        return "not recorded (interrupted or still running)"
    return datetime.fromtimestamp(float(ts), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _flag_list(value: Any) -> list[str]:
    return [f for f in (value or "").split(",") if f]


def _saturation_rows(sat: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for r in sat.to_dict("records"):
        conc = r["concurrency"]
        rows.append({
            "stack": r["stack"], "scenario": r["scenario"], "levels": r["levels"], "max_tested": r["max_tested"],
            "concurrency": "–" if flags.missing(conc) else int(conc),
            "rps": _fmt(r["rps"], ",.0f"), "p99_ms": _fmt(r["p99_ms"], ".2f"),
            "error_pct": _fmt(r["error_pct"], ".2f", "%"), "flags": _flag_list(r["flags"]), "note": r["note"] or "",
        })
    return rows


def _open_rows(agg: pd.DataFrame) -> list[dict[str, Any]]:
    """Open-model cells (a fixed offered rate; concurrency = the cap on requests in flight), medians over repeats."""
    rated = agg[pd.to_numeric(agg["offered_rps"], errors="coerce").notna()]
    return [{"stack": r["stack"], "scenario": r["scenario"], "max_inflight": r["concurrency"], "n": r["n"],
             "offered": _fmt(r["offered_rps"], ",.0f"), "rps": _fmt(r["rps"], ",.0f"),
             "p99_ms": _fmt(r["p99_ms"], ".2f"), "missed": _fmt(r["missed"], ",.0f"), "late": _fmt(r["late"], ",.0f"),
             "error_pct": _fmt(r["error_pct"], ".2f", "%")}
            for r in rated.sort_values(["scenario", "stack", "concurrency"], kind="stable").to_dict("records")]


def _slo(sat: pd.DataFrame) -> dict[str, float]:
    """The SLO the saturation table was computed with (the defaults when there was no sweep)."""
    if sat.empty:
        return {"p99_ms": flags.SLO_P99_MS, "error_pct": flags.SATURATION_MAX_ERROR_PCT}
    return {"p99_ms": float(sat["slo_p99_ms"].iloc[0]), "error_pct": float(sat["max_error_pct"].iloc[0])}


def _data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _run_context(analysis: Analysis) -> dict[str, Any]:
    """The report's header: run id, times, commit, settings, from run.json."""
    meta, settings = analysis.meta, analysis.meta["settings"]
    return {
        "run_id": meta["run_id"] or analysis.path.name,
        "started": _when(meta["started_at"]),
        "finished": _when(meta["finished_at"]),
        "git": meta["git"],
        "settings": [
            ("scenarios", ", ".join(settings["scenarios"])),
            ("concurrency", ", ".join(str(c) for c in settings["concurrency"])),
            ("primer / warm-up / measured", f"{settings['primer_s']:g} s / {settings['warmup_s']:g} s / "
                                            f"{settings['duration_s']:g} s"),
            ("repeats", f"{settings['repeat']} requested; {repeats_text(analysis.repeats)}"),
            ("server workers", _workers(settings["workers"])),
            ("server CPUs", _cpus(settings["server_cpus"])),
            ("load generator CPUs", _cpus(settings["loadgen_cpus"])),
        ],
        "how": measurement_text(meta),
    }


def _section(section: str) -> str:
    """A chart's section on the page: its own, the scenarios', or the overview for an unknown one."""
    return section if section in CHART_SECTIONS or section == SCENARIO_SECTION else "overview"


def report_charts(analysis: Analysis, out_dir: Path) -> list[ChartView]:
    """Write the PNGs into out_dir (analysis.charts.write_report_charts, then the scenario section's charts) and
    describe each for the page: its inline SVG when the chart has one, else its PNG as a data URI; an unknown
    section goes under the overview."""
    written = chart_module.write_report_charts(analysis, out_dir) + scenario_charts(analysis, out_dir)
    return [ChartView(c.file, c.title, _section(c.section), c.caption,
                      "" if c.svg is not None else _data_uri(out_dir / c.file),
                      Markup(c.svg) if c.svg is not None else None)
            for c in written]


def csv_links(analysis: Analysis) -> list[str]:
    """The CSV files the data section links: summary and aggregate always, saturation after a sweep, and each
    scenario companion table present in the run folder."""
    return ([name for name in CSV_FILES if name != paths.SATURATION_CSV or not analysis.saturation.empty]
            + [name for name in COMPANION_CSV_FILES if (analysis.path / name).is_file()])


def _chart_sections(charts: list[ChartView]) -> list[tuple[str, str, list[ChartView]]]:
    """(section id, heading, its charts) in page order, empty sections left out."""
    return [(key, title, [c for c in charts if c.section == key]) for key, title in CHART_SECTIONS.items()
            if any(c.section == key for c in charts)]


def grid_groups(analysis: Analysis) -> list[tuple[str, list[Grid]]]:
    """The grids side by side per scenario and concurrency: (heading, its grids)."""
    found = grids(analysis)
    keys = list(dict.fromkeys((g.scenario, g.concurrency) for g in found))
    return [(heading(s, c, s in analysis.open_scenarios), [g for g in found if (g.scenario, g.concurrency) == (s, c)])
            for s, c in keys]


def render_report(analysis: Analysis, charts: list[ChartView]) -> str:
    """The report's HTML text (no file writes): what is missing, the answers, the grid, what the scenarios answer
    (when the run has any), the charts, then the evidence (data, stacks, reproduce, method)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    rows = data_rows(analysis)
    context = {
        **_run_context(analysis),
        "problems": stack_problems(analysis),
        "failed_cells": failed_cells(analysis.frame),
        "stalled_cells": stalled_cells(analysis.frame),
        "subtitle": describe_settings(analysis.meta["settings"], analysis.repeats),
        "answers": answers(analysis),
        "estimate_error": ESTIMATE_ERROR,
        "grid_groups": grid_groups(analysis),
        "flag_marks": flag_marks,
        "flag_short": FLAG_SHORT,
        "labels": LABELS,
        "tie_mark": TIE_MARK,
        "tie_legend": TIE_LEGEND,
        "columns": COLUMNS,
        "rows": rows,
        "filters": filter_options(rows),
        "anchor": anchor,
        "csv_files": csv_links(analysis),
        "stacks": stack_views(analysis),
        "reproduce": reproduce(analysis.meta),
        "flag_rules": list(flags.FLAG_RULES.items()),
        "tie_rule": TIE_RULE,
        "steadiness": steadiness_text(analysis.steadiness),
        "chart_sections": _chart_sections(charts),
        "scenarios": scenario_views(analysis, charts),
        "caveat": CAVEAT,
        "saturation": _saturation_rows(analysis.saturation),
        "slo": _slo(analysis.saturation),
        "open_cells": _open_rows(analysis.aggregate),
    }
    return env.get_template("report.html.j2").render(**context)


def write_report(analysis: Analysis) -> Path:
    """Write summary.csv, aggregate.csv (saturation.csv after a sweep) and report/ (index.html, the PNGs)
    from one Analysis; returns index.html's path."""
    write_tables(analysis)
    out = analysis.path / paths.REPORT_DIR
    html = render_report(analysis, report_charts(analysis, out))
    return atomic.write_text(out / "index.html", html)


def build_report(run_dir: Path) -> Path:
    """Analyse a run folder once and write its tables and report; returns index.html's path."""
    return write_report(analyze(Path(run_dir)))
