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
    # the scenarios' columns (issue 13)
    "workers": "workers",
    "ideal_rps": "ideal req/s",  # an /io?ms=N cell: users x 1000 / N
    "ideal_pct": "of the ideal",
    "co_p50_ms": "corrected p50 ms",  # open model, timed from each request's scheduled start
    "co_p90_ms": "corrected p90 ms",
    "co_p99_ms": "corrected p99 ms",
    "share_pct": "share %",  # a request name's share of the cell's requests
    "efficiency": "efficiency",  # req/s at N workers / (N x req/s at one)
}

# figures.csv's figure names -> their heading in the report's scenario tables (a name not here shows as itself)
FIGURE_LABELS: dict[str, str] = {
    "ideal_rps": "ideal req/s",
    "ideal_pct": "% of the ideal",
    "capacity_rps": "capacity req/s",
    "knee_users": "knee users",
    "knee_rps": "knee req/s",
    "knee_p99_ms": "knee p99 ms",
    "p99_at_50pct_ms": "p99 ms at 50% of capacity",
    "p99_at_80pct_ms": "p99 ms at 80%",
    "p99_at_95pct_ms": "p99 ms at 95%",
    "slo_p99_ms": "SLO p99 ms",
    "steps_run": "steps run",
    "before_p99_ms": "p99 ms before",
    "spike_p99_ms": "p99 ms in the spike",
    "after_p99_ms": "p99 ms after",
    "spike_errors": "errors in the spike",
    "spike_error_pct": "errors % in the spike",
    "recovery_s": "back after s",
    "rss_mb_per_h": "RSS MB/h",
    "rss_mb_per_h_per_worker": "RSS MB/h per worker",
    "rps_drift_pct_per_h": "req/s drift %/h",
    "error_drift_pts_per_h": "errors drift points/h",
    "rss_start_mb": "RSS MB at start",
    "rss_end_mb": "RSS MB at end",
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


__all__ = ["FIGURE_LABELS", "FLAG_SHORT", "LABELS", "TIE_LEGEND", "TIE_MARK", "relative_text"]
