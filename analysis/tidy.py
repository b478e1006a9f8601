"""Turn a run folder into one tidy row per cell, and rank stacks from it.

All numbers are derived from the raw files of results/README.md only, over
the measured window [phases.measure, phases.end] of each cell, so they can
be recomputed at any time. summary.csv is this table written to disk.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from analysis.errors import RunDirError
from analysis.load import Cell, Run, load_run

BUCKET_MS = 0.01

COLUMNS = [
    "stack", "framework", "server", "worker", "interface",
    "scenario", "endpoint", "concurrency", "repeat", "status", "reason",
    "requests", "errors", "error_pct", "duration_s", "rps",
    "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms",
    "server_cpu_s", "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct", "steal_pct",
    # added later, appended so older readers of summary.csv keep their column positions:
    "generator_bound", "starved", "starved_users", "littles_ratio", "littles_off", "bytes_per_req", "noisy",
    # open model (latency.json "open"; NaN for closed-model cells):
    "offered_rps", "missed", "late",
    # CPU used by everything else on the machine (not the server, not Locust), share of all its CPU time:
    "other_load_pct",
]
# summary.csv = COLUMNS + the 95% interval of each cell's group over its repeats (the same on every repeat row;
# NaN with one repeat), so the per-cell table carries the uncertainty too.
INTERVAL_COLUMNS = ["rps_lo", "rps_hi", "cpu_us_per_req_lo", "cpu_us_per_req_hi"]
SUMMARY_COLUMNS = COLUMNS + INTERVAL_COLUMNS
OPEN_COLUMNS = ["offered_rps", "missed", "late", "other_load_pct"]
METRICS = COLUMNS[COLUMNS.index("requests"):]
INT_COLUMNS = ["concurrency", "repeat", "requests", "errors", "starved_users", "missed", "late"]
TEXT_COLUMNS = ["stack", "framework", "server", "worker", "interface", "scenario", "endpoint", "status", "reason"]
# Per-cell flags: nullable booleans, <NA> (empty in the CSV) when the inputs to decide them are missing.
FLAG_COLUMNS = ["generator_bound", "starved", "littles_off", "noisy"]
NUMBER_METRICS = [m for m in METRICS if m not in FLAG_COLUMNS]

KEYS = ["stack", "scenario", "endpoint", "concurrency"]
SPEC_COLUMNS = ["framework", "server", "worker", "interface"]
AGG_COLUMNS = (
    KEYS + SPEC_COLUMNS + ["n"] + [m for m in NUMBER_METRICS if m not in OPEN_COLUMNS]
    + ["rps_lo", "rps_hi", "cpu_us_per_req_lo", "cpu_us_per_req_hi", "rps_cv", "cpu_cv",
       "generator_cpu_pct_max", "error_pct_max", "steal_pct_max", "starved_users_max"]
    + FLAG_COLUMNS
    + OPEN_COLUMNS  # appended later: medians over repeats, like the other numbers
)

RANK_COLUMNS = ["scenario", "concurrency", "rank", "stack", "rps", "rel_rps", "p99_ms",
                "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct", "flags",
                "n", "rps_lo", "rps_hi", "cpu_us_per_req_lo", "cpu_us_per_req_hi", "tie_with_next"]

# Thresholds of the flags: past these a cell measures something other than the server,
# or measures it too unsteadily to rank on. Every flag's rule is in FLAG_RULES below.
GENERATOR_BOUND_PCT = 90.0  # Locust's CPU share at which its own limit, not the server's, sets the rate
ERRORS_PCT = 1.0
STEAL_PCT = 10.0  # hypervisor steal, share of all the machine's CPU time
OTHER_LOAD_PCT = 25.0  # CPU of other processes on the machine, share of all its CPU time
LITTLES_LOW, LITTLES_HIGH = 0.8, 1.25  # concurrency / (rps x mean latency) outside this: the numbers disagree
NOISY_INTERVAL_FRACTION = 0.20  # a 95% interval wider than this share of its median is noisy
TIE_FRACTION = 0.20  # without intervals, stacks closer than this (rps a <= b x 1.2) are not separable
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261122
INTERVAL = 0.95

# flag name (as in ranking's `flags`) -> what it means, with its threshold; the report prints these.
FLAG_RULES = {
    "generator-bound": f"Locust used {GENERATOR_BOUND_PCT:g}% or more of its CPUs in some repeat: the rate is "
                       "the load generator's ceiling, the stack may be faster than shown.",
    "starved": "some simulated users completed no request in the measured window (or never showed up): "
               "the server left connections waiting, without errors, so rps and latency describe only the users "
               "it served.",
    "littles-off": f"Little's law disagrees: concurrency / (req/s x mean latency) outside "
                   f"[{LITTLES_LOW:g}, {LITTLES_HIGH:g}] in some repeat; in a closed model with no think time it is "
                   "about 1, so users spent their time somewhere the latency does not show (queued, starved, "
                   "or inside the load generator).",
    "errors": f"{ERRORS_PCT:g}% or more of the requests failed in some repeat.",
    "noisy": f"the 95% interval of req/s or of CPU per request is wider than {NOISY_INTERVAL_FRACTION:.0%} of its "
             f"median, or the median steal was {STEAL_PCT:g}% or more, or other processes used {OTHER_LOAD_PCT:g}% "
             "or more of the machine's CPU: the number is not steady enough to rank on.",
    "steal": f"the hypervisor took {STEAL_PCT:g}% or more of the machine's CPU time in some repeat.",
}

NAN = float("nan")


# -- histograms -------------------------------------------------------------

def merge_hists(hists: Iterable[Mapping[Any, Any]]) -> dict[int, int]:
    """Add histograms bucket by bucket (JSON keys are strings; buckets are ints)."""
    merged: dict[int, int] = {}
    for hist in hists:
        for key, count in hist.items():
            k = int(key)
            merged[k] = merged.get(k, 0) + int(count)
    return merged


def _bucket_value_ms(key: int) -> float:
    # key / 100 rather than key * 0.01: gives the float closest to the exact decimal (412 -> 4.12).
    return key / 100


def percentile_from_hist(hist: Mapping[int, int], q: float) -> float:
    """Nearest-rank percentile of a 10 us histogram, in ms; q is a fraction (0.99 = p99).

    Returns the *lower edge* of the bucket holding the ceil(q*N)-th smallest
    response time, so the true value lies in [result, result + 0.01) ms. This
    matches Locust's own habit of truncating. NaN for an empty histogram.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be a fraction in [0, 1], got {q}")
    items = sorted((int(k), int(v)) for k, v in hist.items() if int(v) > 0)
    total = sum(v for _, v in items)
    if total == 0:
        return NAN
    # round() absorbs float noise such as 0.07 * 100 = 7.000000000000001 (rank 7, not 8).
    rank = max(1, math.ceil(round(q * total, 6)))
    seen = 0
    for key, count in items:
        seen += count
        if seen >= rank:
            return _bucket_value_ms(key)
    return _bucket_value_ms(items[-1][0])  # unreachable: seen reaches total >= rank


