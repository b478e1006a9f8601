"""What each scenario answers, in one sentence computed from the run's frames, and its figures as a table:
the helpers every kind shares, then I/O-bound, the mix, payload, open model and worker scaling (the shaped
runs, ramp, spike and soak, are in analysis.scenario_text_shapes).

Sentences give ranges over stacks ("81–96% of the ideal"), never an order the noise could flip, and say
"one run" when each figure came from a single repeat. Each function returns None when the run has no
cells of its kind, which is how the report knows a kind is absent.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from analysis.labels import LABELS
from analysis.scenario_cells import (
    GROUP,
    ScenarioFrames,
    by_group,
    interface_name,
    io_failed,
    io_rows,
    mix_endpoints,
    numbers,
    open_rows,
    payload_rows,
    runs_text,
    span,
)


@dataclass(frozen=True)
class Table:
    """A small table for the page: its headings and its rows of formatted text."""

    headers: list[str]
    rows: list[list[str]]

    @property
    def numeric(self) -> list[bool]:
        """Per column: every filled cell is a number (right-aligned on the page)."""
        return [all(_is_number(r[i]) for r in self.rows if i < len(r) and r[i] not in ("", "–"))
                and any(i < len(r) and r[i] not in ("", "–") for r in self.rows) for i in range(len(self.headers))]


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").replace("%", "").replace("–", "-"))
    except ValueError:
        return False
    return True


def number_text(value: object) -> str:
    """A figure as a reader reads it: 5,120 / 81.3 / 2.45; '–' when missing."""
    found = numbers([value])
    if not found:
        return "–"
    v = found[0]
    if v == int(v) or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def pct_text(value: float) -> str:
    """A percentage with decimals only where a small one needs them: 0.17, 1.6, 96."""
    return format(value, ".2f" if abs(value) < 1 else ".1f" if abs(value) < 10 else ".0f")


def pct_span(values: Iterable[object]) -> str:
    """'0.17–96%': a range of percentages over stacks, each end as precise as it needs; '–' when none."""
    found = numbers(values)
    if not found:
        return "–"
    lo, hi = pct_text(min(found)), pct_text(max(found))
    return (lo if lo == hi else f"{lo}–{hi}") + "%"


def nums(frame: pd.DataFrame, name: str) -> pd.Series:
    """A numeric column, all NaN (aligned with the frame) when the frame lacks it."""
    if name not in frame.columns:
        return pd.Series(float("nan"), index=frame.index, dtype=float)
    return pd.to_numeric(frame[name], errors="coerce")


# --- I/O-bound -------------------------------------------------------------------------------------------

def io_sentence(frames: ScenarioFrames) -> str | None:
    rows = io_rows(frames.aggregate)
    if rows.empty:
        return None
    parts = []
    for ms in sorted(rows["ms"].unique()):
        sub = rows[rows["ms"] == ms]
        top = sub[sub["concurrency"] == sub["concurrency"].max()]
        ideal = float(pd.to_numeric(top["ideal_rps"]).median())
        # per interface, then per server: the worker model decides this, and one server (Granian's WSGI thread
        # pool) keeps many blocking requests waiting at once where the others keep one per worker
        reached = [f"{interface_name(i)} stacks " + ", ".join(
                       f"on {server} {pct_span(nums(sg, 'rps') / ideal * 100)}"
                       for server, sg in g.groupby("server", sort=True))
                   for i, g in top.groupby("interface", sort=True)]
        reached[0] = reached[0].replace(" stacks ", " stacks reached ", 1) + " of the ideal"
        users = int(top["concurrency"].iloc[0])
        failed = io_failed(frames.cells, float(ms), users)
        if failed:
            reached.append(f"{len(failed)} stack(s) finished no cell there ({', '.join(failed)}: see what is "
                           "missing at the top)")
        parts.append(f"at {users} users and {ms:g} ms upstream (ideal {ideal:,.0f} req/s), " + "; ".join(reached))
    text = "; ".join(parts)
    return f"{text[0].upper()}{text[1:]} ({runs_text(rows['n'])})."


def io_table(frames: ScenarioFrames) -> Table:
    rows = io_rows(frames.aggregate).sort_values(["ms", "concurrency", "stack"])
    return Table(["stack", "interface", "upstream ms", LABELS["concurrency"], LABELS["ideal_rps"], LABELS["rps"],
                  LABELS["ideal_pct"]],
                 [[str(r["stack"]), str(r["interface"]), f"{r['ms']:g}", str(int(r["concurrency"])),
                   number_text(r["ideal_rps"]), number_text(r["rps"]),
                   pct_span([float(r["rps"]) / float(r["ideal_rps"]) * 100])] for r in rows.to_dict("records")])


# --- the mix -----------------------------------------------------------------------------------------------

def _endpoint_medians(frames: ScenarioFrames) -> pd.DataFrame:
    e = mix_endpoints(frames.endpoints, frames.figures)
    cols = ["requests", "error_pct", "rps", "share_pct", "p50_ms", "p99_ms"]
    e = e.assign(**{c: pd.to_numeric(e[c], errors="coerce") for c in cols})
    return e.groupby(["scenario", "concurrency", "stack", "name"], sort=True)[cols].median().reset_index()


def mix_sentence(frames: ScenarioFrames) -> str | None:
    if mix_endpoints(frames.endpoints, frames.figures).empty:
        return None
    med = _endpoint_medians(frames)
    parts = []
    for (scenario, conc), g in by_group(med):
        per = ", ".join(f"{name} {span(h['p99_ms'], ',.1f')} ms" for name, h in g.groupby("name", sort=True))
        agg = frames.aggregate.merge(g[["scenario", "concurrency", "stack"]].drop_duplicates(),
                                     on=["scenario", "concurrency", "stack"])
        overall = (f"; all requests together {span(agg['p99_ms'], ',.1f')} ms at {span(agg['rps'])} req/s"
                   if not agg.empty else "")
        parts.append(f"in {scenario} at {int(conc)} users, p99 per endpoint across {g['stack'].nunique()} "
                     f"stack(s): {per}{overall}")
    repeats = mix_endpoints(frames.endpoints, frames.figures).groupby(["stack", *GROUP])["repeat"].nunique()
    text = "; ".join(parts)
    return f"{text[0].upper()}{text[1:]} ({runs_text(repeats)})."


def mix_table(frames: ScenarioFrames) -> Table:
    med = _endpoint_medians(frames)
    return Table(["stack", "scenario", LABELS["concurrency"], "name", LABELS["share_pct"], LABELS["rps"],
                  LABELS["p50_ms"],
                  LABELS["p99_ms"], LABELS["error_pct"]],
                 [[str(r["stack"]), str(r["scenario"]), str(int(r["concurrency"])), str(r["name"]),
                   number_text(r["share_pct"]), number_text(r["rps"]), number_text(r["p50_ms"]),
                   number_text(r["p99_ms"]), number_text(r["error_pct"])] for r in med.to_dict("records")])


# --- payload, open model, worker scaling -------------------------------------------------------------------

def payload_sentence(frames: ScenarioFrames) -> str | None:
    rows = payload_rows(frames.aggregate)
    if rows.empty:
        return None
    sizes = sorted(rows["kb"].unique())
    small, large = rows[rows["kb"] == sizes[0]], rows[rows["kb"] == sizes[-1]]
    return (f"At {int(rows['concurrency'].max())} users, {sizes[0]:g} KB responses moved "
            f"{span(small['mb_per_s'], ',.1f')} MB/s at {span(small['rps'])} req/s across stacks, {sizes[-1]:g} KB "
            f"ones {span(large['mb_per_s'], ',.1f')} MB/s at {span(large['rps'])} req/s ({runs_text(rows['n'])}).")


def payload_table(frames: ScenarioFrames) -> Table:
    rows = payload_rows(frames.aggregate).sort_values(["stack", "kb"])
    return Table(["stack", LABELS["concurrency"], "KB", LABELS["mb_per_s"], LABELS["rps"], LABELS["p99_ms"]],
                 [[str(r["stack"]), str(int(r["concurrency"])), f"{r['kb']:g}", number_text(r["mb_per_s"]),
                   number_text(r["rps"]), number_text(r["p99_ms"])] for r in rows.to_dict("records")])


def open_sentence(frames: ScenarioFrames) -> str | None:
    rows = open_rows(frames.aggregate)
    if rows.empty:
        return None
    ratio = nums(rows, "co_p99_ms") / nums(rows, "p99_ms")
    return (f"Timed from each request's scheduled start (corrected for coordinated omission), p99 was "
            f"{span(rows['co_p99_ms'], ',.1f')} ms against {span(rows['p99_ms'], ',.1f')} ms timed from when it "
            f"went out: {span(ratio, ',.1f')}x across {rows['stack'].nunique()} stack(s) ({runs_text(rows['n'])}).")


def open_table(frames: ScenarioFrames) -> Table:
    rows = open_rows(frames.aggregate).sort_values(["scenario", "concurrency", "stack"])
    pairs = ["p50_ms", "co_p50_ms", "p90_ms", "co_p90_ms", "p99_ms", "co_p99_ms"]
    return Table(["stack", "scenario", LABELS["concurrency_open"], *[LABELS[p] for p in pairs]],
                 [[str(r["stack"]), str(r["scenario"]), str(int(r["concurrency"])),
                   *[number_text(r[p]) for p in pairs]] for r in rows.to_dict("records")])


def scaling_sentence(frames: ScenarioFrames) -> str | None:
    s = frames.scaling
    if s.empty:
        return None
    more = s[pd.to_numeric(s["workers"], errors="coerce") > 1]
    if more.empty:
        return None
    cpus = span(more["server_cpus"], ",.0f")
    counts = sorted({int(w) for w in numbers(more["workers"])})
    parts = [f"at {w} workers they reached {pct_span(nums(more[nums(more, 'workers') == w], 'efficiency') * 100)} "
             f"of {w} x their one-worker req/s" for w in counts]
    return (f"On {cpus} server core(s), across {more['base'].nunique()} stack(s) measured at several worker counts, "
            + "; ".join(parts) + " (scaling efficiency).")


def scaling_table(frames: ScenarioFrames) -> Table:
    s = frames.scaling.sort_values(["scenario", "concurrency", "base", "workers"])
    return Table(["stack", "scenario", LABELS["concurrency"], LABELS["workers"], LABELS["rps"], "req/s at 1 worker",
                  LABELS["efficiency"], LABELS["cpu_us_per_req"], "server cores"],
                 [[str(r["stack"]), str(r["scenario"]), str(int(r["concurrency"])), str(int(r["workers"])),
                   number_text(r["rps"]), number_text(r["rps_one"]), pct_span([float(r["efficiency"]) * 100]),
                   number_text(r["cpu_us_per_req"]), str(r["server_cpus"])] for r in s.to_dict("records")])
