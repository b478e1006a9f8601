"""samples.csv: the harness's resource samples of one cell, and their values over the measured window.

The counters (CPU seconds, steal, busy time) are cumulative, so a window's
share is the difference of two interpolated values, exact whatever the
sampling period; memory is a level, so the window's peak sample is taken.
Read with pandas; runformat.records.SAMPLE_COLUMNS names the columns.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from runformat.errors import RunDirError
from runformat.records import SAMPLE_COLUMNS

TIME = SAMPLE_COLUMNS[0]  # "t": unix time of the sample


def read_samples(path: Path) -> pd.DataFrame | None:
    """samples.csv as numbers sorted by time; None when absent or empty (a cell that died early)."""
    if not path.is_file():
        return None
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise RunDirError(f"{path}: not a readable CSV ({str(e).splitlines()[0]}); the file is damaged, "
                          "delete that folder and measure it again") from None
    for col in df.columns:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    if TIME not in df.columns:
        raise RunDirError(f"{path}: no `{TIME}` column, so not a stackmark samples.csv; delete that folder "
                          "and measure it again")
    return df.dropna(subset=[TIME]).sort_values(TIME, kind="stable").reset_index(drop=True)


def delta(samples: pd.DataFrame | None, column: str, start: float, end: float) -> float:
    """Growth of a cumulative counter over [start, end], linearly interpolated between samples.

    NaN when the samples do not cover the window: numpy.interp would clamp to the
    edge values and silently under-count.
    """
    if samples is None or column not in samples.columns:
        return math.nan
    s = samples[[TIME, column]].dropna()
    if len(s) < 2 or start < s[TIME].iloc[0] or end > s[TIME].iloc[-1]:
        return math.nan
    t = s[TIME].to_numpy(dtype=float)
    v = s[column].to_numpy(dtype=float)
    a, b = np.interp([start, end], t, v)
    return float(b - a)


def window_max(samples: pd.DataFrame | None, column: str, start: float, end: float) -> float:
    """Largest sample inside [start, end]; the sample nearest the window's middle if none falls inside."""
    if samples is None or column not in samples.columns:
        return math.nan
    s = samples[[TIME, column]].dropna()
    if s.empty:
        return math.nan
    inside = s[(s[TIME] >= start) & (s[TIME] <= end)]
    if not inside.empty:
        return float(inside[column].max())
    t, v = s[TIME].to_numpy(dtype=float), s[column].to_numpy(dtype=float)
    return float(v[np.abs(t - (start + end) / 2).argmin()])
