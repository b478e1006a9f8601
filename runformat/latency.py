"""latency.json: the histogram of the measured window, per-user counts, and merging several of them.

Written by the Locust plugin (one file per process: latency.json, and
latency-w<pid>.json per worker of a multi-process cell); merged here for every
reader, so a multi-process cell reads as one. In Locust's distributed mode
(workers possibly on other machines, no shared folder) each worker sends its
record to the master over Locust's own messaging and the master writes one
latency.json, merged by `merge_reports`, with each worker's share in `workers`.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from runformat.records import (
    CorrectedHist,
    LatencyFile,
    OpenBlock,
    RequestStats,
    Series,
    ShapeBlock,
    StageStats,
    Timeline,
    UsersBlock,
    WorkerShare,
)

BUCKETS_PER_MS = 100  # 10 microsecond buckets: key = int(response_time_ms * 100)
BUCKET_MS = 1 / BUCKETS_PER_MS
TIMELINE_SLOT_S = 0.1  # completions are counted per slot of this length, to find stalls


def bucket_value_ms(key: int) -> float:
    """A bucket's lower edge in ms. key / 100 rather than key * 0.01: the float closest to the exact decimal
    (412 -> 4.12)."""
    return key / BUCKETS_PER_MS


def percentile_from_hist(hist: Mapping[int, int] | Mapping[str, int], q: float) -> float:
    """Nearest-rank percentile of a 10 us histogram, in ms; q is a fraction (0.99 = p99).

    Returns the lower edge of the bucket holding the ceil(q*N)-th smallest
    response time, so the true value lies in [result, result + 0.01) ms, as
    Locust truncates. NaN for an empty histogram. Here, beside the format, so the
    Locust plugin (a series slot's p99, a ramp step's stop rule) and analysis read
    percentiles the same way.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be a fraction in [0, 1], got {q}")
    items = sorted((int(k), int(v)) for k, v in hist.items() if int(v) > 0)
    total = sum(v for _, v in items)
    if total == 0:
        return math.nan
    # round() absorbs float noise such as 0.07 * 100 = 7.000000000000001 (rank 7, not 8)
    rank = max(1, math.ceil(round(q * total, 6)))
    seen = 0
    for key, count in items:
        seen += count
        if seen >= rank:
            return bucket_value_ms(key)
    return bucket_value_ms(items[-1][0])  # unreachable: seen reaches total >= rank


def user_summary(expected: int | None, counts: Sequence[int]) -> UsersBlock:
    """The "users" block from per-user completed-request counts; `counts` kept sorted so blocks merge exactly."""
    ordered = sorted(int(c) for c in counts)
    return {
        "expected": expected,
        "seen": len(ordered),
        "starved": sum(1 for c in ordered if c == 0),
        "min": ordered[0] if ordered else None,
        "median": statistics.median(ordered) if ordered else None,
        "max": ordered[-1] if ordered else None,
        "counts": ordered,
    }


def merge_users(blocks: Sequence[UsersBlock]) -> UsersBlock:
    """Per-user accounting over several processes: exact when every block carries its `counts`."""
    expected = max((e for b in blocks if (e := b.get("expected")) is not None), default=None)
    if all(isinstance(b.get("counts"), list) for b in blocks):
        return user_summary(expected, [c for b in blocks for c in b.get("counts", [])])
    # some block without counts (an older file): sums are exact, the median is not knowable
    seen = [b for b in blocks if b.get("seen")]
    mins = [m for b in seen if (m := b.get("min")) is not None]
    maxes = [m for b in seen if (m := b.get("max")) is not None]
    return {"expected": expected, "seen": sum(int(b.get("seen") or 0) for b in blocks),
            "starved": sum(int(b.get("starved") or 0) for b in blocks),
            "min": min(mins, default=None), "median": seen[0].get("median") if len(seen) == 1 else None,
            "max": max(maxes, default=None)}


def merge_hists(hists: Iterable[Mapping[Any, Any]]) -> dict[int, int]:
    """Add histograms bucket by bucket (JSON keys are strings; buckets are ints)."""
    merged: dict[int, int] = {}
    for hist in hists:
        for key, count in hist.items():
            k = int(key)
            merged[k] = merged.get(k, 0) + int(count)
    return merged


def _merge_requests(parts: Sequence[LatencyFile]) -> dict[str, RequestStats]:
    requests: dict[str, RequestStats] = {}
    for part in parts:
        for name, r in (part.get("requests") or {}).items():
            into = requests.setdefault(name, {"count": 0, "failures": 0, "hist": {}})
            into["count"] += int(r.get("count", 0))
            into["failures"] += int(r.get("failures", 0))
            if "bytes" in r:
                into["bytes"] = into.get("bytes", 0) + int(r["bytes"])
            merged = merge_hists([into["hist"], r.get("hist") or {}])
            into["hist"] = {str(k): v for k, v in merged.items()}
    return requests


def _merge_timelines(blocks: Sequence[Timeline]) -> Timeline:
    slot = blocks[0]["slot_s"]
    length = max(len(b["completed"]) for b in blocks)
    return {"slot_s": slot, "completed": [sum(b["completed"][i] for b in blocks if i < len(b["completed"]))
                                          for i in range(length)]}


def _hist_out(hists: Iterable[Mapping[Any, Any]]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(merge_hists(hists).items())}


