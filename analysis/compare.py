"""The regression gate: two samples (runs or baselines) in, one verdict per cell and metric out.

Per stack x scenario x concurrency x metric (CPU time per request, error
rate, throughput, p99), a change is a regression only when it is both
significant and large (asv's rule, made stricter): a one-sided Mann-Whitney
U test (analysis.compare_stats says why that test) at p <= alpha in the bad
direction, the 95% bootstrap interval of the change wholly on the bad side
of zero, AND a change of the medians beyond the metric's threshold (5% by
default; error_pct in percentage points, since 0% against 0% has no ratio).
The interval condition was added after `make bench-gate` found the rank
test alone called 1 of 10 A/A pairs a +11% regression of CPU per request
(p = 0.016 from two disturbed repeats; the interval, -4% to +22%, said no).
Significance alone flags 1% changes a user does not care about; size alone
(github-action-benchmark's ratio) cries wolf on a noisy runner until
someone raises the threshold past anything real. Improvements are the
mirror image. Whatever cannot be decided is "inconclusive" with its reason,
never a pass or a fail by accident: too few repeats to ever reach alpha,
a flagged cell (for throughput and p99 only: CPU per request and errors
measure the code and gate whatever the machine did), or a metric one side
did not measure. A cell that measured nothing in current, where base
measured it, is a regression on every metric: the gate never passes
what it could not see.

The verdict is the first rule of RULES that applies: a table, read top down.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from analysis.compare_meta import Changes, changes, incomparable
from analysis.compare_sample import CellSample, Key, Sample
from analysis.compare_stats import change, change_interval, median, one_sided_p, repeats_needed, smallest_p
from analysis.thresholds import METRICS, Metric, Thresholds

REGRESSION, IMPROVEMENT, NO_CHANGE, INCONCLUSIVE = "regression", "improvement", "no change", "inconclusive"
VERDICT_ORDER = (REGRESSION, INCONCLUSIVE, IMPROVEMENT, NO_CHANGE)  # how the output sorts


class CompareError(ValueError):
    """Two samples that cannot be compared (another machine, nothing in common): one line, exit 2."""


@dataclass(frozen=True)
class Side:
    """One side of one cell for one metric, as the rules see it."""

    values: tuple[float, ...]  # the ok repeats' values of the metric
    failed: tuple[tuple[int, str], ...]  # (repeat, reason) of each failed repeat
    flags: tuple[str, ...]
    nothing: str | None = None  # why this side measured nothing at all; None if it measured something

    @property
    def repeats(self) -> int:
        return len(self.values) + len(self.failed)


@dataclass(frozen=True)
class Evidence:
    """Everything a rule may look at for one cell and metric; the statistics are NaN where a side is empty."""

    stack: str
    metric: Metric
    base: Side
    current: Side
    threshold: float
    alpha: float
    blocking: tuple[str, ...]  # flags that make a metric which reads the machine inconclusive
    base_median: float
    current_median: float
    change: float  # current / base - 1, or current - base in points
    change_lo: float  # its 95% bootstrap interval
    change_hi: float
    p_worse: float  # one-sided Mann-Whitney p of current being worse than base
    p_better: float

    @property
    def worse_by(self) -> float:
        """The change in the bad direction: positive is worse, whichever way the metric points."""
        return self.change if self.metric.lower_is_better else -self.change

    def size(self, value: float) -> str:
        return f"{value:g} pp" if self.metric.in_points else f"{value:.0%}"


def evidence(stack: str, metric: Metric, base: Side, current: Side, thresholds: Thresholds) -> Evidence:
    b, c = base.values, current.values
    lo, hi = change_interval(b, c, metric.in_points)
    bigger, smaller = one_sided_p(c, b, greater=True), one_sided_p(c, b, greater=False)
    return Evidence(stack=stack, metric=metric, base=base, current=current,
                    threshold=thresholds.threshold(stack, metric.name), alpha=thresholds.alpha,
                    blocking=thresholds.flags, base_median=median(b), current_median=median(c),
                    change=change(median(b), median(c), metric.in_points) if b and c else math.nan,
                    change_lo=lo, change_hi=hi,
                    p_worse=bigger if metric.lower_is_better else smaller,
                    p_better=smaller if metric.lower_is_better else bigger)


# --- the rules: each returns the reason when it applies, None when it does not -------------------------

def failed_in_current(e: Evidence) -> str | None:
    return f"failed in current: {e.current.nothing}" if e.current.nothing and not e.base.nothing else None


def failed_in_both(e: Evidence) -> str | None:
    return f"measured nothing in base or in current: {e.current.nothing}" if e.current.nothing else None


def failed_in_base(e: Evidence) -> str | None:
    return f"not measured in base: {e.base.nothing}" if e.base.nothing else None


def not_measured(e: Evidence) -> str | None:
    missing = [name for name, side in (("base", e.base), ("current", e.current)) if not side.values]
    return f"not measured in {' and '.join(missing)}" if missing else None


def new_failed_repeats(e: Evidence) -> str | None:
    """A repeat that failed in current where none failed in base: the change broke something, sometimes."""
    if not (e.metric.counts_failed_repeats and e.current.failed and not e.base.failed):
        return None
    return (f"{len(e.current.failed)} of {e.current.repeats} repeats failed in current (none in base): "
            f"{e.current.failed[0][1]}")


def too_few_repeats(e: Evidence) -> str | None:
    if smallest_p(len(e.base.values), len(e.current.values)) <= e.alpha:
        return None
    return f"needs --repeat {repeats_needed(e.alpha)} ({len(e.base.values)} vs {len(e.current.values)} repeats)"


def flagged(e: Evidence) -> str | None:
    if not e.metric.reads_the_machine:
        return None
    parts = [f"{'/'.join(hit)} on {name}" for name, side in (("base", e.base), ("current", e.current))
             if (hit := [f for f in side.flags if f in e.blocking])]
    return "flagged " + "; ".join(parts) if parts else None


def no_ratio(e: Evidence) -> str | None:
    return "base median is 0: no ratio to judge" if math.isnan(e.change) else None


def _interval_worse(e: Evidence) -> tuple[float, float]:
    """The change's 95% interval turned so that positive is worse, whichever way the metric points."""
    return (e.change_lo, e.change_hi) if e.metric.lower_is_better else (-e.change_hi, -e.change_lo)


