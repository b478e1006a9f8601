"""Numbers read off one cell's latency record: percentiles, mean, users, the open model, stalls.

The record is runformat's LatencyFile, already merged over the cell's
per-process files (runformat.latency.merge_latency), so a multi-process cell
reads like any other. Histogram buckets are 10 us wide (runformat.latency.BUCKETS_PER_MS);
every value is taken at its bucket's lower edge, so percentiles and the mean
share one convention and read at most 0.01 ms low.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from runformat.latency import BUCKETS_PER_MS
from runformat.records import LatencyFile, Timeline

NAN = math.nan


def _bucket_value_ms(key: int) -> float:
    # key / 100 rather than key * 0.01: the float closest to the exact decimal (412 -> 4.12)
    return key / BUCKETS_PER_MS


def percentile_from_hist(hist: Mapping[int, int] | Mapping[str, int], q: float) -> float:
    """Nearest-rank percentile of a 10 us histogram, in ms; q is a fraction (0.99 = p99).

    Returns the lower edge of the bucket holding the ceil(q*N)-th smallest
    response time, so the true value lies in [result, result + 0.01) ms, as
    Locust truncates. NaN for an empty histogram.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be a fraction in [0, 1], got {q}")
    items = sorted((int(k), int(v)) for k, v in hist.items() if int(v) > 0)
    total = sum(v for _, v in items)
    if total == 0:
        return NAN
    # round() absorbs float noise such as 0.07 * 100 = 7.000000000000001 (rank 7, not 8)
    rank = max(1, math.ceil(round(q * total, 6)))
    seen = 0
    for key, count in items:
        seen += count
        if seen >= rank:
            return _bucket_value_ms(key)
    return _bucket_value_ms(items[-1][0])  # unreachable: seen reaches total >= rank


def mean_from_hist(hist: Mapping[int, int] | Mapping[str, int]) -> float:
    """Mean response time in ms, each bucket at its lower edge like percentile_from_hist; NaN when empty."""
    total = sum(int(v) for v in hist.values())
    if total == 0:
        return NAN
    return sum(int(k) * int(v) for k, v in hist.items()) / total / BUCKETS_PER_MS


def user_accounting(latency: LatencyFile | None) -> tuple[int | None, bool | None]:
    """(starved_users, starved) from the "users" block; (None, None) for files without one.

    starved_users = users seen with zero completed requests in the window, plus users expected but
    never seen (they completed nothing either). starved = any such user.
    """
    if latency is None or "users" not in latency:
        return None, None
    users = latency["users"]
    expected = users.get("expected")
    missing = max(0, int(expected) - int(users["seen"])) if expected is not None else 0
    count = int(users["starved"]) + missing
    return count, count > 0


class OpenNumbers(NamedTuple):
    offered_rps: float
    missed: int
    late: int


def open_model(latency: LatencyFile | None) -> OpenNumbers | None:
    """(offered_rps, missed, late) from the "open" block; None for a closed-model cell."""
    if latency is None or "open" not in latency:
        return None
    block = latency["open"]
    rate = block["offered_rate"]
    return OpenNumbers(NAN if rate is None else float(rate), int(block["missed"]), int(block["late"]))


def longest_gap_s(timeline: Timeline | None) -> float:
    """The longest run of consecutive slots in which no request completed, in seconds; NaN without a timeline.

    Locust's closed model only times requests that complete, so a server that stops answering
    leaves no trace in the percentiles: only as a gap in completions over the window.
    """
    if timeline is None:
        return NAN
    longest = run = 0
    for completed in timeline["completed"]:
        run = run + 1 if completed == 0 else 0
        longest = max(longest, run)
    return round(longest * float(timeline["slot_s"]), 6)  # 17 x 0.1 is 1.7, not 1.7000000000000002


class Corrected(NamedTuple):
    p50_ms: float
    p90_ms: float
    p99_ms: float


def corrected_percentiles(latency: LatencyFile | None) -> Corrected:
    """p50/p90/p99 of the open model's corrected histogram (latency from each request's *scheduled* start,
    so a server that makes the sender wait is charged for it); NaN when the cell has none."""
    block = latency.get("open") if latency is not None else None
    corrected = block.get("corrected") if block is not None else None
    if corrected is None:
        return Corrected(NAN, NAN, NAN)
    hist = corrected["hist"]
    return Corrected(*(percentile_from_hist(hist, q) for q in (0.50, 0.90, 0.99)))
