"""Write a run's self-contained HTML report (report/index.html + PNGs) and its summary.csv.

The HTML embeds its charts as data URIs and inline CSS, so the one file can
be mailed or archived and still opens offline, years later.
"""

from __future__ import annotations

import base64
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from analysis.charts import describe_settings, sweep_chart, write_charts
from analysis.load import Run, load_run
from analysis.tidy import (BOOTSTRAP_RESAMPLES, ERRORS_PCT, FLAG_RULES, GENERATOR_BOUND_PCT, INTERVAL, LITTLES_HIGH,
                           LITTLES_LOW, NOISY_INTERVAL_FRACTION, SATURATION_MAX_ERROR_PCT, SLO_P99_MS, STEAL_PCT,
                           TIE_FRACTION, aggregate, ranking, saturation, save_aggregate, save_saturation,
                           save_summary, steadiness, tidy_from_run, write_atomic)

TEMPLATES = Path(__file__).resolve().parent / "templates"
CAVEAT = ("Single-run differences of less than roughly 10–20% between stacks are within the run-to-run "
          "variation of a shared machine like this one; read them as ties unless repeats agree. Rows marked "
          "“≈ next” cannot be told apart from the stack below them (overlapping 95% intervals, or, "
          f"with fewer than 2 repeats, less than {TIE_FRACTION:.0%} apart).")
