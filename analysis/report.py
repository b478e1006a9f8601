"""The run's self-contained HTML report (report/index.html + PNGs), formatted from one Analysis.

What failed comes first, then the ranking with its flags and their rules,
then the method and the charts. The HTML embeds its charts as data URIs and
inline CSS, so the one file can be mailed or archived and still opens
offline, years later. Nothing is computed here that the Analysis already holds.
"""

from __future__ import annotations

import base64
import math
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from analysis import flags
from analysis.aggregate import Steadiness
from analysis.analyze import Analysis, analyze
from analysis.charts import describe_settings, write_charts
from analysis.problems import failed_cells, stack_problems, stalled_cells
from analysis.stats import BOOTSTRAP_RESAMPLES, INTERVAL
from analysis.tables import write_tables
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
CHART_TITLES = {
    "throughput.png": "Throughput per stack",
    "latency.png": "Latency percentiles per stack",
    "cpu_per_request.png": "Server CPU time per request",
    "memory.png": "Server memory",
    "sweep.png": "Throughput against concurrency (the sweep)",
}


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


def _interval(lo: Any, hi: Any) -> str:
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return "–"
    return f"{lo:,.0f}–{hi:,.0f}"


def _flag_list(value: Any) -> list[str]:
    return [f for f in (value or "").split(",") if f]


def _ranking_rows(rank: pd.DataFrame, open_scenarios: set[str]) -> list[dict[str, Any]]:
    rows = []
    for r in rank.to_dict("records"):
        # open model: the concurrency level is the cap on requests in flight, not a number of users
        conc = f"≤{r['concurrency']} in flight" if r["scenario"] in open_scenarios else r["concurrency"]
        rows.append({
            "scenario": r["scenario"], "concurrency": conc, "rank": r["rank"], "stack": r["stack"],
            "n": r["n"], "rps": _fmt(r["rps"], ",.0f"), "rps_interval": _interval(r["rps_lo"], r["rps_hi"]),
            "rel_rps": _fmt(r["rel_rps"] * 100 if pd.notna(r["rel_rps"]) else None, ".0f", "%"),
            "p99_ms": _fmt(r["p99_ms"], ".2f"), "cpu_us_per_req": _fmt(r["cpu_us_per_req"], ",.0f"),
            "cpu_interval": _interval(r["cpu_us_per_req_lo"], r["cpu_us_per_req_hi"]),
            "server_rss_mb": _fmt(r["server_rss_mb"], ".1f"),
            "generator_cpu_pct": _fmt(r["generator_cpu_pct"], ".0f", "%"),
            "flags": _flag_list(r["flags"]),
            "tie": bool(r["tie_with_next"]),
        })
    return rows


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
    """The report's header: run id, times, commit, machine, packages and settings, from run.json."""
    meta, settings = analysis.meta, analysis.meta["settings"]
    return {
        "run_id": meta["run_id"] or analysis.path.name,
        "started": _when(meta["started_at"]),
        "finished": _when(meta["finished_at"]),
        "git": meta["git"], "host": meta["host"],
        "packages": sorted(meta["packages"].items()),
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


def _stack_rows(analysis: Analysis) -> list[dict[str, str]]:
    """Each stack as it ran (stack.json): configuration, its short hash, workers, verification, the command line.

    Why: a "tuned" number and a one-worker number of the same stack id are different experiments; the hash
    and the command line say which one a row of the ranking is, without opening the run folder."""
    rows = []
    for stack_id, record in sorted(analysis.run.stacks.items()):
        if record is None:
            continue
        verify = record.get("verify") or {}
        rows.append({
            "stack": stack_id,
            "configuration": record.get("configuration", "default"),
            "config_hash": record.get("config_hash", ""),
            "verify": str(verify.get("status", "not run")),
            "command": " ".join(shlex.quote(part) for part in record.get("command", [])),
        })
    return rows


def render_report(analysis: Analysis, charts: list[Path]) -> str:
    """The report's HTML text (no file writes): what failed, the ranking and its flags, method, charts."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    context = {
        **_run_context(analysis),
        "problems": stack_problems(analysis),
        "failed_cells": failed_cells(analysis.frame),
        "stalled_cells": stalled_cells(analysis.frame),
        "subtitle": describe_settings(analysis.meta["settings"], analysis.repeats),
        "ranking": _ranking_rows(analysis.ranking, analysis.open_scenarios),
        "flag_rules": list(flags.FLAG_RULES.items()),
        "tie_rule": TIE_RULE,
        "steadiness": steadiness_text(analysis.steadiness),
        "charts": [{"title": CHART_TITLES.get(p.name, p.stem), "src": _data_uri(p)} for p in charts],
        "caveat": CAVEAT,
        "saturation": _saturation_rows(analysis.saturation),
        "slo": _slo(analysis.saturation),
        "open_cells": _open_rows(analysis.aggregate),
        "stacks": _stack_rows(analysis),
    }
    return env.get_template("report.html.j2").render(**context)


def write_report(analysis: Analysis) -> Path:
    """Write summary.csv, aggregate.csv (saturation.csv after a sweep) and report/ (index.html, the PNGs)
    from one Analysis; returns index.html's path."""
    write_tables(analysis)
    out = analysis.path / paths.REPORT_DIR
    charts = write_charts(analysis, out)
    html = render_report(analysis, charts)
    return atomic.write_text(out / "index.html", html)


def build_report(run_dir: Path) -> Path:
    """Analyse a run folder once and write its tables and report; returns index.html's path."""
    return write_report(analyze(Path(run_dir)))