def mean_from_hist(hist: Mapping[int, int]) -> float:
    """Mean response time in ms, taking each bucket at its lower edge like percentile_from_hist.

    So it may read up to 0.01 ms low; it never mixes conventions with the percentiles.
    NaN for an empty histogram.
    """
    total = sum(int(v) for v in hist.values())
    if total == 0:
        return NAN
    return sum(int(k) * int(v) for k, v in hist.items()) / total / 100


# -- samples ----------------------------------------------------------------

def _interp_delta(samples: pd.DataFrame | None, column: str, start: float, end: float) -> float:
    """Growth of a cumulative counter over [start, end], linearly interpolated between samples.

    NaN when the samples do not cover the window: numpy.interp would clamp to the
    edge values and silently under-count.
    """
    if samples is None or column not in samples.columns:
        return NAN
    s = samples[["t", column]].dropna()
    if len(s) < 2 or start < s["t"].iloc[0] or end > s["t"].iloc[-1]:
        return NAN
    t = s["t"].to_numpy(dtype=float)
    v = s[column].to_numpy(dtype=float)
    a, b = np.interp([start, end], t, v)
    return float(b - a)


def _window_max(samples: pd.DataFrame | None, column: str, start: float, end: float) -> float:
    """Largest sample inside [start, end]; the sample nearest the window's middle if none falls inside."""
    if samples is None or column not in samples.columns:
        return NAN
    s = samples[["t", column]].dropna()
    if s.empty:
        return NAN
    inside = s[(s["t"] >= start) & (s["t"] <= end)]
    if not inside.empty:
        return float(inside[column].max())
    middle = (start + end) / 2
    return float(s.loc[(s["t"] - middle).abs().idxmin(), column])


