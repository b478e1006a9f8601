"""What a soak answers: does the server grow, slow down or fail more the longer it runs?

Least-squares slopes over the measured window (numpy.polyfit, degree 1), per hour:
- rss_mb_per_h: samples.csv server_rss_bytes (MB = 2**20 bytes, as server_rss_mb) against time;
  rss_mb_per_h_per_worker: that over the stack's workers; rss_start_mb / rss_end_mb: the first and last
  samples inside the window.
- rps_drift_pct_per_h: each series slot's rate (completed / slot_s) against the slot's start, as a % of
  the mean rate.
- error_drift_pts_per_h: each slot's error % (failures / completed, slots that completed something),
  in percentage points.
A slope needs two points at different times: NaN with a note otherwise.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.columns import Row
from analysis.samples import TIME
from analysis.scenario_rows import MIB, RSS, figure

HOUR_S = 3600.0
TOO_FEW = "fewer than two points to fit"


def slope_per_h(t_s: Sequence[float], values: Sequence[float]) -> float | None:
    """Least-squares slope of `values` against seconds, per hour; None without two distinct times."""
    pairs = [(t, v) for t, v in zip(t_s, values, strict=True) if not (math.isnan(t) or math.isnan(v))]
    if len({t for t, _ in pairs}) < 2:
        return None
    xs, ys = (np.array(c, dtype=float) for c in zip(*pairs, strict=True))
    return float(np.polyfit(xs / HOUR_S, ys, 1)[0])


def rss_in_window(samples: pd.DataFrame | None, start: float, end: float) -> pd.DataFrame:
    """The samples inside [start, end] that have an RSS, sorted by time."""
    if samples is None or RSS not in samples.columns:
        return pd.DataFrame({TIME: [], RSS: []})
    s = samples[[TIME, RSS]].dropna()
    return s[(s[TIME] >= start) & (s[TIME] <= end)]


def soak_figures(key: Row, samples: pd.DataFrame | None, start: float, end: float, slots: Sequence[Row],
                 workers: int | None) -> list[Row]:
    """figures.csv rows of one soak cell: RSS, rate and error slopes over its window."""
    rss = rss_in_window(samples, start, end)
    mb = (rss[RSS].astype(float) / MIB).tolist()
    rss_slope = slope_per_h((rss[TIME].astype(float) - start).tolist(), mb)
    per_worker = rss_slope / workers if rss_slope is not None and workers else None
    t_s = [float(s["t_s"]) for s in slots]
    rates = [float(s["rps"]) for s in slots]
    mean_rate = float(np.nanmean(rates)) if any(not math.isnan(r) for r in rates) else math.nan
    rate_slope = slope_per_h(t_s, rates)
    rate_drift = rate_slope / mean_rate * 100 if rate_slope is not None and mean_rate > 0 else None
    err_pct = [100.0 * int(s["failures"]) / int(s["completed"]) if int(s["completed"]) else math.nan for s in slots]
    err_slope = slope_per_h(t_s, err_pct)
    no_rss = "no server RSS sampled in the window"
    return [
        figure(key, "rss_mb_per_h", rss_slope, "MB/h", None if rss_slope is not None else TOO_FEW),
        figure(key, "rss_mb_per_h_per_worker", per_worker, "MB/h",
               None if per_worker is not None else ("workers unknown" if rss_slope is not None else TOO_FEW)),
        figure(key, "rps_drift_pct_per_h", rate_drift, "%/h", None if rate_drift is not None else TOO_FEW),
        figure(key, "error_drift_pts_per_h", err_slope, "pts/h", None if err_slope is not None else TOO_FEW),
        figure(key, "rss_start_mb", mb[0] if mb else None, "MB", None if mb else no_rss),
        figure(key, "rss_end_mb", mb[-1] if mb else None, "MB", None if mb else no_rss),
    ]
