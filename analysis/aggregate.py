"""Repeats folded into one row per (stack, scenario, endpoint, concurrency): aggregate.csv.

Medians over the repeats that finished ok, their bootstrap intervals and
coefficients of variation, the worst repeat of the numbers a single bad
repeat must not hide behind a median, and the flags over repeats. This is
the expensive step (two bootstraps per group): analysis.analyze runs it once
per run and hands the result to every table, chart and text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis import flags, stats
from analysis.columns import (
    AGG_COLUMNS,
    AGG_FLAG_COLUMNS,
    ANY_REPEAT_FLAGS,
    INTERVAL_COLUMNS,
    KEYS,
    MEDIAN_COLUMNS,
    NUMBER_METRICS,
    SPEC_COLUMNS,
    SUMMARY_COLUMNS,
    WORST_COLUMNS,
)


def empty_aggregate() -> pd.DataFrame:
    """An aggregate with no rows but the right columns and flag dtypes (no cell finished ok)."""
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in AGG_COLUMNS})
    for col in AGG_FLAG_COLUMNS:
        out[col] = out[col].astype("boolean")
    return out


def any_repeat(values: pd.Series) -> bool | None:
    """True if any repeat raised the flag; <NA> only if no repeat could tell."""
    known = values.dropna()
    if known.empty:
        return None
    return bool(known.astype(bool).any())


def group_row(key: tuple[Any, ...], g: pd.DataFrame) -> dict[str, Any]:
    """One aggregate row from the ok repeats `g` of one group."""
    r: dict[str, Any] = dict(zip(KEYS, key, strict=True))
    for col in SPEC_COLUMNS:
        r[col] = g[col].iloc[0]
    r["n"] = len(g)
    known = g["workers"].dropna() if "workers" in g.columns else pd.Series(dtype=object)
    r["workers"] = None if known.empty else int(known.iloc[0])  # a stack's own: the same on every repeat
    for col in MEDIAN_COLUMNS:
        r[col] = float(g[col].median())  # NaN-skipping; NaN if no repeat has it
    r["rps_lo"], r["rps_hi"] = stats.bootstrap_median_interval(g["rps"])
    r["cpu_us_per_req_lo"], r["cpu_us_per_req_hi"] = stats.bootstrap_median_interval(g["cpu_us_per_req"])
    r["rps_cv"] = stats.coefficient_of_variation(g["rps"])
    r["cpu_cv"] = stats.coefficient_of_variation(g["cpu_us_per_req"])
    for col in WORST_COLUMNS + ["max_gap_s"]:
        r[f"{col}_max"] = float(g[col].max())
    for col in ANY_REPEAT_FLAGS:
        r[col] = any_repeat(g[col])
    wide = (flags.wide(r["rps_lo"], r["rps_hi"], r["rps"])
            or flags.wide(r["cpu_us_per_req_lo"], r["cpu_us_per_req_hi"], r["cpu_us_per_req"]))
    r["noisy"] = flags.aggregate_noisy(wide, r["steal_pct"], r["other_load_pct"])
    return r


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """Ok cells over repeats: one row per (stack, scenario, endpoint, concurrency), columns AGG_COLUMNS.

    Every number is the median over the n repeats that finished ok. rps and cpu_us_per_req get a 95%
    bootstrap interval of that median (*_lo, *_hi; NaN for n == 1) and a coefficient of variation
    (rps_cv, cpu_cv; NaN for n < 2). *_max keep the worst repeat. Flags: generator_bound, starved,
    littles_off, stalled and unsaturated are true if any repeat raised them; noisy is true when the rps or
    cpu_us_per_req interval is wider than NOISY_INTERVAL_FRACTION of its median, the machine was
    busy with other processes, or the median steal_pct is STEAL_PCT or more.
    """
    ok = df[df["status"] == "ok"].copy()
    if ok.empty:
        return empty_aggregate()
    ok["endpoint"] = ok["endpoint"].fillna("")
    for col in NUMBER_METRICS:
        # floats throughout: a median of two counts can be fractional, and a frame assembled by hand
        # (object columns holding pd.NA) must aggregate like one read from disk
        ok[col] = pd.to_numeric(ok[col], errors="coerce").astype(float)
    rows = [group_row(key, g) for key, g in ok.groupby(KEYS, sort=True, dropna=False)]
    out = pd.DataFrame(rows, columns=AGG_COLUMNS)
    out["n"] = out["n"].astype(int)
    out["concurrency"] = out["concurrency"].astype("Int64")
    out["workers"] = pd.array([None if pd.isna(v) else int(v) for v in out["workers"]], dtype="Int64")
    for col in AGG_FLAG_COLUMNS:
        out[col] = pd.array(list(out[col]), dtype="boolean")
    return out.sort_values(KEYS, kind="stable").reset_index(drop=True)


def with_intervals(df: pd.DataFrame, agg: pd.DataFrame) -> pd.DataFrame:
    """The tidy frame with each cell's group interval over repeats joined on: summary.csv's SUMMARY_COLUMNS."""
    merged = df.merge(agg[KEYS + INTERVAL_COLUMNS], on=KEYS, how="left")
    return merged[SUMMARY_COLUMNS]


def repeat_counts(agg: pd.DataFrame) -> list[int]:
    """The distinct numbers of ok repeats per group, sorted: what a median was actually taken over."""
    return sorted({int(n) for n in agg["n"]})


@dataclass(frozen=True)
class Steadiness:
    """How steady CPU per request was against throughput over repeats: the median CV of each."""

    groups: int  # (stack, cell) groups with 2 or more ok repeats
    rps_cv: float  # median rps_cv over them; NaN when there are none
    cpu_cv: float


def steadiness(agg: pd.DataFrame) -> Steadiness:
    rep = agg[agg["n"] >= 2] if not agg.empty else agg
    if rep.empty:
        return Steadiness(0, stats.NAN, stats.NAN)
    return Steadiness(int(len(rep)), float(pd.to_numeric(rep["rps_cv"]).median()),
                      float(pd.to_numeric(rep["cpu_cv"]).median()))
