"""The report's answers: per scenario and concurrency, which stacks came out best, what separates them,
and the caveat that weakens each claim, in a sentence each.

A reader who stops after the first screen must not take away a ranking the noise could flip, so every
claim is built from the ranking's own verdicts (tie_with_next, the intervals, the flags: analysis.ranking
and analysis.flags own those rules) and carries its caveat beside it. Generator-bound cells say what they
do show: a floor for throughput and, from CPU time per request, an estimated ceiling.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.analyze import Analysis
from analysis.columns import Record
from analysis.flags import GENERATOR_BOUND_PCT, TIE_FRACTION, missing
from analysis.labels import LABELS, TIE_MARK, relative_text
from analysis.ranking import separable

# flag -> the caveat in plain words, said next to the claim it weakens (analysis.flags.FLAG_RULES has the rule)
CAVEATS: dict[str, str] = {
    "stalled": "the server stopped answering for part of the window, so latency only counts what completed",
    "generator-bound": f"Locust used {GENERATOR_BOUND_PCT:g}% or more of the CPU it was given: the req/s shown is "
                       "Locust's ceiling, a floor for the server, not the server's capacity",
    "unsaturated": "neither the server nor Locust was saturated, so something else (other processes, waits in "
                   "the app, the database) set the rate: the req/s shown is not capacity",
    "starved": "some users got no answer in the window, without an error: the numbers describe only the users "
               "served",
    "littles-off": "latency and throughput disagree (Little's law), so requests waited somewhere the latency "
                   "does not show",
    "errors": "1% or more of the requests failed",
    "noisy": "the numbers moved too much between repeats, or the machine was busy, to rank on",
    "steal": "the hypervisor took 10% or more of the machine's CPU during the run",
}
ONE_REPEAT = (f"one repeat, so no interval: only a gap of more than {TIE_FRACTION:.0%} counts, and a smaller "
              "one is a tie (too few repeats; run with --repeat 3)")
OPEN_MODEL = "open model: requests arrive at a fixed rate, so req/s is the offered rate, not capacity"
# How far 1e6 / (CPU µs per request) can be from a server's real ceiling, measured on this project's VM;
# printed once under the answers, not in each (a team lead reads the claim, then the fine print once)
ESTIMATE_ERROR = ("the ceilings estimated from CPU time per request are estimates: measured here against wrk "
                  "they were within about 15% for Uvicorn, FastAPI and uWSGI, but Granian's bare app spent "
                  "28 µs per request under light load against 18 µs at saturation, so where a server gets "
                  "cheaper per request under load an estimate can be a third too low")


@dataclass(frozen=True)
class Ceiling:
    """What a generator-bound cell's CPU time per request implies: about 1e6 / µs requests a second a core."""

    stack: str
    cpu_us_per_req: float
    per_core: float  # req/s a server core could serve at that cost
    cores: int | None  # the server's pinned CPUs (None: not pinned, so per core only)

    @property
    def total(self) -> float | None:
        return self.per_core * self.cores if self.cores else None

    def text(self) -> str:
        total = self.total
        where = (f"about {self.per_core:,.0f} req/s per server core"
                 + (f", {total:,.0f} on its {self.cores} CPUs" if total is not None and self.cores != 1 else ""))
        return f"{self.cpu_us_per_req:,.0f} µs of server CPU per request implies {where} (an estimate)"


@dataclass(frozen=True)
class Answer:
    """One scenario and concurrency: the claim, and the caveats that apply to it."""

    scenario: str
    concurrency: int
    heading: str  # "json, 32 users"
    claim: str
    caveats: list[str] = field(default_factory=list)
    leaders: list[str] = field(default_factory=list)  # the stacks the claim names as best (a tie: several)
    ceilings: list[Ceiling] = field(default_factory=list)
    estimate: str = ""  # what the generator-bound cells do show: the estimated ceilings, labelled as such


def _number(value: Any) -> float | None:
    return None if value is None or missing(value) else float(value)


