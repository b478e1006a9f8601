"""Statistics over a cell's repeats: the bootstrap interval of the median, and the coefficient of variation.

The median, not the mean, because one disturbed repeat on a shared machine
should not move the number; a percentile bootstrap, because with 3 to 5
repeats nothing can be assumed about the distribution. Both are pure
functions of a list of numbers, deterministic (fixed seed), NaN-skipping.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261122
INTERVAL = 0.95
NAN = float("nan")


def finite(values: Iterable[float | None]) -> npt.NDArray[np.float64]:
    """The finite numbers among values, as floats (None, NaN and <NA> dropped)."""
    x = np.asarray([float(v) for v in values if v is not None and not pd.isna(v)], dtype=np.float64)
    return x[np.isfinite(x)]


def bootstrap_median_interval(values: Iterable[float | None], resamples: int = BOOTSTRAP_RESAMPLES,
                              level: float = INTERVAL, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile-bootstrap interval (default 95%) of the median of values; (NaN, NaN) with fewer than 2.

    A fresh generator with a fixed seed per call, so a group's interval does not depend on which
    other groups were computed before it. The interval is widened, if it ever needs to be, to
    contain the sample median itself.
    """
    x = finite(values)
    if len(x) < 2:
        return NAN, NAN
    rng = np.random.default_rng(seed)
    meds = np.median(x[rng.integers(0, len(x), size=(resamples, len(x)))], axis=1)
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(meds, [alpha, 1.0 - alpha])
    med = float(np.median(x))
    return float(min(lo, med)), float(max(hi, med))


def coefficient_of_variation(values: Iterable[float | None]) -> float:
    """Sample standard deviation (ddof=1) / mean; NaN with fewer than 2 values or a zero mean."""
    x = finite(values)
    if len(x) < 2 or x.mean() == 0:
        return NAN
    return float(x.std(ddof=1) / x.mean())
