"""The columns of every table analysis writes, in their order on disk.

One place, because summary.csv, aggregate.csv and saturation.csv are read by
people and scripts by position as well as by name: a new column is appended
at the end, never inserted, so older readers keep their positions.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Row = dict[str, Any]  # one row being built, column -> value
Record = Mapping[Any, Any]  # one row read back from a frame (DataFrame.to_dict("records") keys are Hashable)

# The tidy frame and summary.csv, as first written, then what was appended over time.
BASE_COLUMNS = [
    "stack", "framework", "server", "worker", "interface",
    "scenario", "endpoint", "concurrency", "repeat", "status", "reason",
    "requests", "errors", "error_pct", "duration_s", "rps",
    "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms",
    "server_cpu_s", "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct", "steal_pct",
    # appended later:
    "generator_bound", "starved", "starved_users", "littles_ratio", "littles_off", "bytes_per_req", "noisy",
    # open model (latency.json "open"; NaN for closed-model cells):
    "offered_rps", "missed", "late",
    # CPU used by everything else on the machine (not the server, not Locust), share of all its CPU time:
    "other_load_pct",
]
# the 95% interval of each cell's group over its repeats (the same on every repeat row; NaN with one repeat)
INTERVAL_COLUMNS = ["rps_lo", "rps_hi", "cpu_us_per_req_lo", "cpu_us_per_req_hi"]
# stall detection from latency.json's "timeline" (NaN / <NA> without one): appended after the intervals
STALL_COLUMNS = ["max_gap_s", "stalled"]
# the server's CPU share of its own CPUs, and the closed-model cells where neither side was saturated:
# appended after the stall columns (the aggregate: its median and any repeat's flag, last too)
UNSATURATED_COLUMNS = ["server_cpu_pct", "unsaturated"]
# the scenarios of issue 13, appended last: the stack's worker count (stack.json, kept for failed cells too),
# response megabytes per second, the ideal rate of an /io?ms=N cell (concurrency x 1000 / N) and the
# percentiles of an open-model cell's coordinated-omission-corrected histogram (latency.json open.corrected)
SCENARIO_COLUMNS = ["workers", "mb_per_s", "ideal_rps", "co_p50_ms", "co_p90_ms", "co_p99_ms"]
STACK_NUMBERS = ["workers"]  # a SCENARIO_COLUMNS entry that describes the stack, not the measurement

COLUMNS = BASE_COLUMNS + STALL_COLUMNS + UNSATURATED_COLUMNS + SCENARIO_COLUMNS  # the tidy frame: one row a cell
SUMMARY_COLUMNS = BASE_COLUMNS + INTERVAL_COLUMNS + STALL_COLUMNS + UNSATURATED_COLUMNS + SCENARIO_COLUMNS

# what a cell's files say; empty for a failed cell
METRICS = [c for c in COLUMNS[COLUMNS.index("requests"):] if c not in STACK_NUMBERS]
INT_COLUMNS = ["concurrency", "repeat", "requests", "errors", "starved_users", "missed", "late", "workers"]
TEXT_COLUMNS = ["stack", "framework", "server", "worker", "interface", "scenario", "endpoint", "status", "reason"]
# Per-cell flags: nullable booleans, <NA> (empty in the CSV) when the inputs to decide them are missing.
FLAG_COLUMNS = ["generator_bound", "starved", "littles_off", "noisy", "stalled", "unsaturated"]
NUMBER_METRICS = [m for m in METRICS if m not in FLAG_COLUMNS]

# aggregate.csv: one row per KEYS over the repeats that finished ok
KEYS = ["stack", "scenario", "endpoint", "concurrency"]
SPEC_COLUMNS = ["framework", "server", "worker", "interface"]
LATER_MEDIANS = ["offered_rps", "missed", "late", "other_load_pct"]  # medians appended after the flags
LAST_MEDIANS = ["server_cpu_pct"]  # medians appended after the stall columns
MEDIAN_COLUMNS = [m for m in NUMBER_METRICS if m not in STALL_COLUMNS]  # every number's median over repeats
SCENARIO_MEDIANS = [c for c in SCENARIO_COLUMNS if c not in STACK_NUMBERS]  # medians appended after those
WORST_COLUMNS = ["generator_cpu_pct", "error_pct", "steal_pct", "starved_users"]  # also kept as *_max
ANY_REPEAT_FLAGS = ["generator_bound", "starved", "littles_off", "stalled", "unsaturated"]  # true if any repeat
AGG_COLUMNS = (
    KEYS + SPEC_COLUMNS + ["n"]
    + [m for m in MEDIAN_COLUMNS if m not in LATER_MEDIANS + LAST_MEDIANS + SCENARIO_MEDIANS]
    + INTERVAL_COLUMNS + ["rps_cv", "cpu_cv"] + [f"{c}_max" for c in WORST_COLUMNS]
    + ["generator_bound", "starved", "littles_off", "noisy"]
    + LATER_MEDIANS
    + ["stalled", "max_gap_s_max"]  # appended with stall detection
    + LAST_MEDIANS + ["unsaturated"]  # appended with the unsaturated flag
    + SCENARIO_COLUMNS  # workers: the group's own; the rest medians (issue 13)
)
AGG_FLAG_COLUMNS = [c for c in AGG_COLUMNS if c in FLAG_COLUMNS]

RANK_COLUMNS = ["scenario", "concurrency", "rank", "stack", "rps", "rel_rps", "p99_ms",
                "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct", "flags",
                "n", "rps_lo", "rps_hi", "cpu_us_per_req_lo", "cpu_us_per_req_hi", "tie_with_next"]

SATURATION_COLUMNS = ["stack", "scenario", "endpoint", "levels", "max_tested", "concurrency", "rps", "p99_ms",
                      "error_pct", "flags", "note", "slo_p99_ms", "max_error_pct"]

# The companion tables of the scenarios (issue 13), one CSV each beside summary.csv when not empty.
CELL_KEYS = ["stack", "scenario", "concurrency", "repeat"]  # one cell of a run
# figures.csv: one row per derived figure of one ok cell (long form: figure, value, unit, note)
FIGURE_COLUMNS = CELL_KEYS + ["figure", "value", "unit", "note"]
# stages.csv: one row per stage of a shaped cell (ramp step, spike phase); start_s from the window's start
STAGE_COLUMNS = CELL_KEYS + ["stage", "index", "users", "start_s", "duration_s", "requests", "errors", "error_pct",
                             "rps", "p50_ms", "p99_ms"]
# endpoints.csv: one row per request name of an ok cell that sent more than one (the mix)
ENDPOINT_COLUMNS = CELL_KEYS + ["name", "requests", "errors", "error_pct", "rps", "share_pct", "p50_ms", "p99_ms"]
# series.csv: one row per slot of a shaped cell's latency.json `series`; rss_mb: the slot's highest server RSS
SERIES_COLUMNS = CELL_KEYS + ["t_s", "completed", "failures", "rps", "p50_ms", "p99_ms", "rss_mb"]
# scaling.csv (analysis/scaling.py): a stack measured at several worker counts against its 1-worker self
SCALING_COLUMNS = ["scenario", "concurrency", "base", "stack", "workers", "rps", "rps_one", "efficiency",
                   "cpu_us_per_req", "server_cpus"]
