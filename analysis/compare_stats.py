"""The statistics of a comparison: a one-sided Mann-Whitney U test, the smallest p a sample can reach,
and a bootstrap interval of the change between two medians.

Why Mann-Whitney U (as asv's `compare` uses it): it compares ranks, so it
assumes no normal distribution (three to ten repeats of a web benchmark are
anything but normal) and one repeat disturbed by a noisy neighbour moves
one rank, not the mean. Its exact distribution (no ties) or an exact
permutation test (ties, as error_pct's zeros) gives honest p-values for the
small samples a 2-core runner can afford, and says when a sample is too
small to reach significance at all: with n repeats on each side the
smallest one-sided p is 1 / C(2n, n) (3 + 3 repeats: 0.05; 2 + 2: 0.17).

Pure functions of lists of numbers; deterministic (fixed seeds).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.stats import PermutationMethod, mannwhitneyu

from analysis.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, INTERVAL, NAN, finite

EXACT_MAX = 50  # samples up to this size without ties: the exact U distribution
PERMUTATIONS = 9999  # with ties: every distinct split when there are fewer (exact), else this many, seeded


def one_sided_p(current: Sequence[float], base: Sequence[float], greater: bool) -> float:
    """p-value of `current` being stochastically greater (or, greater=False, less) than `base`; NaN if empty."""
    c, b = finite(current), finite(base)
    if len(c) == 0 or len(b) == 0:
        return NAN
    pooled = np.concatenate([c, b])
    if np.all(pooled == pooled[0]):
        return 1.0  # nothing differs: no evidence either way
    alternative: Literal["greater", "less"] = "greater" if greater else "less"
    if len(np.unique(pooled)) == len(pooled) and max(len(c), len(b)) <= EXACT_MAX:
        return float(mannwhitneyu(c, b, alternative=alternative, method="exact").pvalue)
    method = PermutationMethod(n_resamples=PERMUTATIONS, rng=np.random.default_rng(BOOTSTRAP_SEED))
    return float(mannwhitneyu(c, b, alternative=alternative, method=method).pvalue)


def smallest_p(n: int, m: int) -> float:
    """The smallest one-sided p an exact rank test can give with samples of n and m: 1 / C(n + m, n)."""
    if n < 1 or m < 1:
        return 1.0
    return 1.0 / math.comb(n + m, n)


def repeats_needed(alpha: float) -> int:
    """The smallest equal number of repeats on both sides whose smallest p is at most alpha."""
    n = 1
    while smallest_p(n, n) > alpha:
        n += 1
    return n


def change(base_median: float, current_median: float, in_points: bool) -> float:
    """current - base (in points), or current / base - 1 (a ratio's change); NaN when it has no meaning."""
    if in_points:
        return current_median - base_median
    if base_median == 0 or not math.isfinite(base_median):
        return NAN
    return current_median / base_median - 1.0


def change_interval(base: Sequence[float], current: Sequence[float], in_points: bool,
                    resamples: int = BOOTSTRAP_RESAMPLES, level: float = INTERVAL,
                    seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile-bootstrap interval of `change` between the medians, each side resampled on its own.

    With one value on a side that side does not vary, so the interval only shows the other's spread;
    with one on each it is the point itself. (NaN, NaN) when a side is empty or the base median is 0.
    """
    b, c = finite(base), finite(current)
    if len(b) == 0 or len(c) == 0:
        return NAN, NAN
    rng = np.random.default_rng(seed)
    b_med = np.median(b[rng.integers(0, len(b), size=(resamples, len(b)))], axis=1)
    c_med = np.median(c[rng.integers(0, len(c), size=(resamples, len(c)))], axis=1)
    if in_points:
        changes = c_med - b_med
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            changes = c_med / b_med - 1.0
    changes = changes[np.isfinite(changes)]
    if len(changes) == 0:
        return NAN, NAN
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(changes, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def median(values: Sequence[float]) -> float:
    x = finite(values)
    return float(np.median(x)) if len(x) else NAN
