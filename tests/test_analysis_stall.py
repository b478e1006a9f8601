"""Stall detection (issue 9): a gap in completions while users wait is a flag, never a clean p99.

Locust's closed model only times requests that complete, so a server frozen for most of the window
still shows a fine p99. latency.json's "timeline" (requests completed per 0.1 s slot of the window)
shows the gap; the expected gaps below are counted by hand from make_golden.py's timelines.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from analysis import flags
from analysis.analyze import analyze
from analysis.flags import FLAG_RULES, STALL_MIN_S, STALL_P50_FACTOR, stall_threshold_s, stalled
from analysis.hist import longest_gap_s
from analysis.tables import write_tables
from analysis.tidy import tidy_frame
from golden_runs import CLEAN, GOLDEN, SWEEP, cell_row, copy_run, golden_thresholds, row  # noqa: F401

STALLED = "django-asgi-uvicorn"  # r0: nothing completed in slots 4-6 (0.3 s) and 10-26 (1.7 s)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return tidy_frame(GOLDEN)


def set_timeline(run: Path, stack: str, repeat: int, completed: list[int]) -> None:
    path = run / "stacks" / stack / f"json-c8-r{repeat}" / "latency.json"
    latency = json.loads(path.read_text())
    latency["timeline"] = {"slot_s": 0.1, "completed": completed}
    path.write_text(json.dumps(latency))


# -- the rule ---------------------------------------------------------------------------

def test_longest_gap_counts_consecutive_empty_slots():
    assert longest_gap_s({"slot_s": 0.1, "completed": [5, 0, 0, 5, 0]}) == 0.2
    assert longest_gap_s({"slot_s": 0.1, "completed": [0] * 30}) == 3.0  # frozen for the whole window
    assert longest_gap_s({"slot_s": 0.1, "completed": [1] * 30}) == 0.0
    assert longest_gap_s({"slot_s": 0.1, "completed": [3] * 3 + [0] * 17 + [3]}) == 1.7  # not 1.7000000000000002
    assert math.isnan(longest_gap_s(None))


def test_stall_threshold_is_half_a_second_or_ten_median_latencies():
    assert (STALL_MIN_S, STALL_P50_FACTOR) == (0.5, 10.0)
    assert stall_threshold_s(7.0) == 0.5  # 10 x 7 ms = 0.07 s < 0.5 s
    assert stall_threshold_s(100.0) == 1.0  # a slow stack: 10 x 100 ms
    assert stall_threshold_s(math.nan) == 0.5  # nothing completed: no median
    assert stall_threshold_s(7.0, offered_rps=2.0) == 5.0  # open model at 2 req/s: 10 arrival intervals
    assert stalled(0.5, 7.0) is True and stalled(0.4, 7.0) is False
    assert stalled(0.9, 100.0) is False and stalled(1.0, 100.0) is True
    assert stalled(math.nan, 7.0) is None  # no timeline: unknown


def test_the_rule_in_plain_words_comes_first():
    assert list(FLAG_RULES)[0] == "stalled"
    rule = FLAG_RULES["stalled"]
    assert "no request completed for 0.5 s" in rule and "while users were waiting" in rule
    assert "its latency percentiles only count requests that completed" in rule
    assert flags.ranking_flags({"stalled": True, "generator_bound": True, "littles_off": True}) == \
        "stalled,generator-bound,littles-off"


# -- the golden cells -----------------------------------------------------------------------

def test_the_stalled_cell(df):
    r = row(df, STALLED, 0)
    assert r.max_gap_s == 1.7  # 17 empty slots of 0.1 s; the 0.3 s gap before it is shorter
    assert r.stalled == True  # noqa: E712  1.7 s >= max(0.5 s, 10 x p50 7 ms)
    assert r.p99_ms == 9.0  # the percentiles look fine: only the flag tells


def test_steady_timelines_do_not_stall(df):
    for repeat in (0, 1, 2):
        r = row(df, CLEAN, repeat)
        assert r.max_gap_s == 0.0 and r.stalled == False  # noqa: E712


def test_no_timeline_means_unknown(df):
    r = row(df, "fastapi-uvicorn", 0)  # written before timelines existed
    assert math.isnan(r.max_gap_s) and r.stalled is pd.NA
    failed = row(df, "flask-gunicorn-sync", 1)
    assert math.isnan(failed.max_gap_s) and failed.stalled is pd.NA


def test_worker_timelines_add_up():
    # worker 101 completed nothing in slots 10-14 while worker 102 went on; the master's are all zeros
    r = cell_row(tidy_frame(SWEEP), "fastapi-uvicorn", "json", 32)
    assert r.max_gap_s == 0.0 and r.stalled == False  # noqa: E712


def test_aggregate_and_ranking_carry_the_stall():
    analysis = analyze(GOLDEN)
    agg = analysis.aggregate.set_index("stack")
    assert list(analysis.aggregate.columns[-10:-8]) == ["stalled", "max_gap_s_max"]  # then unsaturated, scenarios
    assert agg.loc[STALLED, "stalled"] == True and agg.loc[STALLED, "max_gap_s_max"] == 1.7  # noqa: E712
    assert agg.loc[CLEAN, "stalled"] == False and agg.loc[CLEAN, "max_gap_s_max"] == 0.0  # noqa: E712
    old = analysis.aggregate[analysis.aggregate["stack"] == "fastapi-uvicorn"].iloc[0]  # no timeline
    assert old["stalled"] is pd.NA and math.isnan(old["max_gap_s_max"])
    assert analysis.ranking.set_index("stack").loc[STALLED, "flags"] == "stalled,littles-off"


def test_one_stalled_repeat_flags_the_group(tmp_path):
    run = copy_run(GOLDEN, tmp_path)
    set_timeline(run, CLEAN, 1, [205] * 10 + [0] * 10 + [410] * 5 + [205] * 5)  # 1.0 s without a completion
    analysis = analyze(run)
    assert row(analysis.frame, CLEAN, 1).stalled == True  # noqa: E712
    agg = analysis.aggregate.set_index("stack").loc[CLEAN]
    assert agg["stalled"] == True and agg["max_gap_s_max"] == 1.0  # noqa: E712
    assert analysis.ranking.set_index("stack").loc[CLEAN, "flags"] == "stalled"


def test_a_server_frozen_for_the_whole_window(tmp_path):
    run = copy_run(GOLDEN, tmp_path)
    set_timeline(run, CLEAN, 0, [0] * 30)
    r = row(analyze(run).frame, CLEAN, 0)
    assert r.max_gap_s == 3.0 and r.stalled == True  # noqa: E712


def test_summary_csv_ends_with_the_stall_columns(tmp_path):
    run = copy_run(GOLDEN, tmp_path)
    back = pd.read_csv(write_tables(analyze(run)))
    assert list(back.columns[-10:-8]) == ["max_gap_s", "stalled"]  # then unsaturated, scenarios
    stalled_row = back[back["stack"] == STALLED].iloc[0]
    assert stalled_row["max_gap_s"] == 1.7 and bool(stalled_row["stalled"]) is True
    old = back[back["stack"] == "fastapi-uvicorn"].iloc[0]
    assert math.isnan(old["max_gap_s"]) and pd.isna(old["stalled"])  # empty fields: no timeline
