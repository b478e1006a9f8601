"""A Comparison formatted three ways, computed once (pyperf's CompareResult apart from its tables):
a rich table for the terminal, Markdown for a pull-request comment, JSON for machines.

Each starts with the verdict. The terminal and JSON show every comparison;
Markdown keeps a comment short: rows that did not change collapse into a
count unless `verbose`.
"""
from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from analysis.compare import IMPROVEMENT, INCONCLUSIVE, NO_CHANGE, REGRESSION, Comparison, Evidence, Row
from analysis.compare_sample import Key, Sample
from analysis.compare_stats import smallest_p
from runformat.baseline import COMPARE_VERSION

HEADERS = ("verdict", "stack", "cell", "metric", "base", "current", "change (95% interval)", "p", "why")
STYLES = {REGRESSION: "bold red", IMPROVEMENT: "green", INCONCLUSIVE: "yellow", NO_CHANGE: "dim"}
DIGITS = {"cpu_us_per_req": 1, "error_pct": 2, "rps": 0, "p99_ms": 2}


def _number(value: float, metric: str) -> str:
    return "-" if math.isnan(value) else f"{value:,.{DIGITS.get(metric, 2)}f}"


def _side(e: Evidence, which: str) -> str:
    side = e.base if which == "base" else e.current
    if side.nothing or not side.values:
        return "failed" if side.nothing else "-"
    failed = f", {len(side.failed)} failed" if side.failed else ""
    median = e.base_median if which == "base" else e.current_median
    return f"{_number(median, e.metric.name)} (n={len(side.values)}{failed})"


def _change(e: Evidence) -> str:
    if math.isnan(e.change):
        return "-"

    def shown(v: float) -> str:  # round first: no "-0.00"
        return f"{round(v, 2) + 0.0:+.2f}" if e.metric.in_points else f"{round(v, 3) + 0.0:+.1%}"

    unit = " pp" if e.metric.in_points else ""
    interval = "" if math.isnan(e.change_lo) else f" ({shown(e.change_lo)} to {shown(e.change_hi)})"
    return shown(e.change) + unit + interval.replace("%", "")


def _p(e: Evidence) -> str:
    p = e.p_worse if e.worse_by > 0 else e.p_better
    return "-" if math.isnan(p) else f"{p:.3f}"


def verdict_text(row: Row) -> str:
    return f"{row.verdict} (not gating)" if row.verdict == REGRESSION and not row.gating else row.verdict


def cells(row: Row) -> list[str]:
    """One row's texts, in HEADERS order."""
    stack, scenario, _, concurrency = row.key
    e = row.evidence
    return [verdict_text(row), stack, f"{scenario} c{concurrency}", e.metric.label, _side(e, "base"),
            _side(e, "current"), _change(e), _p(e), row.reason]


def who(sample: Sample) -> str:
    sha = str(sample.git.get("sha") or "")[:10]
    return f"{sample.label} ({sha})" if sha else sample.label


def _key(key: Key) -> str:
    stack, scenario, endpoint, concurrency = key
    return f"{stack} {scenario} c{concurrency}"


def notes(c: Comparison) -> list[str]:
    """What a reader needs under the table: host differences gated over, cells only one side has, changes."""
    lines = []
    if c.incomparable:
        lines.append("GATED ACROSS HOSTS (--allow-different-host): " + "; ".join(c.incomparable))
    for name, keys in (("base", c.only_in_base), ("current", c.only_in_current)):
        if keys:
            lines.append(f"only in {name}, not compared: " + ", ".join(_key(k) for k in keys))
    return lines


def terminal(c: Comparison) -> Table:
    """The rich table of every comparison, regressions first."""
    table = Table()
    for header in HEADERS:
        table.add_column(header, justify="right" if header == "p" else "left", overflow="fold")
    for row in c.rows:
        texts = cells(row)
        style = STYLES[row.verdict] if row.fails_gate or row.verdict != REGRESSION else "red"
        table.add_row(f"[{style}]{texts[0]}[/]", *texts[1:])
    return table


