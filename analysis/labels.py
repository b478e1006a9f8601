"""The words and units every view of a run uses: the terminal tables, the HTML report and the charts.

One owner, so the terminal never says `vs best 0.34` where the report says `relative 34%`, nor `us`
where the report says `µs`. A view picks the labels of the columns it shows; it does not spell its own.
"""
from __future__ import annotations

# column of the ranking / aggregate frame -> its label, wherever it is shown
LABELS: dict[str, str] = {
    "rank": "#",
    "stack": "stack",
    "scenario": "scenario",
    "concurrency": "users",
    "n": "n",
    "rps": "req/s",
    "rps_interval": "req/s 95%",
    "rel_rps": "relative",  # share of the best stack's req/s in the same scenario and concurrency, in %
    "p50_ms": "p50 ms",
    "p90_ms": "p90 ms",
    "p99_ms": "p99 ms",
    "p999_ms": "p99.9 ms",
    "cpu_us_per_req": "CPU µs/req",
    "cpu_interval": "CPU µs/req 95%",
    "server_rss_mb": "peak RSS MiB",
    "generator_cpu_pct": "generator CPU %",
    "error_pct": "errors %",
    "mb_per_s": "MB/s",
    "flags": "flags",
    "concurrency_open": "in flight at most",  # an open-model scenario's concurrency: a cap, not users
}

TIE_MARK = "≈ next"  # this row and the next one down cannot be told apart
TIE_LEGEND = "not separable from the next stack down: their order is not a result"

# flag -> the short form a narrow terminal prints, with a legend under the table
FLAG_SHORT: dict[str, str] = {
    "stalled": "STL",
    "generator-bound": "GEN",
    "unsaturated": "UNS",
    "starved": "STV",
    "littles-off": "LIT",
    "errors": "ERR",
    "noisy": "NSY",
    "steal": "STE",
}


def relative_text(rel_rps: float) -> str:
    """`relative` as every view prints it: the share of the best throughput, in percent."""
    return f"{rel_rps * 100:.0f}%"


__all__ = ["FLAG_SHORT", "LABELS", "TIE_LEGEND", "TIE_MARK", "relative_text"]