def _names(stacks: Sequence[str]) -> str:
    if len(stacks) <= 2:
        return " and ".join(stacks)
    return ", ".join(stacks[:-1]) + " and " + stacks[-1]


def _flags(row: Record) -> list[str]:
    return [f for f in str(row.get("flags") or "").split(",") if f]


def leading_tie(rows: Sequence[Record]) -> list[Record]:
    """The first row and every row below it joined by tie_with_next: stacks the noise cannot order."""
    out = list(rows[:1])
    for row in rows[1:]:
        if not bool(out[-1].get("tie_with_next")):
            break
        out.append(row)
    return out


def cpu_view(row: Record) -> dict[str, Any]:
    """A row's CPU per request in the shape ranking.separable reads (rps and its interval), so CPU is told
    apart by the same rule as throughput: intervals with 2+ repeats, else more than TIE_FRACTION apart."""
    return {"rps": row.get("cpu_us_per_req"), "rps_lo": row.get("cpu_us_per_req_lo"),
            "rps_hi": row.get("cpu_us_per_req_hi"), "n": row.get("n", 0)}


def ceiling(row: Record, server_cpus: Sequence[int]) -> Ceiling | None:
    """The estimated ceiling a generator-bound row's CPU per request implies (None without a CPU figure)."""
    cpu = _number(row.get("cpu_us_per_req"))
    if cpu is None or cpu <= 0 or math.isinf(cpu):
        return None
    return Ceiling(str(row["stack"]), cpu, 1e6 / cpu, len(server_cpus) or None)


def _cheapest(rows: Sequence[Record]) -> tuple[list[Record], Record | None]:
    """Rows ordered by CPU per request: the cheapest and those the noise cannot separate from it, and the
    first one it can (or None)."""
    costed = sorted((r for r in rows if _number(r.get("cpu_us_per_req")) is not None),
                    key=lambda r: float(r["cpu_us_per_req"]))
    if not costed:
        return [], None
    best = costed[:1]
    for row in costed[1:]:
        if separable(cpu_view(best[0]), cpu_view(row)):
            return best, row
        best.append(row)
    return best, None


def _cpu(row: Record) -> str:
    return f"{float(row['cpu_us_per_req']):,.0f} µs"


def plural(words: str) -> str:
    """A caveat said of several stacks: 'the server' -> 'the servers'."""
    return re.sub(r"the server(?![s'])", "the servers", words.replace("the server's", "the servers'"))


def _caveats(rows: Sequence[Record], skip: set[str]) -> list[str]:
    """One caveat per flag raised on `rows`, naming the stacks it applies to; one for a single repeat."""
    out = []
    for flag, words in CAVEATS.items():
        hit = [str(r["stack"]) for r in rows if flag in _flags(r)]
        if hit and flag not in skip:
            out.append(f"{_names(hit)}: {words if len(hit) == 1 else plural(words)}")
    if any(int(r.get("n") or 0) < 2 for r in rows):
        out.append(ONE_REPEAT)
    return out


def _throughput_claim(rows: Sequence[Record]) -> tuple[str, list[Record]]:
    """Best by req/s (not generator-bound): the leader, its ties, and the next stack the noise separates."""
    top = leading_tie(rows)
    lead = top[0]
    claim = f"{lead['stack']} served the most, {float(lead['rps']):,.0f} req/s"
    if len(top) > 1:
        others = [str(r["stack"]) for r in top[1:]]
        claim += (f"; {_names(others)} {'is' if len(others) == 1 else 'are'} within the noise of it "
                  f"({TIE_MARK}), so their order is not a result")
    rest = rows[len(top):]
    if rest:
        nxt = rest[0]
        claim += (f". The next stack the noise can separate, {nxt['stack']}, reached "
                  f"{relative_text(float(nxt['rel_rps']))} of it")
        if _number(lead.get("cpu_us_per_req")) is not None and _number(nxt.get("cpu_us_per_req")) is not None:
            claim += f"; server CPU per request {_cpu(lead)} against {_cpu(nxt)}"
    elif len(rows) == 1:
        claim += " (the only stack measured here)"
    return claim + ".", top


