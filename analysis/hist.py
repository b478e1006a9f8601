"""Numbers read off one cell's latency record: percentiles, mean, users, the open model, stalls.

The record is runformat's LatencyFile, already merged over the cell's
per-process files (runformat.latency.merge_latency), so a multi-process cell
reads like any other. Histogram buckets are 10 us wide (runformat.latency.BUCKETS_PER_MS), and
percentiles are runformat.latency's (the Locust plugin reads them the same way);
every value is taken at its bucket's lower edge, so percentiles and the mean
share one convention and read at most 0.01 ms low.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from runformat.latency import BUCKETS_PER_MS
from runformat.latency import percentile_from_hist as percentile_from_hist  # re-exported for analysis
from runformat.records import LatencyFile, Timeline

NAN = math.nan

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