def merge_open(opens: Sequence[OpenBlock]) -> OpenBlock:
    """Open-model blocks of one cell: counts and the corrected histograms add; the offered rate is the total
    every process carries."""
    block: OpenBlock = {
        "offered_rate": max((r for o in opens if (r := o.get("offered_rate")) is not None), default=None),
        "sent": sum(int(o.get("sent") or 0) for o in opens),
        "missed": sum(int(o.get("missed") or 0) for o in opens),
        "late": sum(int(o.get("late") or 0) for o in opens),
    }
    corrected = [c for o in opens if (c := o.get("corrected")) is not None]
    if corrected:
        merged: CorrectedHist = {"count": sum(int(c.get("count") or 0) for c in corrected),
                                 "hist": _hist_out(c.get("hist") or {} for c in corrected)}
        block["corrected"] = merged
    return block


def merge_shapes(shapes: Sequence[ShapeBlock]) -> ShapeBlock:
    """Shape blocks of one cell: each stage (by index) adds its counts, failures and histogram; its name,
    users and times come from the first block that has it; `stopped` is the first one given."""
    merged: ShapeBlock = cast(ShapeBlock, {k: v for k, v in shapes[0].items() if k != "stages"})
    stopped = next((s for b in shapes if (s := b.get("stopped")) is not None), None)
    if "stopped" in merged or stopped is not None:
        merged["stopped"] = stopped
    length = max(len(b["stages"]) for b in shapes)
    stages: list[StageStats] = []
    for i in range(length):
        parts = [b["stages"][i] for b in shapes if i < len(b["stages"])]
        first = parts[0]
        stages.append({"name": first["name"], "users": first["users"], "start": first["start"],
                       "end": first["end"], "count": sum(int(p["count"]) for p in parts),
                       "failures": sum(int(p["failures"]) for p in parts),
                       "hist": _hist_out(p["hist"] for p in parts)})
    merged["stages"] = stages
    return merged


def merge_series(blocks: Sequence[Series]) -> Series:
    """Series of one cell's processes, slot by slot: completions and failures add exactly; percentiles are
    approximate (p50: the mean of the processes' p50 weighted by their completions; p99: the highest)."""
    length = max(len(b["completed"]) for b in blocks)

    def at(values: Sequence[Any], i: int) -> Any:
        return values[i] if i < len(values) else None

    completed, failures, p50, p99 = [], [], [], []
    for i in range(length):
        counts = [int(at(b["completed"], i) or 0) for b in blocks]
        completed.append(sum(counts))
        failures.append(sum(int(at(b["failures"], i) or 0) for b in blocks))
        weighted = [(c, v) for c, b in zip(counts, blocks, strict=True) if c and (v := at(b["p50_ms"], i)) is not None]
        total = sum(c for c, _ in weighted)
        p50.append(round(sum(c * v for c, v in weighted) / total, 2) if total else None)
        p99.append(max((v for b in blocks if (v := at(b["p99_ms"], i)) is not None), default=None))
    return {"slot_s": blocks[0]["slot_s"], "completed": completed, "failures": failures, "p50_ms": p50,
            "p99_ms": p99}


# latency.json block -> how the blocks of several processes of one cell become one
BLOCK_MERGES: dict[str, Callable[[Any], Any]] = {
    "users": merge_users, "open": merge_open, "timeline": _merge_timelines, "shape": merge_shapes,
    "series": merge_series,
}


def merge_latency(parts: Sequence[LatencyFile]) -> LatencyFile | None:
    """One latency record from the latency files of one cell (latency.json first, if present).

    A single file comes back as it is. Several (a multi-process cell): histograms, counts, failures,
    bytes and timelines add; `users` merge from the per-user `counts` (expected = the configured total
    every file carries); `open` blocks add sent/missed/late and the corrected histograms and keep
    offered_rate (the total rate, the same in every file); `shape` stages add per index and `series`
    slots add (their percentiles approximately: merge_series); bucket_ms, window, processes,
    run_token and think_ms come from the first file that has them (all processes share the master's window).
    """
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, Any] = {}
    for key in ("bucket_ms", "window", "processes", "run_token", "think_ms"):
        value = next((p.get(key) for p in parts if p.get(key) is not None), None)
        if value is not None:
            merged[key] = value
    merged["requests"] = _merge_requests(parts)
    for key, merge in BLOCK_MERGES.items():
        blocks = [p[key] for p in parts if key in p]  # type: ignore[literal-required]
        if blocks:
            merged[key] = merge(blocks)
    return cast(LatencyFile, merged)


def merge_reports(master: LatencyFile, reports: Mapping[str, LatencyFile]) -> LatencyFile:
    """The master's latency.json of a distributed cell: its own record (window, token, no requests) merged
    with each worker's reported one, plus `workers`, each worker's share, so a reader can check that every
    worker counted and that the shares add up to the merged total."""
    merged = merge_latency([master, *(reports[w] for w in sorted(reports))]) or master
    shares: list[WorkerShare] = []
    for worker in sorted(reports):
        requests, failures = totals(reports[worker])
        shares.append({"worker": worker, "requests": requests, "failures": failures})
    return cast(LatencyFile, {**merged, "workers": shares})


def totals(latency: LatencyFile | None) -> tuple[int, int]:
    """(requests completed in the window, of which failed); (0, 0) without a latency record."""
    stats = latency["requests"] if latency is not None else {}
    return (sum(int(r.get("count", 0)) for r in stats.values()),
            sum(int(r.get("failures", 0)) for r in stats.values()))