TIE_RULE = (f"this stack and the next one down are not separable: with 2+ repeats each, their {INTERVAL:.0%} "
            f"req/s intervals overlap; otherwise their medians are less than {TIE_FRACTION:.0%} apart. "
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


def measurement_text(meta: dict[str, Any]) -> str:
    """The 'how it was measured' paragraph, built from run.json settings so it cannot drift from them."""
    s = meta.get("settings") or {}
    workers = s.get("workers")
    scenarios = ", ".join(s.get("scenarios") or []) or "(none)"
    conc = ", ".join(str(c) for c in s.get("concurrency") or []) or "(none)"
    repeat = s.get("repeat") or 1
    return (
        f"Each stack's server ran on {_cpus(s.get('server_cpus'))}"
        + (f" with {_plural(workers, 'worker')}" if workers else "")
        + f"; the Locust load generator ran on {_cpus(s.get('loadgen_cpus'))}. "
        f"For each scenario ({scenarios}) and concurrency ({conc} simultaneous users), "
        f"Locust ran a {s.get('primer_s', 0):g} s primer and a {s.get('warmup_s', 0):g} s warm-up, which are not counted, "
        f"then a {s.get('duration_s', 0):g} s measured window. "
        f"Each cell was to be measured {_plural(repeat, 'time')}; tables and charts show the median over the repeats that finished ok. "
        "Throughput and latency count the requests that completed inside the window "
        "(10 µs histogram buckets; percentiles are nearest-rank and report the bucket's lower edge). "
        "Server CPU and memory come from samples of the server's whole process tree about every 0.5 s; "
        "CPU counters are interpolated to the window's edges, memory is the peak sample inside it. "
        "Generator CPU is Locust's CPU time as a share of its CPUs; steal is the share of all the machine's "
        "CPU time taken by the hypervisor. "
        "Locust also counts, per simulated user, the requests it completed inside the window, so users a server "
        "left waiting without an error show up as starved. "
        f"With 2 or more repeats, req/s and CPU per request carry a {INTERVAL:.0%} percentile-bootstrap interval "
        f"of the median ({BOOTSTRAP_RESAMPLES} resamples, fixed seed) and a coefficient of variation (sample "
        "standard deviation / mean)."
    )


def repeats_text(df: pd.DataFrame) -> str:
    """'3 repeats finished ok per stack and cell', or the range: what actually finished, not what was asked."""
    agg = aggregate(df)
    if agg.empty:
        return "no cell finished ok"
    counts = sorted({int(n) for n in agg["n"]})
    if len(counts) == 1:
        return f"{_plural(counts[0], 'repeat')} finished ok per stack and cell"
    return f"{counts[0]}–{counts[-1]} repeats finished ok per stack and cell (n in the table)"


def steadiness_text(df: pd.DataFrame) -> str:
    """How steady CPU per request was against throughput over repeats (median CV across stacks)."""
    st = steadiness(df)
    if st["groups"] == 0 or math.isnan(st["rps_cv"]) or math.isnan(st["cpu_cv"]):
        return ("Every stack has a single ok repeat, so run-to-run variation was not measured and no interval "
                "could be computed; run with --repeat 3 or more before reading small differences.")
    rps_cv, cpu_cv = st["rps_cv"], st["cpu_cv"]
    if cpu_cv > 0 and rps_cv > cpu_cv:
        verdict = f"CPU per request was {rps_cv / cpu_cv:.1f}× steadier than throughput"
    elif rps_cv > 0 and cpu_cv > rps_cv:
        verdict = f"throughput was {cpu_cv / rps_cv:.1f}× steadier than CPU per request"
    else:
        verdict = "both were equally steady"
    return (f"Across the {st['groups']} stack/cell combinations with 2 or more repeats, the median coefficient "
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


def _open_scenarios(df: pd.DataFrame) -> set[str]:
    if "offered_rps" not in df.columns:
        return set()
    return set(df.loc[pd.to_numeric(df["offered_rps"], errors="coerce").notna(), "scenario"])


def _ranking_rows(rank: pd.DataFrame, open_scenarios: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
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
            "server_rss_mb": _fmt(r["server_rss_mb"], ".1f"), "generator_cpu_pct": _fmt(r["generator_cpu_pct"], ".0f", "%"),
            "flags": [f for f in (r["flags"] or "").split(",") if f],
            "tie": bool(r["tie_with_next"]),
        })
    return rows


def _saturation_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for r in saturation(df).to_dict("records"):
        conc = r["concurrency"]
        rows.append({
            "stack": r["stack"], "scenario": r["scenario"], "levels": r["levels"], "max_tested": r["max_tested"],
            "concurrency": "–" if conc is None or conc is pd.NA or pd.isna(conc) else int(conc),
            "rps": _fmt(r["rps"], ",.0f"), "p99_ms": _fmt(r["p99_ms"], ".2f"),
            "error_pct": _fmt(r["error_pct"], ".2f", "%"),
            "flags": [f for f in (r["flags"] or "").split(",") if f], "note": r["note"] or "",
        })
    return rows


def _open_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Open-model cells (a fixed offered rate; concurrency = the cap on requests in flight), medians over repeats."""
    agg = aggregate(df)
    if agg.empty:
        return []
    agg = agg[pd.to_numeric(agg["offered_rps"], errors="coerce").notna()]
    return [{"stack": r["stack"], "scenario": r["scenario"], "max_inflight": r["concurrency"], "n": r["n"],
             "offered": _fmt(r["offered_rps"], ",.0f"), "rps": _fmt(r["rps"], ",.0f"),
             "p99_ms": _fmt(r["p99_ms"], ".2f"), "missed": _fmt(r["missed"], ",.0f"), "late": _fmt(r["late"], ",.0f"),
             "error_pct": _fmt(r["error_pct"], ".2f", "%")}
            for r in agg.sort_values(["scenario", "stack", "concurrency"], kind="stable").to_dict("records")]


def _stack_problems(run: Run, df: pd.DataFrame) -> list[dict[str, Any]]:
    """Stacks that were not (fully) measured, or measured with verify warnings, and why."""
    measured = set(df["stack"])
    listed = list(dict.fromkeys(list(run.meta.get("stacks") or []) + list(run.stacks)))
    problems = []
    for stack_id in listed:
        spec = run.stacks.get(stack_id)
        if spec is None:
            problems.append({"stack": stack_id, "what": "not started",
                             "reason": "no stack.json: the run ended before this stack started", "findings": []})
            continue
        start = spec.get("start") or {}
        verify = spec.get("verify") or {}
        findings = [f for f in verify.get("findings") or [] if isinstance(f, dict)]
        if start.get("status") == "failed":
            problems.append({"stack": stack_id, "what": "start failed",
                             "reason": start.get("reason") or "no reason recorded", "findings": []})
        elif verify.get("status") == "fail":
            problems.append({"stack": stack_id, "what": "verify failed (not measured)",
                             "reason": "responses did not match the scenario's expected output", "findings": findings})
        elif verify.get("status") == "warn":
            problems.append({"stack": stack_id, "what": "verify warnings (measured)",
                             "reason": "see findings", "findings": findings})
        elif stack_id not in measured:
            problems.append({"stack": stack_id, "what": "no finished cells",
                             "reason": "the run ended before a cell of this stack finished", "findings": []})
    return problems


def _failed_cells(df: pd.DataFrame) -> list[dict[str, Any]]:
    failed = df[df["status"] != "ok"]
    return [{"stack": r["stack"], "scenario": r["scenario"], "concurrency": r["concurrency"],
             "repeat": r["repeat"], "reason": r["reason"] or "no reason recorded"}
            for r in failed.to_dict("records")]


def _data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def render_report(run: Run, df: pd.DataFrame, charts: list[Path]) -> str:
    """The report's HTML text (no file writes): metadata, method, ranking, problems, charts."""
    meta = run.meta
    settings = meta.get("settings") or {}
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    context = {
        "run_id": meta.get("run_id") or run.path.name,
        "started": _when(meta.get("started_at")),
        "finished": _when(meta.get("finished_at")),
        "git": meta.get("git") or {},
        "host": meta.get("host") or {},
        "packages": sorted((meta.get("packages") or {}).items()),
        "settings": [
            ("scenarios", ", ".join(settings.get("scenarios") or [])),
            ("concurrency", ", ".join(str(c) for c in settings.get("concurrency") or [])),
            ("primer / warm-up / measured", f"{settings.get('primer_s', 0):g} s / {settings.get('warmup_s', 0):g} s / "
                                            f"{settings.get('duration_s', 0):g} s"),
            ("repeats", f"{settings.get('repeat', '')} requested; {repeats_text(df)}"),
            ("server workers", str(settings.get("workers", ""))),
            ("server CPUs", _cpus(settings.get("server_cpus"))),
            ("load generator CPUs", _cpus(settings.get("loadgen_cpus"))),
        ],
        "how": measurement_text(meta),
        "subtitle": describe_settings(settings, df),
        "ranking": _ranking_rows(ranking(df), _open_scenarios(df)),
        "thresholds": {"generator": GENERATOR_BOUND_PCT, "errors": ERRORS_PCT, "steal": STEAL_PCT,
                       "littles": (LITTLES_LOW, LITTLES_HIGH), "noisy": NOISY_INTERVAL_FRACTION},
        "flag_rules": list(FLAG_RULES.items()),
        "tie_rule": TIE_RULE,
        "steadiness": steadiness_text(df),
        "problems": _stack_problems(run, df),
        "failed_cells": _failed_cells(df),
        "charts": [{"title": CHART_TITLES.get(p.name, p.stem), "src": _data_uri(p)} for p in charts],
        "caveat": CAVEAT,
        "saturation": _saturation_rows(df),
        "slo": {"p99_ms": SLO_P99_MS, "error_pct": SATURATION_MAX_ERROR_PCT},
        "open_cells": _open_rows(df),
    }
    return env.get_template("report.html.j2").render(**context)


def write_report(run_dir: Path) -> Path:
    """(Re)build run_dir/summary.csv, aggregate.csv and report/ (index.html + 4 PNGs); returns index.html's path.

    After a concurrency sweep (a scenario measured at 2+ levels) also saturation.csv and report/sweep.png.
    """
    run = load_run(Path(run_dir))
    df = tidy_from_run(run)
    save_summary(df, run.path)
    save_aggregate(df, run.path)
    swept = save_saturation(df, run.path) is not None
    out = run.path / "report"
    out.mkdir(exist_ok=True)
    charts = write_charts(df, out, run.meta.get("settings") or {})
    if swept:
        charts.append(sweep_chart(df, out / "sweep.png", how=describe_settings(run.meta.get("settings") or {}, df)))
    index = out / "index.html"
    html = render_report(run, df, charts)
    write_atomic(index, lambda f: f.write(html))
    return index