# -- one cell ---------------------------------------------------------------

def _window(cell: Cell) -> tuple[float, float] | None:
    """[measure, end] from phases.json; latency.json's copy of the window if phases.json is missing."""
    phases = cell.phases or {}
    if phases.get("measure") is not None and phases.get("end") is not None:
        return float(phases["measure"]), float(phases["end"])
    window = (cell.latency or {}).get("window")
    if window and len(window) == 2 and None not in window:
        return float(window[0]), float(window[1])
    return None


def _ratio(num: float, den: float, scale: float = 1.0) -> float:
    if den == 0 or math.isnan(num) or math.isnan(den):
        return NAN
    return scale * num / den


def _flag(value: float, test: Callable[[float], bool]) -> bool | None:
    """A per-cell flag; None (<NA>) when the number it is decided on is missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(test(value))


def user_accounting(latency: Mapping[str, Any] | None) -> tuple[int | None, bool | None]:
    """(starved_users, starved) from latency.json's "users" block; (None, None) for files without one.

    starved_users = users seen with zero completed requests in the window, plus users expected but
    never seen (they completed nothing either). starved = any such user.
    """
    users = (latency or {}).get("users")
    if not isinstance(users, Mapping):
        return None, None
    expected, seen, starved = users.get("expected"), users.get("seen"), users.get("starved")
    if seen is None or starved is None:
        return None, None
    missing = max(0, int(expected) - int(seen)) if expected is not None else 0
    count = int(starved) + missing
    return count, count > 0


def open_model(latency: Mapping[str, Any] | None) -> tuple[float, int | None, int | None] | None:
    """(offered_rps, missed, late) from latency.json's "open" block; None for a closed-model cell."""
    block = (latency or {}).get("open")
    if not isinstance(block, Mapping):
        return None
    rate = block.get("offered_rate")

    def count(key: str) -> int | None:
        v = block.get(key)
        return None if v is None else int(v)

    return (NAN if rate is None else float(rate)), count("missed"), count("late")


def littles_ratio(concurrency: Any, rps: float, mean_ms: float) -> float:
    """Closed-model Little's law check: concurrency / (rps x mean latency in s); about 1 when consistent."""
    if concurrency is None or pd.isna(concurrency):
        return NAN
    return _ratio(float(concurrency), rps * mean_ms / 1000.0)