def _generator_claim(rows: Sequence[Record], bound: list[Record]) -> tuple[str, list[Record]]:
    """Several leaders hit Locust's ceiling: their req/s is a floor and their order by it means nothing;
    CPU per request still orders them, and the first stack under the ceiling is still below them all."""
    names = [str(r["stack"]) for r in bound]
    rates = [float(r["rps"]) for r in bound]
    claim = (f"{_names(names)} reached Locust's ceiling ({min(rates):,.0f}–{max(rates):,.0f} req/s): that is a "
             "floor for those servers, not their capacity, and their order by req/s means nothing")
    cheapest, nxt = _cheapest(bound)
    leaders = cheapest or bound[:1]
    if cheapest:
        claim += f". By server CPU per request, the cheapest was {cheapest[0]['stack']} at {_cpu(cheapest[0])}"
        if len(cheapest) > 1:
            claim += (f", with {_names([str(r['stack']) for r in cheapest[1:]])} within the noise of it "
                      f"({TIE_MARK})")
        if nxt is not None:
            claim += f"; the next it can be told from, {nxt['stack']}, spent {_cpu(nxt)}"
    below = [r for r in rows if "generator-bound" not in _flags(r)]
    if below:
        claim += (f". The fastest stack that did not reach it, {below[0]['stack']}, served "
                  f"{float(below[0]['rps']):,.0f} req/s ({relative_text(float(below[0]['rel_rps']))} of the top rate)")
    return claim + ".", leaders


def _ceiling_text(ceilings: Sequence[Ceiling]) -> str:
    """The leader's estimated ceiling in full, the others' figures after it."""
    first, rest = ceilings[0], ceilings[1:]
    text = f"What the generator-bound cells do show: {first.stack}'s {first.text()}"
    if rest:
        text += "; the same estimate for " + ", ".join(f"{c.stack} about {c.per_core:,.0f}" for c in rest)
    return text + "."


def answer(rows: Sequence[Record], heading: str, server_cpus: Sequence[int], open_model: bool) -> Answer:
    """The answer for one ranking group (rows best first)."""
    rows = [r for r in rows if _number(r.get("rps")) is not None]
    first = rows[0]
    bound = [r for r in rows if "generator-bound" in _flags(r)]
    if len(bound) > 1 and "generator-bound" in _flags(first):
        claim, leaders = _generator_claim(rows, bound)
    else:
        claim, leaders = _throughput_claim(rows)
    ceilings = [c for r in bound if (c := ceiling(r, server_cpus))]
    ceilings.sort(key=lambda c: c.cpu_us_per_req)
    caveats = ([OPEN_MODEL] if open_model else []) + _caveats(leaders, set())
    return Answer(str(first["scenario"]), int(first["concurrency"]), heading, claim, caveats,
                  [str(r["stack"]) for r in leaders], ceilings, _ceiling_text(ceilings) if ceilings else "")


def heading(scenario: str, concurrency: int, open_model: bool) -> str:
    """'json, 32 users' (open model: '≤64 in flight')."""
    conc = f"≤{concurrency} in flight" if open_model else f"{concurrency} {LABELS['concurrency']}"
    return f"{scenario}, {conc}"


def answers(analysis: Analysis) -> list[Answer]:
    """One answer per scenario and concurrency of the ranking, in the ranking's order."""
    ranking = analysis.ranking
    if ranking.empty:
        return []
    server_cpus = list(analysis.meta["settings"].get("server_cpus") or [])
    out = []
    for (scenario, conc), group in ranking.groupby(["scenario", "concurrency"], sort=False):
        records = group.sort_values("rank").to_dict("records")
        if not any(not missing(r.get("rps")) for r in records):
            continue
        is_open = str(scenario) in analysis.open_scenarios
        out.append(answer(records, heading(str(scenario), int(str(conc)), is_open), server_cpus, is_open))
    return out

