"""Stacks ranked by median throughput within each scenario and concurrency, with what the order is worth.

A rank alone would claim more than a noisy machine can show: each row
carries its flags (analysis.flags) and whether it can be told apart from the
next one down (separable), so neighbours the noise could swap are marked as
ties, not ranked apart.
"""
from __future__ import annotations

from itertools import pairwise

import pandas as pd

from analysis.aggregate import aggregate
from analysis.columns import RANK_COLUMNS, Record
from analysis.flags import TIE_FRACTION, missing, ranking_flags


def separable(a: Record, b: Record) -> bool:
    """Whether two aggregate rows' rps can be told apart.

    With 2+ repeats each: their 95% rps intervals do not overlap. Otherwise: the larger rps is more
    than TIE_FRACTION above the smaller. Missing rps: not separable.
    """
    ra, rb = a.get("rps"), b.get("rps")
    if ra is None or rb is None or missing(ra) or missing(rb):
        return False
    intervals = [a.get("rps_lo"), a.get("rps_hi"), b.get("rps_lo"), b.get("rps_hi")]
    if min(a.get("n", 0), b.get("n", 0)) >= 2 and not any(missing(v) for v in intervals):
        return bool(a["rps_hi"] < b["rps_lo"] or b["rps_hi"] < a["rps_lo"])
    hi, lo = max(ra, rb), min(ra, rb)
    return bool(hi > lo * (1.0 + TIE_FRACTION))


def rank(agg: pd.DataFrame) -> pd.DataFrame:
    """The aggregate ranked by median rps within each scenario and concurrency, best first; RANK_COLUMNS.

    rel_rps = rps / best rps of that scenario and concurrency. flags lists the analysis.flags names
    that apply: such rows stay in the table, but their rps may measure the machine, not the stack.
    tie_with_next: this row and the next one down cannot be told apart (see separable()), so their
    order is not a result; the last row of a group is never tied.
    """
    if agg.empty:
        return pd.DataFrame(columns=RANK_COLUMNS)
    agg = agg.copy()
    agg["flags"] = [ranking_flags(r) for r in agg.to_dict("records")]
    agg = agg.sort_values(["scenario", "concurrency", "rps", "stack"], ascending=[True, True, False, True],
                          kind="stable", na_position="last")
    by = agg.groupby(["scenario", "concurrency"], sort=False)
    agg["rank"] = by.cumcount() + 1
    best = by["rps"].transform("max")
    agg["rel_rps"] = (agg["rps"] / best).where(best > 0)
    ties: list[bool] = []
    for _, group in by:
        records = group.to_dict("records")
        ties += [not separable(r, nxt) for r, nxt in pairwise(records)] + [False]
    agg["tie_with_next"] = ties
    out = agg[RANK_COLUMNS].reset_index(drop=True)
    out["concurrency"] = out["concurrency"].astype("Int64")
    out["rank"] = out["rank"].astype(int)
    out["n"] = out["n"].astype(int)
    out["tie_with_next"] = out["tie_with_next"].astype(bool)
    out["flags"] = out["flags"].astype(object)
    return out


def ranking(df: pd.DataFrame) -> pd.DataFrame:
    """rank(aggregate(df)) from a tidy frame: for a frame built by hand. A whole run uses analysis.analyze,
    which aggregates once and ranks that."""
    return rank(aggregate(df))