def worse(e: Evidence) -> str | None:
    if e.worse_by > e.threshold and e.p_worse <= e.alpha and _interval_worse(e)[0] > 0:
        return f"worse by more than {e.size(e.threshold)}"
    return None


def better(e: Evidence) -> str | None:
    if -e.worse_by > e.threshold and e.p_better <= e.alpha and _interval_worse(e)[1] < 0:
        return f"better by more than {e.size(e.threshold)}"
    return None


def unchanged(e: Evidence) -> str:
    if abs(e.worse_by) <= e.threshold:
        return f"within {e.size(e.threshold)}"
    if min(e.p_worse, e.p_better) > e.alpha:
        return f"beyond {e.size(e.threshold)} but not significant (p > {e.alpha:g})"
    return (f"beyond {e.size(e.threshold)} but not significant (its 95% interval, {e.change_lo:+.1%} to "
            f"{e.change_hi:+.1%}, includes no change)" if not e.metric.in_points else
            f"beyond {e.size(e.threshold)} but not significant (its 95% interval, {e.change_lo:+g} to "
            f"{e.change_hi:+g} pp, includes no change)")


RULES: tuple[tuple[str, Callable[[Evidence], str | None]], ...] = (
    (REGRESSION, failed_in_current),
    (INCONCLUSIVE, failed_in_both),
    (INCONCLUSIVE, failed_in_base),
    (INCONCLUSIVE, not_measured),
    (REGRESSION, new_failed_repeats),
    (INCONCLUSIVE, too_few_repeats),
    (INCONCLUSIVE, flagged),
    (INCONCLUSIVE, no_ratio),
    (REGRESSION, worse),
    (IMPROVEMENT, better),
    (NO_CHANGE, unchanged),
)


def judge(e: Evidence) -> tuple[str, str]:
    """(verdict, reason): the first rule that applies."""
    return next((verdict, reason) for verdict, rule in RULES if (reason := rule(e)) is not None)


@dataclass(frozen=True)
class Row:
    key: Key
    metric: str
    verdict: str
    reason: str
    gating: bool  # the metric is one of the gate's: a regression here fails the gate
    evidence: Evidence

    @property
    def fails_gate(self) -> bool:
        return self.verdict == REGRESSION and self.gating


def _side(cell: CellSample | None, metric: str, nothing: str | None) -> Side:
    if cell is None:
        return Side((), (), (), nothing)
    if not cell.measured:
        reasons = sorted({why for _, why in cell.failed})
        nothing = f"{reasons[0]} (all {len(cell.failed)} repeats)" if reasons else "measured nothing"
    return Side(cell.values.get(metric, ()), cell.failed, cell.flags, nothing)