def cell_metrics(cell: Cell, cpu_count: int | None, default_loadgen_cpus: list[int] | None = None) -> dict[str, Any]:
    """The METRICS of one ok cell; NaN (or None for counts and flags) where an input file is missing."""
    out: dict[str, Any] = {m: NAN for m in METRICS}
    out["requests"] = out["errors"] = out["starved_users"] = out["missed"] = out["late"] = None
    for flag in FLAG_COLUMNS:
        out[flag] = None
    window = _window(cell)
    if window is None:
        return out
    start, end = window
    duration = end - start
    out["duration_s"] = duration

    if cell.latency is not None:
        names = (cell.latency.get("requests") or {}).values()
        requests = sum(int(r.get("count", 0)) for r in names)  # count includes failures
        errors = sum(int(r.get("failures", 0)) for r in names)
        hist = merge_hists(r.get("hist") or {} for r in names)
        has_bytes = any("bytes" in r for r in names)
        out.update(
            requests=requests,
            errors=errors,
            bytes_per_req=_ratio(sum(int(r.get("bytes", 0)) for r in names), requests) if has_bytes else NAN,
            error_pct=_ratio(errors, requests, 100.0),
            rps=_ratio(requests, duration),
            mean_ms=mean_from_hist(hist),
            p50_ms=percentile_from_hist(hist, 0.50),
            p90_ms=percentile_from_hist(hist, 0.90),
            p99_ms=percentile_from_hist(hist, 0.99),
            p999_ms=percentile_from_hist(hist, 0.999),
        )

    samples = cell.samples
    server_cpu = _interp_delta(samples, "server_cpu_s", start, end)
    out["server_cpu_s"] = server_cpu
    if out["requests"] is not None:
        out["cpu_us_per_req"] = _ratio(server_cpu, out["requests"], 1e6)
    out["server_rss_mb"] = _window_max(samples, "server_rss_bytes", start, end) / 2**20

    loadgen_cpus = cell.meta.get("loadgen_cpus") or default_loadgen_cpus or []
    out["generator_cpu_pct"] = _ratio(_interp_delta(samples, "gen_cpu_s", start, end), duration * len(loadgen_cpus), 100.0)
    out["steal_pct"] = _ratio(_interp_delta(samples, "steal_s", start, end), duration * (cpu_count or 0), 100.0)
    busy = _interp_delta(samples, "busy_s", start, end)
    gen = _interp_delta(samples, "gen_cpu_s", start, end)
    # busy_s counts steal too on Linux (it is not idle): take it out with the server's and Locust's own CPU
    steal = _interp_delta(samples, "steal_s", start, end)
    out["other_load_pct"] = _ratio(max(0.0, busy - server_cpu - gen - steal), duration * (cpu_count or 0), 100.0) \
        if not any(math.isnan(v) for v in (busy, server_cpu, gen, steal)) else NAN

    out["starved_users"], out["starved"] = user_accounting(cell.latency)
    open_block = open_model(cell.latency)
    if open_block is None:
        out["littles_ratio"] = littles_ratio(cell.meta.get("concurrency"), out["rps"], out["mean_ms"])
    else:
        # open model: concurrency is the cap on requests in flight, not the number in flight, so
        # Little's law has nothing to be checked against
        out["offered_rps"], out["missed"], out["late"] = open_block
    out["generator_bound"] = _flag(out["generator_cpu_pct"], lambda v: v >= GENERATOR_BOUND_PCT)
    out["littles_off"] = _flag(out["littles_ratio"], lambda v: not LITTLES_LOW <= v <= LITTLES_HIGH)
    # one cell: heavy steal or a busy machine; the interval test needs repeats (aggregate)
    out["noisy"] = _flag(out["steal_pct"], lambda v: v >= STEAL_PCT)
    if out["noisy"] is not True and not math.isnan(out["other_load_pct"]):
        out["noisy"] = True if out["other_load_pct"] >= OTHER_LOAD_PCT else out["noisy"]
    return out


def _cell_row(cell: Cell, run: Run) -> dict[str, Any]:
    meta = cell.meta
    stack_id = cell.stack
    spec = run.stacks.get(stack_id) or {}
    status = meta.get("status") or "failed"
    row: dict[str, Any] = {
        "stack": stack_id,
        "framework": spec.get("framework"),
        "server": spec.get("server"),
        "worker": spec.get("worker"),
        "interface": spec.get("interface"),
        "scenario": meta.get("scenario"),
        "endpoint": meta.get("endpoint"),
        "concurrency": meta.get("concurrency"),
        "repeat": meta.get("repeat"),
        "status": status,
        "reason": meta.get("reason"),
    }
    if status == "ok":
        settings = run.meta.get("settings") or {}
        host = run.meta.get("host") or {}
        row.update(cell_metrics(cell, host.get("cpu_count"), settings.get("loadgen_cpus")))
    else:
        # A failed cell's partial numbers would be read as results; keep only why it failed.
        row.update({m: None if m in INT_COLUMNS or m in FLAG_COLUMNS else NAN for m in METRICS})
    return row


def tidy_from_run(run: Run) -> pd.DataFrame:
    """tidy_frame for an already loaded Run (lets the report load the folder once)."""
    if not run.cells:
        raise RunDirError(f"{run.path}: no finished cells yet; wait for `stackmark bench` to finish a cell "
                          "or check the stacks' start/verify outcome in stacks/*/stack.json")
    df = pd.DataFrame([_cell_row(c, run) for c in run.cells], columns=COLUMNS)
    for col in INT_COLUMNS:
        df[col] = pd.array([None if pd.isna(v) else int(v) for v in df[col]], dtype="Int64")
    for col in FLAG_COLUMNS:
        df[col] = pd.array([None if v is None or pd.isna(v) else bool(v) for v in df[col]], dtype="boolean")
    for col in NUMBER_METRICS:
        if col not in INT_COLUMNS:
            df[col] = df[col].astype(float)
    for col in TEXT_COLUMNS:
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df.sort_values(["stack", "scenario", "concurrency", "repeat"], kind="stable").reset_index(drop=True)


