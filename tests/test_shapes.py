"""Shapes of the measured window as pure data (scenarios/shapes.py, scenarios/series.py) and the merging of
their blocks across processes (runformat/latency.py). Real Locust runs of every shape are the lead's
end-to-end test; these are the rules, checked exactly."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from runformat.latency import merge_latency, merge_reports
from runformat.records import LatencyFile, Series, ShapeBlock, StageStats
from scenarios.series import WindowAccounting
from scenarios.shapes import (
    StagePlan,
    hist_percentile,
    ramp_levels,
    ramp_stop,
    series_slot_s,
    slot_count,
    stage_at,
    stage_plan,
    without_shape_options,
)


def test_a_ramp_doubles_up_to_its_top_in_equal_steps() -> None:
    plan = stage_plan("ramp", 256, 60.0, steps=6)
    assert [s.users for s in plan] == [8, 16, 32, 64, 128, 256]
    assert [s.name for s in plan] == [f"step-{k}" for k in range(1, 7)]
    assert [(s.start, s.end) for s in plan] == [(10.0 * i, 10.0 * (i + 1)) for i in range(6)]


def test_a_ramp_rounds_up_and_merges_equal_levels() -> None:
    assert ramp_levels(100, 4) == [13, 25, 50, 100]  # ceil(12.5), 25, 50, 100
    assert ramp_levels(8, 6) == [1, 2, 4, 8]  # 8/32 and 8/16 round up to 1 and merge with 8/8
    assert ramp_levels(1, 6) == [1]
    plan = stage_plan("ramp", 8, 6.0, steps=6)
    assert [(s.users, s.start, s.end) for s in plan] == [(1, 0.0, 1.5), (2, 1.5, 3.0), (4, 3.0, 4.5), (8, 4.5, 6.0)]


def test_a_spike_is_30_20_50_percent_of_the_window_at_one_ten_one() -> None:
    plan = stage_plan("spike", 8, 100.0, factor=10)
    assert plan == [StagePlan("before", 8, 0.0, 30.0), StagePlan("spike", 80, 30.0, 50.0),
                    StagePlan("after", 8, 50.0, 100.0)]


@pytest.mark.parametrize("kind", ["steady", "soak"])
def test_steady_and_soak_have_no_stages(kind: str) -> None:
    assert stage_plan(kind, 32, 3600.0) == []


def test_stage_at_finds_the_stage_of_an_offset_and_keeps_the_last_past_the_end() -> None:
    plan = stage_plan("spike", 4, 10.0)
    assert [stage_at(plan, t) for t in (0.0, 2.99, 3.0, 4.99, 5.0, 9.99, 10.0, 12.0)] == [0, 0, 1, 1, 2, 2, 2, 2]


def test_series_slots_are_one_second_up_to_600_and_longer_beyond() -> None:
    assert [series_slot_s(s) for s in (1, 6, 600, 601, 3600, 7200)] == [1.0, 1.0, 1.0, 2.0, 6.0, 12.0]
    assert slot_count(6.0067, 1.0) == 6  # a window closed on a tick, a few ms long
    assert slot_count(6.5, 1.0) == 7 and slot_count(0.2, 1.0) == 1


def test_hist_percentile_is_nearest_rank_at_the_lower_edge() -> None:
    hist = {100: 98, 5000: 1, 20000: 1}  # 1 ms x 98, 50 ms, 200 ms
    assert hist_percentile(hist, 50) == 1.0
    assert hist_percentile(hist, 99) == 50.0
    assert hist_percentile(hist, 100) == 200.0
    assert hist_percentile({}, 99) is None


def test_the_ramp_stops_on_p99_over_its_slo_or_errors_over_their_limit() -> None:
    step = StagePlan("step-4", 16, 3.0, 4.0)
    assert ramp_stop(step, 3, 212.34, 0.0, 100, 1) == "step 4 (16 users): p99 212.3 ms > 100 ms"
    assert ramp_stop(step, 3, 50.0, 2.5, 100, 1) == "step 4 (16 users): errors 2.5% > 1%"
    assert ramp_stop(step, 3, 100.0, 1.0, 100, 1) is None  # at the limit is within it
    assert ramp_stop(step, 3, 900.0, 90.0, None, None) is None  # no limits: the ramp runs every step


def _opts(**kw: Any) -> SimpleNamespace:
    base = {"shape": "ramp", "phase_users": 8, "phase_measure": 6.0, "ramp_steps": 6, "spike_factor": 10.0,
            "slo_p99_ms": 100.0, "max_error_pct": 1.0}
    return SimpleNamespace(**{**base, **kw})


def test_accounting_of_a_ramp_stops_after_the_step_over_its_slo() -> None:
    acc = WindowAccounting()
    acc.configure(_opts())
    assert (acc.first_users(8), acc.slot_s) == (1, 1.0)
    acc.open(1000.0)
    for _ in range(100):
        acc.add(0.5, 100, False)  # step 1: 1 ms
    assert acc.advance(1.6, 1001.6) and acc.current == 1 and acc.users_now(8) == 2
    for _ in range(99):
        acc.add(2.0, 100, False)
    acc.add(2.5, 30000, True)  # one failure of 300 ms in step 2: 1% errors, p99 1 ms
    assert acc.advance(3.1, 1003.1) and acc.current == 2
    for _ in range(10):
        acc.add(3.5, 25000, False)  # step 3: 250 ms
    assert not acc.advance(4.6, 1004.6)
    assert acc.stopped == "step 3 (4 users): p99 250.0 ms > 100 ms"
    acc.close(1004.6)
    shape = acc.shape()
    assert shape is not None and shape["kind"] == "ramp" and shape["stopped"] == acc.stopped
    assert [(s["name"], s["users"], s["count"], s["failures"]) for s in shape["stages"]] == [
        ("step-1", 1, 100, 0), ("step-2", 2, 100, 1), ("step-3", 4, 10, 0)]
    assert [(s["start"], s["end"]) for s in shape["stages"]] == [(1000.0, 1001.6), (1001.6, 1003.1),
                                                                 (1003.1, 1004.6)]
    series = acc.series(1000.0, 1004.6)
    assert series["completed"] == [100, 0, 100, 10, 0] and series["failures"] == [0, 0, 1, 0, 0]
    assert series["p99_ms"][2:4] == [1.0, 250.0] and series["p50_ms"][1] is None


def test_accounting_of_a_steady_window_has_a_series_and_no_shape() -> None:
    acc = WindowAccounting()
    acc.configure(_opts(shape="steady"))
    acc.open(0.0)
    acc.add(0.2, 50, False)
    acc.add(1.999, 70, False)
    acc.add(2.001, 90, True)  # the window's last few ms: folded into the last slot
    assert acc.shape() is None and acc.plan == []
    assert acc.series(0.0, 2.004) == {"slot_s": 1.0, "completed": [1, 2], "failures": [0, 1],
                                      "p50_ms": [0.5, 0.7], "p99_ms": [0.5, 0.9]}


def test_a_tick_past_a_short_step_skips_it_instead_of_judging_it_empty() -> None:
    acc = WindowAccounting()
    acc.configure(_opts(phase_users=64, phase_measure=3.0))  # 6 steps of 0.5 s, ticks about 1 s apart
    acc.open(0.0)
    acc.add(0.3, 100, False)
    assert acc.advance(1.01, 1.01) and acc.current == 2
    acc.close(3.0)
    shape = acc.shape()
    assert shape is not None and [(s["name"], s["users"]) for s in shape["stages"]] == [("step-1", 2), ("step-3", 8)]


def test_a_soak_writes_its_kind_and_no_stages() -> None:
    acc = WindowAccounting()
    acc.configure(_opts(shape="soak", phase_measure=3600.0))
    acc.open(0.0)
    assert acc.shape() == {"kind": "soak", "stages": []} and acc.slot_s == 6.0


def test_workers_follow_the_planned_switch_times() -> None:
    acc = WindowAccounting()
    acc.configure(_opts(shape="spike", phase_measure=10.0))
    assert acc.follow_at(500.0) == [(503.0, 1), (505.0, 2)]
    assert acc.planned_users(4.0, 8) == 80 and acc.planned_users(6.0, 8) == 8


def test_shape_options_are_left_out_for_a_locustfile_without_phases() -> None:
    args = ["--shape", "soak", "--think-ms", "10", "--spike-factor=3", "--ramp-steps", "4"]
    assert without_shape_options(args) == ["--think-ms", "10"]


# ---- merging the blocks of several processes -------------------------------------------------------------

def _stage(name: str, users: int, count: int, failures: int, hist: dict[str, int]) -> StageStats:
    return {"name": name, "users": users, "start": 1.0, "end": 2.0, "count": count, "failures": failures,
            "hist": hist}


def _part(stages: list[StageStats], series: Series, stopped: str | None = None,
          corrected: dict[str, int] | None = None) -> LatencyFile:
    shape: ShapeBlock = {"kind": "ramp", "slo_p99_ms": 100.0, "max_error_pct": 1.0, "stopped": stopped,
                         "stages": stages}
    part: dict[str, Any] = {"requests": {"/json": {"count": sum(s["count"] for s in stages), "failures": 0,
                                                   "hist": {}}},
                            "shape": shape, "series": series}
    if corrected is not None:
        part["open"] = {"offered_rate": 100.0, "sent": 3, "missed": 1, "late": 0,
                        "corrected": {"count": sum(corrected.values()), "hist": corrected}}
    return cast(LatencyFile, part)


A = _part([_stage("step-1", 2, 10, 1, {"100": 10}), _stage("step-2", 4, 5, 0, {"200": 5})],
          {"slot_s": 1.0, "completed": [10, 5], "failures": [1, 0], "p50_ms": [1.0, 2.0], "p99_ms": [1.0, 2.0]},
          corrected={"100": 2, "300": 1})
B = _part([_stage("step-1", 2, 30, 0, {"100": 20, "400": 10})],
          {"slot_s": 1.0, "completed": [30, 0, 4], "failures": [0, 0, 2], "p50_ms": [3.0, None, 5.0],
           "p99_ms": [4.0, None, 6.0]}, stopped="step 2 (4 users): p99 200.0 ms > 100 ms",
          corrected={"100": 1, "500": 2})


def test_merge_adds_stages_by_index_and_keeps_the_first_stop() -> None:
    merged = merge_latency([A, B])
    assert merged is not None
    shape = merged["shape"]
    assert [(s["name"], s["users"], s["count"], s["failures"], s["hist"]) for s in shape["stages"]] == [
        ("step-1", 2, 40, 1, {"100": 30, "400": 10}), ("step-2", 4, 5, 0, {"200": 5})]
    assert shape["stopped"] == "step 2 (4 users): p99 200.0 ms > 100 ms"
    assert (shape["kind"], shape["slo_p99_ms"]) == ("ramp", 100.0)


def test_merge_adds_series_slots_with_approximate_percentiles() -> None:
    merged = merge_latency([A, B])
    assert merged is not None
    assert merged["series"] == {"slot_s": 1.0, "completed": [40, 5, 4], "failures": [1, 0, 2],
                                "p50_ms": [2.5, 2.0, 5.0],  # (10 x 1.0 + 30 x 3.0) / 40
                                "p99_ms": [4.0, 2.0, 6.0]}


def test_merge_adds_the_corrected_histograms_of_the_open_model() -> None:
    merged = merge_latency([A, B])
    assert merged is not None
    assert merged["open"]["corrected"] == {"count": 6, "hist": {"100": 3, "300": 1, "500": 2}}
    assert (merged["open"]["sent"], merged["open"]["missed"]) == (6, 2)


def test_a_distributed_master_merges_its_workers_shapes() -> None:
    master = _part([], {"slot_s": 1.0, "completed": [0, 0], "failures": [0, 0], "p50_ms": [None, None],
                        "p99_ms": [None, None]})
    merged = merge_reports(master, {"w2": B, "w1": A})
    assert [s["count"] for s in merged["shape"]["stages"]] == [40, 5]
    assert merged["series"]["completed"] == [40, 5, 4]
    assert [w["worker"] for w in merged["workers"]] == ["w1", "w2"]


def test_a_stage_shorter_than_locusts_tick_is_warned_with_the_window_it_needs() -> None:
    from scenarios.shapes import stage_warning

    ramp = ["--shape", "ramp", "--ramp-steps", "6"]
    warned = stage_warning(ramp, 32, 4)
    assert warned is not None and warned.startswith("ramp: its shortest stage lasts 0.7 s")
    assert "--duration 13" in warned
    assert stage_warning(ramp, 32, 13) is None  # what it asked for is enough
    assert stage_warning(["--shape=spike"], 32, 4) is not None and stage_warning(["--shape", "spike"], 32, 15) is None
    assert stage_warning(["--shape", "soak"], 32, 1) is None and stage_warning([], 32, 1) is None  # one stage


def test_a_series_slot_keeps_two_significant_digits_and_exact_values_under_a_millisecond() -> None:
    from scenarios.shapes import coarse_bucket

    assert [coarse_bucket(b) for b in (0, 7, 99)] == [0, 7, 99]  # under 1 ms: every 10 us bucket
    assert [coarse_bucket(b) for b in (100, 123, 999, 1234, 98765)] == [100, 120, 990, 1200, 98000]
    # up to 10 s: 100 exact buckets under 1 ms, then 90 a decade; bounded, whatever the latencies
    assert len({coarse_bucket(b) for b in range(1_000_000)}) == 100 + 4 * 90
