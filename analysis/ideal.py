"""The ideal rate of an I/O-bound cell: every request waits N ms upstream, so c users make at most c / N.

The wait is read from the cell's endpoint path, `/io?ms=N` (cell.json `endpoint`), the one place a run
records it; anything else has no ideal. An open-model cell offers its own rate, so it has none either.
"""
from __future__ import annotations

import math
from urllib.parse import parse_qs, urlsplit

IO_PATH = "/io"


def io_wait_ms(endpoint: object) -> float | None:
    """N of an `/io?ms=N` endpoint path (N > 0); None for any other endpoint."""
    if not isinstance(endpoint, str):
        return None
    parts = urlsplit(endpoint)
    if parts.path != IO_PATH:
        return None
    try:
        ms = float(parse_qs(parts.query).get("ms", [""])[0])
    except ValueError:
        return None
    return ms if ms > 0 and math.isfinite(ms) else None


def ideal_rps(endpoint: object, concurrency: object, open_model: bool) -> float:
    """concurrency x 1000 / N for a closed-model `/io?ms=N` cell; NaN otherwise."""
    ms = io_wait_ms(endpoint)
    if ms is None or open_model or not isinstance(concurrency, int) or isinstance(concurrency, bool):
        return math.nan
    return concurrency * 1000.0 / ms