def tidy_frame(run_dir: Path) -> pd.DataFrame:
    """One row per finished cell, columns COLUMNS; failed cells keep status/reason and NaN metrics."""
    return tidy_from_run(load_run(Path(run_dir)))


# -- summary.csv --------------------------------------------------------------

def write_atomic(path: Path, write: Callable[[IO[Any]], object], binary: bool = False) -> Path:
    """Create path via a temp file in the same folder and os.replace: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; derived files are meant to be shared
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def with_intervals(df: pd.DataFrame) -> pd.DataFrame:
    """df with each cell's group interval over repeats (INTERVAL_COLUMNS) joined on: SUMMARY_COLUMNS."""
    agg = aggregate(df)[KEYS + INTERVAL_COLUMNS]
    merged = df.merge(agg, on=KEYS, how="left")
    return merged[SUMMARY_COLUMNS]


def save_summary(df: pd.DataFrame, run_dir: Path) -> Path:
    """Write df as run_dir/summary.csv atomically, with exactly SUMMARY_COLUMNS in that order."""
    table = with_intervals(df)
    return write_atomic(Path(run_dir) / "summary.csv", lambda f: table.to_csv(f, index=False))


def save_aggregate(df: pd.DataFrame, run_dir: Path) -> Path:
    """Write aggregate(df) as run_dir/aggregate.csv atomically (AGG_COLUMNS, one row per stack x cell key)."""
    agg = aggregate(df)
    return write_atomic(Path(run_dir) / "aggregate.csv", lambda f: agg[AGG_COLUMNS].to_csv(f, index=False))


def write_summary(run_dir: Path) -> Path:
    """(Re)build run_dir/summary.csv, aggregate.csv (and saturation.csv after a concurrency sweep) from the
    raw files; returns summary.csv's path."""
    df = tidy_frame(run_dir)
    save_aggregate(df, run_dir)
    save_saturation(df, run_dir)
    return save_summary(df, run_dir)


# -- repeats: medians, intervals, spread ---------------------------------------

def _finite(values: Iterable[Any]) -> np.ndarray:
    x = np.asarray([float(v) for v in values if v is not None and not pd.isna(v)], dtype=float)
    return x[np.isfinite(x)]


