"""The scenarios' derived figures (issue 13) from synthetic run folders with deliberately clear effects.

Each cell is written as real files in the documented format (results/README.md: run.json, stack.json,
cell.json, phases.json, latency.json with `shape` / `series` / `open.corrected`, samples.csv), read back
by analysis like any run: a ramp whose p99 crosses the SLO at step 4, a spike that recovers two slots
after it ends and one that never does, a soak whose RSS grows 10 MB over its window, an /io cell against
its ideal, a mix (several request names), an open cell with a corrected histogram, a payload cell.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.analyze import Analysis, analyze
from analysis.columns import (
    AGG_COLUMNS,
    ENDPOINT_COLUMNS,
    FIGURE_COLUMNS,
    SCALING_COLUMNS,
    SCENARIO_COLUMNS,
    SERIES_COLUMNS,
    STAGE_COLUMNS,
    SUMMARY_COLUMNS,
)
from analysis.figures_ramp import ramp_figures
from analysis.figures_spike import recovery_s
from analysis.ideal import ideal_rps
from analysis.tables import SCENARIO_CSVS, write_tables
from runformat import SCHEMA_VERSION
from runformat.records import SAMPLE_COLUMNS

T0 = 1795376400.0  # every window starts here
MIB = 2**20
Hist = dict[str, int]


def one_bucket(ms: float, count: int) -> Hist:
    """A histogram whose every request took `ms` (so p50 = p99 = ms)."""
    return {str(round(ms * 100)): count} if count else {}


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def stack_json(stack: str, workers: int) -> dict[str, Any]:
    return {"stack": stack, "app": "fastapi", "framework": "fastapi", "server": "uvicorn", "worker": "uvloop",
            "interface": "asgi", "variant": "uvicorn", "configuration": "default", "workers": workers,
            "cpus": [1], "start": {"status": "ok", "ready_s": 0.4, "reason": None},
            "verify": {"status": "ok", "findings": []}}


def samples_csv(path: Path, seconds: float, rss: Any = lambda t: 100 * MIB) -> None:
    """Two samples a second from 1 s before the window to 1 s after it; rss(t from the window start)."""
    rows = [",".join(SAMPLE_COLUMNS)]
    for i in range(int((seconds + 2) * 2) + 1):
        t = -1.0 + i / 2
        cpu = max(0.0, t + 1) * 0.5
        rows.append(f"{T0 + t},{cpu},{rss(t)},1,{cpu},0.0,{2 * cpu}")
    path.write_text("\n".join(rows) + "\n")


def write_cell(run: Path, stack: str, scenario: str, endpoint: str, concurrency: int, seconds: float,
               requests: dict[str, dict[str, Any]], extra: dict[str, Any] | None = None,
               rss: Any = lambda t: 100 * MIB) -> None:
    cell = run / "stacks" / stack / f"{scenario}-c{concurrency}-r0"
    write_json(cell / "phases.json", {"primer": T0 - 2, "warmup": T0 - 1, "measure": T0, "end": T0 + seconds,
                                      "users": concurrency})
    write_json(cell / "latency.json", {"bucket_ms": 0.01, "window": [T0, T0 + seconds], "requests": requests,
                                       **(extra or {})})
    samples_csv(cell / "samples.csv", seconds, rss)
    write_json(cell / "cell.json", {"stack": stack, "scenario": scenario, "endpoint": endpoint,
                                    "concurrency": concurrency, "repeat": 0, "status": "ok", "reason": None,
                                    "loadgen_cpus": [0], "loadgen_processes": 1})


def stage(name: str, users: int, start: float, end: float, count: int, failures: int, p99: float) -> dict[str, Any]:
    return {"name": name, "users": users, "start": T0 + start, "end": T0 + end, "count": count,
            "failures": failures, "hist": one_bucket(p99, count)}


def series(p99s: Sequence[float], completed: list[int] | None = None) -> dict[str, Any]:
    done = completed or [100] * len(p99s)
    return {"slot_s": 1.0, "completed": done, "failures": [0] * len(done), "p50_ms": [p / 2 for p in p99s],
            "p99_ms": list(p99s)}


def totals(stages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    hist: Hist = {}
    for st in stages:
        for k, v in st["hist"].items():
            hist[k] = hist.get(k, 0) + v
    return {"/json": {"count": sum(s["count"] for s in stages), "failures": sum(s["failures"] for s in stages),
                      "hist": hist}}


RAMP_STEPS = [  # 2 s each: 100, 190, 350, 360 req/s; p99 crosses the 100 ms SLO at step 4
    stage("step-1", 2, 0, 2, 200, 0, 5.0), stage("step-2", 4, 2, 4, 380, 0, 10.0),
    stage("step-3", 8, 4, 6, 700, 0, 40.0), stage("step-4", 16, 6, 8, 720, 0, 212.0)]
STOPPED = "step 4 (16 users): p99 212.0 ms > 100 ms"
BEFORE_P99 = 10.0  # spike: back when a slot's p99 <= 15 ms, and the next one too
SPIKE_STAGES = [stage("before", 8, 0, 3, 300, 0, BEFORE_P99), stage("spike", 80, 3, 5, 400, 20, 300.0),
                stage("after", 8, 5, 10, 500, 0, 12.0)]
RECOVERS = [10, 10, 10, 300, 300, 200, 100, 12, 11, 10]  # slots 7 and 8 good: 2 s after the spike's end (5 s)
NEVER = [10, 10, 10, 300, 300, 200, 100, 12, 40, 30]  # slot 7 good alone, then bad again
SOAK_S = 60
RATES = [100 + i for i in range(SOAK_S)]  # +1 req/s every second: +3600 req/s per hour


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("scenarios") / "20261124-000000"
    stacks = {"fastapi-uvicorn": 1, "soak-stack": 2, "scale-w1": 1, "scale-w2": 2}
    write_json(run / "run.json", {
        "schema_version": SCHEMA_VERSION, "run_id": run.name, "started_at": T0 - 60, "finished_at": T0 + 600,
        "git": {"sha": "abc", "dirty": False}, "host": {"cpu_count": 2}, "packages": {},
        "settings": {"scenarios": ["ramp"], "concurrency": [32], "duration_s": 8.0, "warmup_s": 1.0,
                     "primer_s": 1.0, "repeat": 1, "server_cpus": [1], "loadgen_cpus": [0], "workers": [1, 2],
                     "loadgen_processes": 1, "database": "sqlite (per run)", "target": None},
        "stacks": sorted(stacks)})
    for stack, workers in stacks.items():
        write_json(run / "stacks" / stack / "stack.json", stack_json(stack, workers))
    s = "fastapi-uvicorn"
    write_cell(run, s, "ramp", "/json", 32, 8, totals(RAMP_STEPS),
               {"shape": {"kind": "ramp", "slo_p99_ms": 100, "max_error_pct": 1, "stopped": STOPPED,
                          "stages": RAMP_STEPS}, "series": series([5, 5, 10, 10, 40, 40, 212, 212])})
    for name, p99s in (("spike", RECOVERS), ("spike-never", NEVER)):
        write_cell(run, s, name, "/json", 8, 10, totals(SPIKE_STAGES),
                   {"shape": {"kind": "spike", "stages": SPIKE_STAGES}, "series": series(p99s)})
    write_cell(run, "soak-stack", "soak", "/json", 8, SOAK_S,
               {"/json": {"count": sum(RATES), "failures": 0, "hist": one_bucket(3.0, sum(RATES))}},
               {"shape": {"kind": "soak", "stages": []}, "series": series([3.0] * SOAK_S, RATES)},
               rss=lambda t: 100 * MIB + 10 * MIB * min(max(t, 0.0), SOAK_S) / SOAK_S)
    write_cell(run, s, "io-bound-10ms", "/io?ms=10", 64, 5,
               {"/io?ms=10": {"count": 3000, "failures": 0, "hist": one_bucket(100.0, 3000)}})
    write_cell(run, s, "payload-10k", "/stream?kb=10", 8, 5,
               {"/stream?kb=10": {"count": 1000, "failures": 0, "bytes": 1000 * 10240,
                                  "hist": one_bucket(2.0, 1000)}})
    write_cell(run, s, "mix", "/json", 16, 10, {
        "/json": {"count": 600, "failures": 0, "hist": one_bucket(2.0, 600)},
        "/db": {"count": 300, "failures": 0, "hist": one_bucket(8.0, 300)},
        "/fortunes": {"count": 100, "failures": 0, "hist": one_bucket(20.0, 100)},
        "/echo": {"count": 100, "failures": 5, "hist": one_bucket(4.0, 100)}})
    corrected = {"count": 2500, "hist": {**one_bucket(3.0, 2000), **one_bucket(50.0, 500)}}
    write_cell(run, s, "open-json", "/json", 64, 5,
               {"/json": {"count": 2500, "failures": 0, "hist": one_bucket(2.0, 2500)}},
               {"open": {"offered_rate": 500.0, "sent": 2500, "missed": 0, "late": 40, "corrected": corrected}})
    for stack, count in (("scale-w1", 5000), ("scale-w2", 9000)):  # 1000 and 1800 req/s: efficiency 0.9
        write_cell(run, stack, "json", "/json", 32, 5,
                   {"/json": {"count": count, "failures": 0, "hist": one_bucket(2.0, count)}})
    return run


@pytest.fixture(scope="module")
def analysis(run_dir: Path) -> Analysis:
    return analyze(run_dir)


def figures_of(analysis: Analysis, scenario: str) -> dict[str, tuple[float, str | None]]:
    f = analysis.figures[analysis.figures["scenario"] == scenario]
    return {r["figure"]: (r["value"], r["note"]) for r in f.to_dict("records")}


def cell(frame: pd.DataFrame, scenario: str) -> pd.Series:
    match = frame[frame["scenario"] == scenario]
    assert len(match) == 1
    return match.iloc[0]


# -- the new columns -----------------------------------------------------------------------

def test_scenario_columns_are_appended_last_everywhere(analysis: Analysis) -> None:
    assert list(analysis.frame.columns[-len(SCENARIO_COLUMNS):]) == SCENARIO_COLUMNS
    assert SUMMARY_COLUMNS[-len(SCENARIO_COLUMNS):] == SCENARIO_COLUMNS
    assert AGG_COLUMNS[-len(SCENARIO_COLUMNS):] == SCENARIO_COLUMNS
    assert list(analysis.aggregate.columns) == AGG_COLUMNS


def test_workers_come_from_stack_json(analysis: Analysis) -> None:
    assert cell(analysis.frame, "soak")["workers"] == 2
    assert cell(analysis.frame, "ramp")["workers"] == 1
    agg = analysis.aggregate.set_index("scenario")
    assert agg.loc["soak", "workers"] == 2 and str(analysis.aggregate["workers"].dtype) == "Int64"


def test_io_cell_has_its_ideal_and_share_of_it(analysis: Analysis) -> None:
    row = cell(analysis.frame, "io-bound-10ms")
    assert row["rps"] == 600.0 and row["ideal_rps"] == 6400.0  # 64 users / 10 ms
    assert figures_of(analysis, "io-bound-10ms") == {"ideal_rps": (6400.0, None), "ideal_pct": (9.375, None)}
    assert math.isnan(cell(analysis.frame, "ramp")["ideal_rps"])


def test_ideal_only_for_closed_io_cells() -> None:
    assert ideal_rps("/io?ms=100", 256, open_model=False) == 2560.0
    assert math.isnan(ideal_rps("/io?ms=10", 64, open_model=True))
    assert math.isnan(ideal_rps("/json", 64, open_model=False))
    assert math.isnan(ideal_rps("/io?ms=0", 64, open_model=False))


def test_payload_mb_per_s(analysis: Analysis) -> None:
    row = cell(analysis.frame, "payload-10k")
    assert row["rps"] == 200.0 and row["bytes_per_req"] == 10240.0
    assert row["mb_per_s"] == pytest.approx(2.048)  # 200 x 10240 / 1e6


def test_open_cell_corrected_percentiles_exceed_the_measured_ones(analysis: Analysis) -> None:
    row = cell(analysis.frame, "open-json")
    assert (row["p50_ms"], row["p99_ms"]) == (2.0, 2.0)
    assert (row["co_p50_ms"], row["co_p90_ms"], row["co_p99_ms"]) == (3.0, 50.0, 50.0)  # 500 of 2500 at 50 ms
    assert math.isnan(row["ideal_rps"])
    assert math.isnan(cell(analysis.frame, "ramp")["co_p99_ms"])  # no corrected histogram: NaN


# -- ramp --------------------------------------------------------------------------------------

def test_ramp_knee_is_the_step_before_the_slo_is_crossed(analysis: Analysis) -> None:
    got = figures_of(analysis, "ramp")
    values = {k: v for k, (v, _) in got.items()}
    assert values["capacity_rps"] == 360.0 and values["steps_run"] == 4 and values["slo_p99_ms"] == 100.0
    assert (values["knee_users"], values["knee_rps"], values["knee_p99_ms"]) == (8.0, 350.0, 40.0)
    # p99 on the (rps, p99) line: 180 req/s between (100, 5) and (190, 10); 288 and 342 between (190, 10), (350, 40)
    assert values["p99_at_50pct_ms"] == pytest.approx(5 + 80 / 90 * 5)
    assert values["p99_at_80pct_ms"] == pytest.approx(10 + 98 / 160 * 30)
    assert values["p99_at_95pct_ms"] == pytest.approx(10 + 152 / 160 * 30)
    assert all(STOPPED in (note or "") for _, note in got.values())


def test_ramp_stages_table(analysis: Analysis) -> None:
    st = analysis.stages[analysis.stages["scenario"] == "ramp"]
    assert list(st.columns) == STAGE_COLUMNS
    assert st["stage"].tolist() == ["step-1", "step-2", "step-3", "step-4"]
    assert st["index"].tolist() == [1, 2, 3, 4] and st["users"].tolist() == [2, 4, 8, 16]
    assert st["start_s"].tolist() == [0.0, 2.0, 4.0, 6.0] and st["rps"].tolist() == [100.0, 190.0, 350.0, 360.0]
    assert st["p99_ms"].tolist() == [5.0, 10.0, 40.0, 212.0]


def test_ramp_without_a_step_in_the_slo_or_under_the_first_step() -> None:
    steps = [{"users": u, "rps": r, "p99_ms": p, "error_pct": 0.0}
             for u, r, p in ((4, 300.0, 150.0), (8, 320.0, 180.0), (16, 330.0, 300.0))]
    got = {r["figure"]: r for r in ramp_figures({}, steps, {"kind": "ramp", "slo_p99_ms": 100, "stages": []})}
    assert math.isnan(got["knee_users"]["value"]) and got["knee_users"]["note"]
    assert math.isnan(got["p99_at_50pct_ms"]["value"]) and got["p99_at_50pct_ms"]["note"] == "below the first step"
    assert got["p99_at_95pct_ms"]["value"] == pytest.approx(150 + (313.5 - 300) / 20 * 30)


def test_a_ramp_that_never_reached_its_limits_says_the_knee_is_at_or_above_the_top() -> None:
    steps = [{"users": u, "rps": r, "p99_ms": p, "error_pct": 0.0}
             for u, r, p in ((4, 300.0, 5.0), (8, 320.0, 9.0), (16, 330.0, 20.0))]
    got = {r["figure"]: r for r in ramp_figures({}, steps, {"kind": "ramp", "slo_p99_ms": 100, "stages": []})}
    assert got["knee_users"]["value"] == 16 and "at or above the top step" in got["knee_users"]["note"]
    within = steps[:2] + [{"users": 16, "rps": 330.0, "p99_ms": 120.0, "error_pct": 0.0}]
    crossed = {r["figure"]: r for r in ramp_figures({}, within, {"kind": "ramp", "slo_p99_ms": 100, "stages": []})}
    assert crossed["knee_users"]["value"] == 8 and crossed["knee_users"]["note"] is None


# -- spike ------------------------------------------------------------------------------------

def test_spike_recovers_two_slots_after_its_end(analysis: Analysis) -> None:
    got = figures_of(analysis, "spike")
    assert got["before_p99_ms"][0] == 10.0 and got["spike_p99_ms"][0] == 300.0 and got["after_p99_ms"][0] == 12.0
    assert got["spike_errors"][0] == 20 and got["spike_error_pct"][0] == 5.0
    assert got["recovery_s"] == (2.0, None)


def test_spike_that_never_recovers(analysis: Analysis) -> None:
    value, note = figures_of(analysis, "spike-never")["recovery_s"]
    assert math.isnan(value) and note == "not back within the window"


def test_a_slot_straddling_the_spike_end_does_not_count() -> None:
    slots = [{"t_s": float(i), "p99_ms": p} for i, p in enumerate([10, 10, 10, 300, 10, 10, 10])]
    assert recovery_s(slots, 3.5, 10.0) == 0.5  # slot 3 is the spike; slot 4 (from 4 s) is the first counted
    slots[4]["p99_ms"] = 100
    assert recovery_s(slots, 3.5, 10.0) == 1.5


# -- soak -------------------------------------------------------------------------------------

def test_soak_slopes(analysis: Analysis) -> None:
    got = {k: v for k, (v, _) in figures_of(analysis, "soak").items()}
    assert got["rss_mb_per_h"] == pytest.approx(600.0)  # 10 MB in 60 s
    assert got["rss_mb_per_h_per_worker"] == pytest.approx(300.0)  # 2 workers
    assert (got["rss_start_mb"], got["rss_end_mb"]) == (pytest.approx(100.0), pytest.approx(110.0))
    assert got["rps_drift_pct_per_h"] == pytest.approx(3600 / (sum(RATES) / SOAK_S) * 100)
    assert got["error_drift_pts_per_h"] == 0.0


def test_series_table_of_shaped_cells_only(analysis: Analysis) -> None:
    s = analysis.series
    assert list(s.columns) == SERIES_COLUMNS
    assert set(s["scenario"]) == {"ramp", "spike", "spike-never", "soak"}
    soak = s[s["scenario"] == "soak"]
    assert len(soak) == SOAK_S and soak["t_s"].tolist()[:3] == [0.0, 1.0, 2.0]
    assert soak["rps"].tolist() == [float(r) for r in RATES]
    # the slot's highest sample: RSS at t + 0.5 s (two samples a slot, growing)
    assert soak["rss_mb"].iloc[0] == pytest.approx(100 + 10 * 0.5 / 60)


# -- mix --------------------------------------------------------------------------------------

def test_mix_endpoints_table(analysis: Analysis) -> None:
    e = analysis.endpoints
    assert list(e.columns) == ENDPOINT_COLUMNS and set(e["scenario"]) == {"mix"}
    by = e.set_index("name")
    assert by.loc["/json", "share_pct"] == pytest.approx(600 / 1100 * 100)
    assert by.loc["/json", "rps"] == 60.0 and by.loc["/fortunes", "p99_ms"] == 20.0
    assert by.loc["/echo", "errors"] == 5 and by.loc["/echo", "error_pct"] == 5.0
    assert by["share_pct"].sum() == pytest.approx(100.0)


# -- the tables on disk -----------------------------------------------------------------------

def test_scaling_is_on_the_analysis(analysis: Analysis) -> None:
    sc = analysis.scaling
    assert list(sc.columns) == SCALING_COLUMNS
    two = sc[sc["stack"] == "scale-w2"].iloc[0]
    assert two["base"] == "scale-w1" and two["efficiency"] == pytest.approx(0.9) and two["server_cpus"] == 1


def test_companion_csvs_are_written_with_their_columns(analysis: Analysis, run_dir: Path) -> None:
    write_tables(analysis)
    for name, (_, columns) in SCENARIO_CSVS.items():
        assert list(pd.read_csv(run_dir / name).columns) == columns, name
    figures = pd.read_csv(run_dir / "figures.csv")
    assert list(figures.columns) == FIGURE_COLUMNS
    assert list(pd.read_csv(run_dir / "summary.csv").columns) == SUMMARY_COLUMNS


def test_littles_law_counts_think_time_and_skips_changing_users() -> None:
    """users = throughput x (latency + think time): 32 users, 200 req/s, 10 ms answers and 150 ms thinking."""
    from analysis.cell import cell_littles_ratio

    base: dict[str, Any] = {"requests": {}}
    assert cell_littles_ratio({**base, "think_ms": 150.0}, 32, 200.0, 10.0) == pytest.approx(1.0)  # type: ignore[arg-type]
    assert cell_littles_ratio(base, 32, 200.0, 10.0) == pytest.approx(16.0)  # type: ignore[arg-type]
    for kind in ("ramp", "spike"):
        shaped = {**base, "shape": {"kind": kind, "stages": []}}
        assert math.isnan(cell_littles_ratio(shaped, 32, 200.0, 10.0))  # type: ignore[arg-type]
    soak = {**base, "shape": {"kind": "soak", "stages": []}, "think_ms": 150.0}
    assert cell_littles_ratio(soak, 32, 200.0, 10.0) == pytest.approx(1.0)  # type: ignore[arg-type]