def _unmeasured(sample: Sample, key: Key) -> str | None:
    """Why `sample` has no cell for `key` although it meant to measure it; None if it never meant to."""
    stack, scenario, _, concurrency = key
    if not sample.planned(stack, scenario, concurrency):
        return None
    return sample.stack_problems.get(stack, "no cell recorded (was the run interrupted?)")


Pair = tuple[Key, CellSample | None, str | None, CellSample | None, str | None]


def pair_cells(base: Sample, current: Sample) -> tuple[list[Pair], list[Key], list[Key]]:
    """Cells to compare (a side may be missing, with why), and those only one side ever meant to measure."""
    pairs: list[Pair] = []
    only: dict[str, list[Key]] = {"base": [], "current": []}
    for key in sorted(set(base.cells) | set(current.cells)):
        b, c = base.cells.get(key), current.cells.get(key)
        why_b = _unmeasured(base, key) if b is None else None
        why_c = _unmeasured(current, key) if c is None else None
        if (b is None and why_b is None) or (c is None and why_c is None):
            only["base" if c is None else "current"].append(key)
        else:
            pairs.append((key, b, why_b, c, why_c))
    return pairs, only["base"], only["current"]


@dataclass(frozen=True)
class Comparison:
    """Everything compare found, computed once; compare_render only formats it."""

    base: Sample
    current: Sample
    thresholds: Thresholds
    rows: tuple[Row, ...]  # sorted: regressions that fail the gate first
    changes: Changes
    incomparable: tuple[str, ...] = ()  # host differences gated over because --allow-different-host said so
    only_in_base: tuple[Key, ...] = ()
    only_in_current: tuple[Key, ...] = ()

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.fails_gate]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def count(self, verdict: str) -> int:
        return sum(1 for r in self.rows if r.verdict == verdict)

    @property
    def headline(self) -> str:
        """The verdict, first thing anyone reads."""
        if self.regressions:
            return f"REGRESSION in {len(self.regressions)} of {len(self.rows)} comparisons"
        counts = [(INCONCLUSIVE, self.count(INCONCLUSIVE)), (IMPROVEMENT, self.count(IMPROVEMENT)),
                  ("regression on a metric that does not gate", self.count(REGRESSION))]
        tail = "".join(f", {n} {what}" for what, n in counts if n)
        return f"no regression ({len(self.rows)} comparisons{tail})"


def _order(row: Row) -> tuple[int, bool, Key, int]:
    return VERDICT_ORDER.index(row.verdict), not row.fails_gate, row.key, list(METRICS).index(row.metric)


def compare(base: Sample, current: Sample, thresholds: Thresholds | None = None,
            allow_different_host: bool = False, python_is_change: bool = False) -> Comparison:
    """Every cell both sides measured (or meant to), judged per metric by RULES.

    CompareError when the two cannot be compared: another machine or pinning (unless allow_different_host),
    or no cell in common. `python_is_change`: another Python is the change under test (an A/B of two
    environments), listed with the versions rather than refused.
    """
    thresholds = thresholds or Thresholds()
    differences = incomparable(base, current, python_is_change)
    if differences and not allow_different_host:
        raise CompareError(f"not comparable: {'; '.join(differences)} (base {base.label}, current "
                           f"{current.label}); compare runs of one machine and settings, or pass "
                           "--allow-different-host to gate anyway")
    pairs, only_base, only_current = pair_cells(base, current)
    if not pairs:
        raise CompareError(f"no cell in common: base {base.label} has {len(base.cells)} cells, current "
                           f"{current.label} {len(current.cells)}, none with the same stack, scenario, endpoint "
                           "and concurrency; compare runs of the same stacks and scenarios")
    rows = []
    for key, b, why_b, c, why_c in pairs:
        for name, metric in METRICS.items():
            e = evidence(key[0], metric, _side(b, name, why_b), _side(c, name, why_c), thresholds)
            verdict, reason = judge(e)
            rows.append(Row(key, name, verdict, reason, name in thresholds.gate, e))
    return Comparison(base=base, current=current, thresholds=thresholds, rows=tuple(sorted(rows, key=_order)),
                      changes=changes(base, current, python_is_change), incomparable=tuple(differences),
                      only_in_base=tuple(only_base), only_in_current=tuple(only_current))