def what_changed(c: Comparison) -> list[str]:
    """'heading: item' lines; the host differences gated over come first."""
    return notes(c) + [f"{heading}: {item}" for heading, item in c.changes.lines()]


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(c: Comparison, verbose: bool = False) -> str:
    """Verdict first, then the table (unchanged rows collapsed unless verbose), then what changed."""
    icon = ":x:" if c.regressions else ":white_check_mark:"
    out = [f"### {icon} stackmark compare: {c.headline}", "",
           f"base {_md(who(c.base))} · current {_md(who(c.current))}", ""]
    shown = [r for r in c.rows if verbose or r.verdict != NO_CHANGE]
    if shown:
        out += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        out += ["| " + " | ".join(_md(t) for t in cells(r)) + " |" for r in shown]
        out.append("")
    hidden = len(c.rows) - len(shown)
    if hidden:
        out += [f"{hidden} comparisons with no change (`--verbose` lists them).", ""]
    changed = what_changed(c)
    if changed:
        out += ["**What changed**", ""] + [f"- {_md(line)}" for line in changed] + [""]
    out.append(f"<sub>{_md(c.thresholds.describe())}</sub>")
    return "\n".join(out) + "\n"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _json_side(e: Evidence, which: str) -> dict[str, Any]:
    side = e.base if which == "base" else e.current
    return {"values": list(side.values), "n": len(side.values),
            "median": _finite(e.base_median if which == "base" else e.current_median),
            "failed": [{"repeat": r, "reason": why} for r, why in side.failed],
            "flags": list(side.flags), "measured_nothing": side.nothing}


def _json_row(row: Row) -> dict[str, Any]:
    stack, scenario, endpoint, concurrency = row.key
    e = row.evidence
    return {"stack": stack, "scenario": scenario, "endpoint": endpoint, "concurrency": concurrency,
            "metric": row.metric, "verdict": row.verdict, "reason": row.reason, "gating": row.gating,
            "fails_gate": row.fails_gate, "lower_is_better": e.metric.lower_is_better,
            "change_unit": "points" if e.metric.in_points else "ratio", "threshold": e.threshold,
            "change": _finite(e.change), "change_lo": _finite(e.change_lo), "change_hi": _finite(e.change_hi),
            "p_worse": _finite(e.p_worse), "p_better": _finite(e.p_better),
            "smallest_p": smallest_p(len(e.base.values), len(e.current.values)),
            "base": _json_side(e, "base"), "current": _json_side(e, "current")}


def _json_sample(s: Sample) -> dict[str, Any]:
    return {"label": s.label, "run_id": s.run_id, "git": dict(s.git), "host": dict(s.host),
            "settings": dict(s.settings), "packages": dict(s.packages)}


def to_json(c: Comparison) -> dict[str, Any]:
    """Everything, machine-readable: compare_version (runformat.baseline's history), the verdict, every row."""
    t = c.thresholds
    return {
        "compare_version": COMPARE_VERSION,
        "verdict": REGRESSION if c.regressions else "no regression", "headline": c.headline,
        "exit_code": c.exit_code, "regressions": len(c.regressions),
        "counts": {v: c.count(v) for v in (REGRESSION, IMPROVEMENT, INCONCLUSIVE, NO_CHANGE)},
        "base": _json_sample(c.base), "current": _json_sample(c.current),
        "thresholds": {"source": t.source, "alpha": t.alpha, "default": t.default, "metrics": dict(t.metrics),
                       "stacks": {s: dict(m) for s, m in t.stacks.items()}, "gate": list(t.gate),
                       "flags": list(t.flags)},
        "different_host_allowed": list(c.incomparable),
        "changes": {heading: [item for h, item in c.changes.lines() if h == heading]
                    for heading in ("versions", "command lines", "git", "settings", "host")},
        "only_in_base": [list(k) for k in c.only_in_base], "only_in_current": [list(k) for k in c.only_in_current],
        "rows": [_json_row(r) for r in c.rows],
    }