def bootstrap_median_interval(values: Iterable[Any], resamples: int = BOOTSTRAP_RESAMPLES,
                              level: float = INTERVAL, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile-bootstrap interval (default 95%) of the median of values; (NaN, NaN) with fewer than 2.

    NaNs are dropped first. Deterministic: a fresh generator with a fixed seed per call, so a
    group's interval does not depend on which other groups were computed before it. The interval
    is widened, if it ever needs to be, to contain the sample median itself.
    """
    x = _finite(values)
    if len(x) < 2:
        return NAN, NAN
    rng = np.random.default_rng(seed)
    meds = np.median(x[rng.integers(0, len(x), size=(resamples, len(x)))], axis=1)
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(meds, [alpha, 1.0 - alpha])
    med = float(np.median(x))
    return float(min(lo, med)), float(max(hi, med))


def coefficient_of_variation(values: Iterable[Any]) -> float:
    """Sample standard deviation (ddof=1) / mean; NaN with fewer than 2 values or a zero mean."""
    x = _finite(values)
    if len(x) < 2 or x.mean() == 0:
        return NAN
    return float(x.std(ddof=1) / x.mean())


def _wide(lo: float, hi: float, median: float) -> bool:
    """An interval wider than NOISY_INTERVAL_FRACTION of its median (False when it cannot be told)."""
    if any(math.isnan(v) for v in (lo, hi, median)) or median == 0:
        return False
    return (hi - lo) > NOISY_INTERVAL_FRACTION * abs(median)


def _any(flags: pd.Series) -> bool | None:
    """True if any repeat raised the flag; <NA> only if no repeat could tell."""
    known = flags.dropna()
    if known.empty:
        return None
    return bool(known.astype(bool).any())


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """Ok cells over repeats: one row per (stack, scenario, endpoint, concurrency), columns AGG_COLUMNS.

    Every number is the median over the n repeats that finished ok. rps and cpu_us_per_req get a 95%
    bootstrap interval of that median (*_lo, *_hi; NaN for n == 1) and a coefficient of variation
    (rps_cv, cpu_cv; NaN for n < 2). *_max keep the worst repeat so one bad repeat is not hidden by
    the median. Flags: generator_bound, starved and littles_off are true if any repeat raised them;
    noisy is true when the rps or cpu_us_per_req interval is wider than NOISY_INTERVAL_FRACTION of
    its median, or the median steal_pct is STEAL_PCT or more (with n == 1: the steal test only).
    """
    ok = df[df["status"] == "ok"].copy()
    if ok.empty:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in AGG_COLUMNS})
        for col in FLAG_COLUMNS:
            out[col] = out[col].astype("boolean")
        return out
    ok["endpoint"] = ok["endpoint"].fillna("")
    for col in NUMBER_METRICS:
        # floats throughout: a median of two counts can be fractional, and a frame assembled by hand
        # (object columns holding pd.NA) must aggregate like one read from disk
        ok[col] = pd.to_numeric(ok[col], errors="coerce").astype(float)
    rows = []
    for key, g in ok.groupby(KEYS, sort=True, dropna=False):
        r: dict[str, Any] = dict(zip(KEYS, key))
        for col in SPEC_COLUMNS:
            r[col] = g[col].iloc[0]
        r["n"] = len(g)
        for col in NUMBER_METRICS:
            r[col] = float(g[col].median())  # NaN-skipping; NaN if no repeat has it
        r["rps_lo"], r["rps_hi"] = bootstrap_median_interval(g["rps"])
        r["cpu_us_per_req_lo"], r["cpu_us_per_req_hi"] = bootstrap_median_interval(g["cpu_us_per_req"])
        r["rps_cv"] = coefficient_of_variation(g["rps"])
        r["cpu_cv"] = coefficient_of_variation(g["cpu_us_per_req"])
        for col in ("generator_cpu_pct", "error_pct", "steal_pct", "starved_users"):
            r[f"{col}_max"] = float(g[col].max())
        for col in ("generator_bound", "starved", "littles_off"):
            r[col] = _any(g[col])
        wide = (_wide(r["rps_lo"], r["rps_hi"], r["rps"])
                or _wide(r["cpu_us_per_req_lo"], r["cpu_us_per_req_hi"], r["cpu_us_per_req"]))
        steal, other = r["steal_pct"], r.get("other_load_pct", NAN)
        busy = not math.isnan(other) and other >= OTHER_LOAD_PCT
        r["noisy"] = True if wide or busy else (None if math.isnan(steal) else steal >= STEAL_PCT)
        rows.append(r)
    out = pd.DataFrame(rows, columns=AGG_COLUMNS)
    out["n"] = out["n"].astype(int)
    out["concurrency"] = out["concurrency"].astype("Int64")
    for col in FLAG_COLUMNS:
        out[col] = pd.array(list(out[col]), dtype="boolean")
    return out.sort_values(KEYS, kind="stable").reset_index(drop=True)


def medians(df: pd.DataFrame) -> pd.DataFrame:
    """aggregate(df) plus `repeats` (= n), the name charts and older callers use."""
    agg = aggregate(df)
    agg["repeats"] = agg["n"]
    return agg


# -- ranking ------------------------------------------------------------------

def _flags(row: pd.Series) -> str:
    """The ranking's flags string: names of FLAG_RULES that apply to an aggregate row, in that order."""
    def true(col: str) -> bool:
        v = row[col]
        return bool(v) if v is not None and not pd.isna(v) else False

    def at_least(col: str, threshold: float) -> bool:
        v = row[col]
        return bool(v >= threshold) if v is not None and not pd.isna(v) else False

    raised = {
        "generator-bound": at_least("generator_cpu_pct_max", GENERATOR_BOUND_PCT) or true("generator_bound"),
        "starved": true("starved"),
        "littles-off": true("littles_off"),
        "errors": at_least("error_pct_max", ERRORS_PCT),
        "noisy": true("noisy"),
        "steal": at_least("steal_pct_max", STEAL_PCT),
    }
    return ",".join(name for name in FLAG_RULES if raised[name])


def separable(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two aggregate rows' rps can be told apart.

    With 2+ repeats each: their 95% rps intervals do not overlap. Otherwise: the larger rps is more
    than TIE_FRACTION above the smaller. Missing rps: not separable.
    """
    ra, rb = a.get("rps"), b.get("rps")
    if ra is None or rb is None or pd.isna(ra) or pd.isna(rb):
        return False
    intervals = [a.get("rps_lo"), a.get("rps_hi"), b.get("rps_lo"), b.get("rps_hi")]
    if min(a.get("n", 0), b.get("n", 0)) >= 2 and not any(v is None or pd.isna(v) for v in intervals):
        return bool(a["rps_hi"] < b["rps_lo"] or b["rps_hi"] < a["rps_lo"])
    hi, lo = max(ra, rb), min(ra, rb)
    return bool(hi > lo * (1.0 + TIE_FRACTION))


def ranking(df: pd.DataFrame) -> pd.DataFrame:
    """Stacks ranked by median rps within each scenario and concurrency, best first; columns RANK_COLUMNS.

    Built on aggregate(): rps and cpu_us_per_req are medians over the n ok repeats, with their 95%
    intervals (NaN for n == 1). rel_rps = rps / best rps of that scenario+concurrency. flags lists
    the FLAG_RULES names that apply (generator-bound, starved, littles-off, errors, noisy, steal):
    such rows stay in the table, but their rps may measure the machine, not the stack.
    tie_with_next: this row and the next one down cannot be told apart (see separable()), so
    their order is not a result; the last row of a group is never tied.
    """
    agg = aggregate(df)
    if agg.empty:
        return pd.DataFrame(columns=RANK_COLUMNS)
    agg["flags"] = agg.apply(_flags, axis=1) if len(agg) else ""
    agg = agg.sort_values(["scenario", "concurrency", "rps", "stack"], ascending=[True, True, False, True],
                          kind="stable", na_position="last")
    by = agg.groupby(["scenario", "concurrency"], sort=False)
    agg["rank"] = by.cumcount() + 1
    best = by["rps"].transform("max")
    agg["rel_rps"] = (agg["rps"] / best).where(best > 0)
    ties: list[bool] = []
    for _, group in by:
        records = group.to_dict("records")
        ties += [not separable(r, nxt) for r, nxt in zip(records, records[1:])] + [False]
    agg["tie_with_next"] = ties
    out = agg[RANK_COLUMNS].reset_index(drop=True)
    out["concurrency"] = out["concurrency"].astype("Int64")
    out["rank"] = out["rank"].astype(int)
    out["n"] = out["n"].astype(int)
    out["tie_with_next"] = out["tie_with_next"].astype(bool)
    out["flags"] = out["flags"].astype(object)
    return out


# -- saturation from a concurrency sweep ------------------------------------------

SLO_P99_MS = 100.0
SATURATION_MAX_ERROR_PCT = 1.0
SATURATION_COLUMNS = ["stack", "scenario", "endpoint", "levels", "max_tested", "concurrency", "rps", "p99_ms",
                      "error_pct", "flags", "note", "slo_p99_ms", "max_error_pct"]
NOTE_NO_LEVEL = "no level met the SLO"
NOTE_NOT_REACHED = "best level is the highest tested: saturation not reached"


def closed_model(df: pd.DataFrame) -> pd.DataFrame:
    """The closed-model rows of a tidy frame (open-model cells have an offered_rps)."""
    if "offered_rps" not in df.columns:
        return df
    return df[pd.to_numeric(df["offered_rps"], errors="coerce").isna()]


def sweeps(df: pd.DataFrame) -> pd.DataFrame:
    """aggregate() rows of the closed-model (stack, scenario) pairs measured at 2 or more concurrency levels."""
    agg = aggregate(closed_model(df))
    if agg.empty:
        return agg
    levels = agg.groupby(["stack", "scenario"])["concurrency"].transform("nunique")
    return agg[levels >= 2].reset_index(drop=True)


def saturation(df: pd.DataFrame, slo_p99_ms: float = SLO_P99_MS,
               max_error_pct: float = SATURATION_MAX_ERROR_PCT) -> pd.DataFrame:
    """Per stack x scenario swept over 2+ concurrency levels: the level with the most throughput within the SLO.

    Works on aggregate() (medians over the ok repeats). A level qualifies when its median p99_ms <=
    slo_p99_ms and its median error_pct < max_error_pct; of those, the one with the highest median rps
    (ties: the lower concurrency) is reported with its rps, p99_ms, error_pct and ranking flags (a
    generator-bound best level measures Locust, not the stack). `note` says when no level qualified
    (concurrency, rps, p99_ms are then empty) or when the best level is the highest tested, so the
    stack may go further: saturation not reached. Open-model cells (concurrency = a cap on requests
    in flight) and pairs with a single level are left out. Columns SATURATION_COLUMNS.
    """
    agg = sweeps(df)
    if agg.empty:
        return pd.DataFrame(columns=SATURATION_COLUMNS)
    flags = ranking(closed_model(df)).set_index(["stack", "scenario", "concurrency"])["flags"]
    rows = []
    for (stack, scenario), g in agg.groupby(["stack", "scenario"], sort=True):
        levels = sorted(int(c) for c in g["concurrency"].unique())
        r: dict[str, Any] = {"stack": stack, "scenario": scenario, "endpoint": g["endpoint"].iloc[0],
                             "levels": len(levels), "max_tested": levels[-1],
                             "slo_p99_ms": float(slo_p99_ms), "max_error_pct": float(max_error_pct)}
        p99 = pd.to_numeric(g["p99_ms"], errors="coerce")
        err = pd.to_numeric(g["error_pct"], errors="coerce")
        within = g[(p99 <= slo_p99_ms) & (err < max_error_pct) & g["rps"].notna()]
        if within.empty:
            r.update(concurrency=None, rps=NAN, p99_ms=NAN, error_pct=NAN, flags="", note=NOTE_NO_LEVEL)
        else:
            best = within.sort_values(["rps", "concurrency"], ascending=[False, True], kind="stable").iloc[0]
            conc = int(best["concurrency"])
            r.update(concurrency=conc, rps=float(best["rps"]), p99_ms=float(best["p99_ms"]),
                     error_pct=float(best["error_pct"]), flags=flags.get((stack, scenario, conc), "") or "",
                     note=NOTE_NOT_REACHED if conc == levels[-1] else "")
        rows.append(r)
    out = pd.DataFrame(rows, columns=SATURATION_COLUMNS)
    for col in ("levels", "max_tested"):
        out[col] = out[col].astype(int)
    out["concurrency"] = pd.array(list(out["concurrency"]), dtype="Int64")
    return out


def save_saturation(df: pd.DataFrame, run_dir: Path, slo_p99_ms: float = SLO_P99_MS,
                    max_error_pct: float = SATURATION_MAX_ERROR_PCT) -> Path | None:
    """Write saturation(df) as run_dir/saturation.csv when some scenario was swept (2+ levels); else None."""
    sat = saturation(df, slo_p99_ms, max_error_pct)
    if sat.empty:
        return None
    return write_atomic(Path(run_dir) / "saturation.csv", lambda f: sat[SATURATION_COLUMNS].to_csv(f, index=False))


def steadiness(df: pd.DataFrame) -> dict[str, Any]:
    """How steady cpu_us_per_req was against rps over repeats: median CV across stacks of each.

    {"groups": number of (stack, cell) groups with 2+ ok repeats, "rps_cv": median rps_cv over them,
    "cpu_cv": median cpu_cv}; the CVs are NaN when no group has 2 repeats.
    """
    agg = aggregate(df)
    rep = agg[agg["n"] >= 2] if not agg.empty else agg
    return {
        "groups": int(len(rep)),
        "rps_cv": float(pd.to_numeric(rep["rps_cv"]).median()) if len(rep) else NAN,
        "cpu_cv": float(pd.to_numeric(rep["cpu_cv"]).median()) if len(rep) else NAN,
    }
