"""analysis/ on the hand-checkable golden run tests/data/run-golden (see make_golden.py): one cell's
numbers, the tidy frame, the flags, the repeats' statistics, the aggregate and the ranking.

Expected numbers are worked out by hand from the golden files; the comments show the sums.
Reading and refusing run folders: test_analysis_format.py; tables and report:
test_analysis_report.py; the sweep: test_analysis_sweep.py; stalls: test_analysis_stall.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from analysis.aggregate import aggregate, steadiness
from analysis.columns import (
    AGG_COLUMNS,
    BASE_COLUMNS,
    COLUMNS,
    INTERVAL_COLUMNS,
    RANK_COLUMNS,
    SCENARIO_COLUMNS,
    STALL_COLUMNS,
    SUMMARY_COLUMNS,
    UNSATURATED_COLUMNS,
)
from analysis.flags import NOISY_INTERVAL_FRACTION
from analysis.hist import mean_from_hist, percentile_from_hist
from analysis.ranking import ranking
from analysis.stats import bootstrap_median_interval, coefficient_of_variation
from analysis.tidy import tidy_frame
from golden_runs import CLEAN, GOLDEN, copy_run, golden_thresholds, row  # noqa: F401  (an autouse fixture)
from runformat.latency import merge_hists


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return tidy_frame(GOLDEN)


@pytest.fixture
def run_copy(tmp_path: Path) -> Path:
    return copy_run(GOLDEN, tmp_path)


# -- histogram helpers --------------------------------------------------------

def test_percentile_nearest_rank_lower_edge():
    hist = {100: 1, 200: 2, 300: 7}  # 10 responses: 1.00 ms x1, 2.00 x2, 3.00 x7
    assert percentile_from_hist(hist, 0.0) == 1.00  # rank max(1, 0) = 1
    assert percentile_from_hist(hist, 0.10) == 1.00  # rank 1
    assert percentile_from_hist(hist, 0.11) == 2.00  # rank ceil(1.1) = 2
    assert percentile_from_hist(hist, 0.30) == 2.00  # rank 3
    assert percentile_from_hist(hist, 0.31) == 3.00  # rank 4
    assert percentile_from_hist(hist, 1.0) == 3.00


def test_percentile_exact_to_the_bucket_and_order_free():
    assert percentile_from_hist({412: 3, 413: 10}, 0.5) == 4.13
    assert percentile_from_hist({"413": 10, "412": 3}, 0.2) == 4.12  # JSON string keys, any order
    assert percentile_from_hist({7: 1}, 0.999) == 0.07


def test_percentile_float_noise_does_not_shift_rank():
    # 0.07 * 100 = 7.000000000000001 in floating point; the rank must still be 7, not 8.
    hist = {100: 7, 200: 93}
    assert percentile_from_hist(hist, 0.07) == 1.00
    assert percentile_from_hist(hist, 0.08) == 2.00


def test_percentile_empty_and_bad_q():
    assert math.isnan(percentile_from_hist({}, 0.5))
    assert math.isnan(percentile_from_hist({100: 0}, 0.5))
    with pytest.raises(ValueError):
        percentile_from_hist({100: 1}, 99)


def test_mean_and_merge():
    assert mean_from_hist({100: 1, 300: 1}) == 2.0
    assert math.isnan(mean_from_hist({}))
    assert merge_hists([{"1": 2, "5": 1}, {1: 3}]) == {1: 5, 5: 1}


# -- tidy_frame on the golden run ---------------------------------------------

def test_columns_exact(df):
    assert list(df.columns) == COLUMNS == BASE_COLUMNS + STALL_COLUMNS + UNSATURATED_COLUMNS + SCENARIO_COLUMNS


def test_one_row_per_finished_cell_unfinished_absent(df):
    # fastapi r1 has phases.json and latency.json but no cell.json: unfinished, so absent.
    assert sorted(zip(df["stack"], df["repeat"], strict=True)) == [
        ("django-asgi-uvicorn", 0),
        ("fastapi-hypercorn", 0), ("fastapi-hypercorn", 1), ("fastapi-hypercorn", 2),
        ("fastapi-uvicorn", 0),
        ("flask-gunicorn-gthread", 0), ("flask-gunicorn-gthread", 1), ("flask-gunicorn-gthread", 2),
        ("flask-gunicorn-sync", 0), ("flask-gunicorn-sync", 1),
        ("flask-uwsgi", 0)]
    assert "django-wsgi-uwsgi" not in set(df["stack"])  # verify failed: never measured


def test_fastapi_numbers_by_hand(df):
    r = row(df, "fastapi-uvicorn", 0)
    assert (r.framework, r.server, r.worker, r.interface) == ("fastapi", "uvicorn", "uvloop", "asgi")
    assert (r.scenario, r.endpoint, r.concurrency, r.status) == ("json", "/json", 8, "ok")
    assert r.requests == 12000 and r.errors == 0 and r.error_pct == 0.0
    assert r.duration_s == 3.0  # end - measure = (base+5.5) - (base+2.5)
    assert r.rps == 4000.0  # 12000 / 3
    # hist {150:1200, 180:4800, 200:3600, 250:1800, 400:480, 900:120}
    assert r.p50_ms == 1.80  # rank 6000: cumulative 1200, 6000
    assert r.p90_ms == 2.50  # rank 10800: ..., 9600, 11400
    assert r.p99_ms == 4.00  # rank 11880: 11400, 11880
    assert r.p999_ms == 9.00  # rank 11988
    assert r.mean_ms == pytest.approx(2.095)  # 2,514,000 / 12000 / 100
    # server_cpu_s interpolated: at measure (1.5+2.0)/2 = 1.75, at end (4.25+4.5)/2 = 4.375
    assert r.server_cpu_s == 2.625
    assert r.cpu_us_per_req == pytest.approx(218.75)  # 2.625 / 12000 * 1e6
    # gen_cpu_s: (1.0+1.46875)/2 = 1.234375 -> (3.8125+4.28125)/2 = 4.046875; 2.8125 s / 3 s / 1 CPU
    assert r.generator_cpu_pct == pytest.approx(93.75)
    # steal_s: 11.53125 -> 11.71875 = 0.1875 s over 3 s x 2 CPUs
    assert r.steal_pct == pytest.approx(3.125)
    # rss: max of samples inside the window is 48 MiB; the 49 MiB sample after the window is ignored
    assert r.server_rss_mb == 48.0


def test_flask_numbers_by_hand(df):
    r = row(df, "flask-gunicorn-sync", 0)
    assert r.requests == 3600 and r.errors == 9
    assert r.error_pct == pytest.approx(0.25)
    assert r.rps == 1200.0
    # hist {400:600, 550:1500, 700:900, 1000:420, 2500:150, 9000:30}
    assert (r.p50_ms, r.p90_ms, r.p99_ms, r.p999_ms) == (5.50, 10.00, 25.00, 90.00)
    assert r.cpu_us_per_req == pytest.approx(781.25)  # (4.3125 - 1.5) / 3600 * 1e6
    assert r.generator_cpu_pct == pytest.approx(50.0)  # (2.125 - 0.625) / 3
    assert r.steal_pct == pytest.approx(6.25)  # 0.375 / 6
    assert r.server_rss_mb == 56.0


def test_failed_cell_has_reason_and_nan_metrics(df):
    r = row(df, "flask-gunicorn-sync", 1)
    assert r.status == "failed"
    assert r.reason == "server exited with code -9"
    for col in ("rps", "p99_ms", "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct", "duration_s"):
        assert math.isnan(r[col]), col
    assert pd.isna(r.requests)


def test_ok_cell_missing_optional_files_gives_nan(run_copy):
    cell = run_copy / "stacks" / "fastapi-uvicorn" / "json-c8-r0"
    (cell / "samples.csv").unlink()
    r = row(tidy_frame(run_copy), "fastapi-uvicorn", 0)
    assert r.rps == 4000.0
    assert math.isnan(r.cpu_us_per_req) and math.isnan(r.server_rss_mb) and math.isnan(r.generator_cpu_pct)


def test_new_columns_are_appended_after_the_old_ones():
    """summary.csv: the first columns, then each addition at the end, so readers keep their positions."""
    old = ["stack", "framework", "server", "worker", "interface", "scenario", "endpoint", "concurrency", "repeat",
           "status", "reason", "requests", "errors", "error_pct", "duration_s", "rps", "mean_ms", "p50_ms",
           "p90_ms", "p99_ms", "p999_ms", "server_cpu_s", "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct",
           "steal_pct"]
    assert SUMMARY_COLUMNS[: len(old)] == old
    assert SUMMARY_COLUMNS[len(old):] == ["generator_bound", "starved", "starved_users", "littles_ratio",
                                          "littles_off", "bytes_per_req", "noisy",
                                          "offered_rps", "missed", "late",  # open model, appended after the flags
                                          "other_load_pct",
                                          *INTERVAL_COLUMNS,  # each group's 95% interval over its repeats
                                          "max_gap_s", "stalled",  # stall detection
                                          "server_cpu_pct", "unsaturated",  # neither side saturated
                                          "workers", "mb_per_s", "ideal_rps",  # the scenarios of issue 13, last
                                          "co_p50_ms", "co_p90_ms", "co_p99_ms"]


def test_ranking_order_rel_rps_and_flags(df):
    rank = ranking(df)
    assert list(rank.columns) == RANK_COLUMNS
    assert RANK_COLUMNS[:11] == ["scenario", "concurrency", "rank", "stack", "rps", "rel_rps", "p99_ms",
                                 "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct", "flags"]  # the CLI reads these
    assert list(rank["stack"]) == ["fastapi-uvicorn", "flask-gunicorn-gthread", "fastapi-hypercorn",
                                   "flask-gunicorn-sync", "flask-uwsgi", "django-asgi-uvicorn"]  # failed repeat ignored
    assert list(rank["rank"]) == [1, 2, 3, 4, 5, 6]
    assert list(rank["n"]) == [1, 3, 3, 1, 1, 1]
    # medians 4000, 2200, 2050, 1200, 800, 700 over the best, 4000
    assert list(rank["rel_rps"]) == pytest.approx([1.0, 0.55, 0.5125, 0.3, 0.2, 0.175])
    # flask-uwsgi's golden samples have the machine busy beyond its server and Locust (59% other load): noisy;
    # django-asgi-uvicorn stalled for 1.7 s: the most serious flag comes first
    # flask-gunicorn-gthread r0 and flask-uwsgi: server and Locust both far from saturated: unsaturated
    assert list(rank["flags"]) == ["generator-bound", "unsaturated,noisy", "", "",
                                   "unsaturated,starved,littles-off,noisy", "stalled,littles-off"]


def test_ranking_tie_with_next(df):
    rank = ranking(df).set_index("stack")["tie_with_next"]
    assert not rank["fastapi-uvicorn"]  # 4000 vs 2200: more than 20 % apart (n = 1 above)
    assert rank["flask-gunicorn-gthread"]  # [1500, 2900] overlaps [2000, 2100]
    assert not rank["fastapi-hypercorn"]  # 2050 vs 1200 (n = 1 below): more than 20 % apart
    assert not rank["flask-gunicorn-sync"]  # 1200 vs 800
    assert rank["flask-uwsgi"]  # 800 vs 700: 800 <= 700 x 1.2 = 840, not separable
    assert not rank["django-asgi-uvicorn"]  # last of its group


def test_ranking_takes_median_and_flags_any_repeat(df):
    base = df[df["stack"] != "flask-gunicorn-gthread"]
    extra = row(df, "flask-gunicorn-sync", 0).copy()
    extra["repeat"], extra["rps"], extra["error_pct"] = 2, 1400.0, 2.0
    third = extra.copy()
    third["repeat"], third["rps"], third["error_pct"] = 3, 1000.0, 0.0
    rank = ranking(pd.concat([base, extra.to_frame().T, third.to_frame().T], ignore_index=True))
    flask = rank[rank["stack"] == "flask-gunicorn-sync"].iloc[0]
    assert flask["rps"] == 1200.0  # median of 1200, 1400, 1000
    assert flask["n"] == 3
    # one repeat had 2 % errors; the rps interval [1000, 1400] is 400 wide > 20 % of 1200
    assert flask["flags"] == "errors,noisy"


def test_ranking_of_only_failed_cells_is_empty(df):
    assert ranking(df[df["status"] == "failed"]).empty


# -- flags: each fires on its deliberately bad cell, none on the clean one --------

CELL_FLAGS = ["generator_bound", "starved", "littles_off", "noisy", "stalled"]


def test_clean_cells_raise_no_flag(df):
    clean = df[df["stack"] == CLEAN]
    assert len(clean) == 3
    for col in CELL_FLAGS:
        assert clean[col].tolist() == [False, False, False], col  # known and false, not <NA>
    assert clean["starved_users"].tolist() == [0, 0, 0]
    # Little: 8 / (2000 x 3.85 ms) = 1.039, 8 / (2050 x 3.85 ms) = 1.0136, 8 / (2100 x 3.85 ms) = 0.9895
    assert clean["littles_ratio"].tolist() == pytest.approx([8 / 7.7, 8 / 7.8925, 8 / 8.085])
    agg = aggregate(df).set_index("stack").loc[CLEAN]
    for col in CELL_FLAGS:
        assert agg[col] is False or agg[col] == False, col  # noqa: E712  (pandas' boolean scalar)
    assert ranking(df).set_index("stack").loc[CLEAN, "flags"] == ""


def test_generator_bound_fires_on_the_generator_bound_cell(df):
    r = row(df, "fastapi-uvicorn", 0)
    assert r.generator_cpu_pct == pytest.approx(93.75) and r.generator_bound
    assert not r.starved and not r.littles_off and not r.noisy
    assert not row(df, "flask-gunicorn-sync", 0).generator_bound  # 50 %


def test_starved_fires_on_the_starved_cell(df):
    r = row(df, "flask-uwsgi", 0)
    assert r.starved and r.starved_users == 7
    # one user served: 800 req/s x 1.25 ms = 1 request in flight for 8 users
    assert r.littles_ratio == pytest.approx(8.0) and r.littles_off
    assert not r.generator_bound


def test_starved_counts_users_that_never_showed_up(run_copy):
    lat_path = run_copy / "stacks" / CLEAN / "json-c8-r0" / "latency.json"
    lat = json.loads(lat_path.read_text())
    lat["users"].update(seen=6, starved=0, min=900, median=1000, max=1100)  # 2 of 8 users never completed one
    lat_path.write_text(json.dumps(lat))
    r = row(tidy_frame(run_copy), CLEAN, 0)
    assert r.starved and r.starved_users == 2


def test_littles_off_fires_on_the_mismatch_cell_only(df):
    r = row(df, "django-asgi-uvicorn", 0)
    assert r.littles_ratio == pytest.approx(8 / 5.6)  # 700 req/s x 8.0 ms = 5.6 in flight for 8 users
    assert r.littles_off
    assert not r.starved and r.starved_users == 0 and not r.generator_bound and not r.noisy  # (it stalled too)
    assert not row(df, "flask-gunicorn-sync", 0).littles_off  # 8 / (1200 x 7.667 ms) = 0.87, inside [0.8, 1.25]


def test_cell_noisy_is_steal(df):
    r = row(df, CLEAN, 0)
    assert not r.noisy  # steal 3.125 %
    stolen = df.copy()
    stolen.loc[(stolen["stack"] == CLEAN) & (stolen["repeat"] == 0), "steal_pct"] = 12.0
    # per-cell noisy is computed when reading; a row edited afterwards still ranks via steal_pct_max
    assert ranking(stolen).set_index("stack").loc[CLEAN, "flags"] == "steal"


def test_cell_noisy_from_steal_when_read(run_copy):
    samples = run_copy / "stacks" / CLEAN / "json-c8-r1" / "samples.csv"
    s = pd.read_csv(samples)
    s["steal_s"] = 20.0 + 0.75 * (s["t"] - s["t"].iloc[0])  # 0.75 s of steal per s over 2 CPUs = 37.5 %
    s.to_csv(samples, index=False)
    df = tidy_frame(run_copy)
    r = row(df, CLEAN, 1)
    assert r.steal_pct == pytest.approx(37.5) and r.noisy
    assert not row(df, CLEAN, 0).noisy
    flags = ranking(df).set_index("stack").loc[CLEAN, "flags"]
    assert flags == "steal"  # median steal 3.125 % keeps the aggregate from `noisy`, any-repeat steal shows


def test_bytes_per_request(df):
    assert row(df, CLEAN, 0).bytes_per_req == 27.0  # bytes = count x 27
    assert math.isnan(row(df, "flask-gunicorn-sync", 1).bytes_per_req)  # failed cell


def test_failed_cell_flags_are_unknown(df):
    r = row(df, "flask-gunicorn-sync", 1)
    for col in CELL_FLAGS:
        assert r[col] is pd.NA, col
    assert r.starved_users is pd.NA


def test_old_latency_json_without_users_reads(df):
    r = row(df, "flask-gunicorn-sync", 0)  # the golden file has no "users" block
    latency = GOLDEN / "stacks" / "flask-gunicorn-sync" / "json-c8-r0" / "latency.json"
    assert "users" not in json.loads(latency.read_text())
    assert r.rps == 1200.0
    assert r.starved is pd.NA and r.starved_users is pd.NA
    assert r.littles_off == False  # noqa: E712  other flags still decided
    assert "starved" not in str(ranking(df).set_index("stack").loc["flask-gunicorn-sync", "flags"])


# -- repeats: intervals, spread, noisy ---------------------------------------------

def test_bootstrap_interval_contains_the_median_and_is_deterministic():
    values = [1500.0, 2200.0, 2900.0]
    lo, hi = bootstrap_median_interval(values)
    assert lo <= 2200.0 <= hi
    # with 3 values the resampled median is the smallest in 7/27 of resamples: the 95 % interval is [min, max]
    assert (lo, hi) == (1500.0, 2900.0)
    assert bootstrap_median_interval(values) == (lo, hi)
    many = [100.0, 101.0, 99.0, 140.0, 98.0, 102.0, 100.5, 97.0]
    lo, hi = bootstrap_median_interval(many)
    assert lo <= float(pd.Series(many).median()) <= hi and lo < hi


def test_bootstrap_interval_is_nan_for_one_value():
    assert all(math.isnan(v) for v in bootstrap_median_interval([1200.0]))
    assert all(math.isnan(v) for v in bootstrap_median_interval([1200.0, float("nan")]))  # NaN dropped: n = 1
    assert all(math.isnan(v) for v in bootstrap_median_interval([]))


def test_coefficient_of_variation():
    assert coefficient_of_variation([1500.0, 2200.0, 2900.0]) == pytest.approx(700 / 2200)  # sample std 700
    assert math.isnan(coefficient_of_variation([1200.0]))


def test_aggregate_medians_intervals_cv_and_noisy(df):
    agg = aggregate(df).set_index("stack")
    assert list(aggregate(df).columns) == AGG_COLUMNS
    noisy = agg.loc["flask-gunicorn-gthread"]
    assert noisy["n"] == 3 and noisy["rps"] == 2200.0
    assert (noisy["rps_lo"], noisy["rps_hi"]) == (1500.0, 2900.0)
    assert noisy["rps_hi"] - noisy["rps_lo"] > NOISY_INTERVAL_FRACTION * noisy["rps"]  # 1400 > 440
    cpu = [1.3125 / 4500 * 1e6, 1.875 / 6600 * 1e6, 2.4375 / 8700 * 1e6]  # 291.7, 284.1, 280.2 us
    assert noisy["cpu_us_per_req"] == pytest.approx(cpu[1])
    assert (noisy["cpu_us_per_req_lo"], noisy["cpu_us_per_req_hi"]) == pytest.approx((cpu[2], cpu[0]))
    assert noisy["rps_cv"] == pytest.approx(700 / 2200)
    assert noisy["cpu_cv"] == pytest.approx(pd.Series(cpu).std() / pd.Series(cpu).mean())
    assert noisy["cpu_cv"] < 0.05 < noisy["rps_cv"]  # CPU per request far steadier than throughput
    assert noisy["noisy"] == True  # noqa: E712
    clean = agg.loc[CLEAN]
    assert (clean["rps_lo"], clean["rps"], clean["rps_hi"]) == (2000.0, 2050.0, 2100.0)
    assert clean["rps_cv"] == pytest.approx(50 / 2050)
    assert clean["noisy"] == False  # noqa: E712  100 wide < 20 % of 2050
    single = agg.loc["fastapi-uvicorn"]
    assert single["n"] == 1
    for col in ("rps_lo", "rps_hi", "cpu_us_per_req_lo", "cpu_us_per_req_hi", "rps_cv", "cpu_cv"):
        assert pd.isna(single[col]), col


def test_aggregate_keeps_the_worst_repeat(df):
    agg = aggregate(df).set_index("stack")
    assert agg.loc["flask-uwsgi", "starved_users_max"] == 7
    assert agg.loc["flask-uwsgi", "starved"] == True  # noqa: E712
    assert agg.loc["flask-gunicorn-sync", "starved"] is pd.NA  # only an old-format cell: unknown


def test_steadiness(df):
    st = steadiness(aggregate(df))
    assert st.groups == 2
    assert st.rps_cv == pytest.approx((50 / 2050 + 700 / 2200) / 2)
    assert st.cpu_cv < st.rps_cv
    single = steadiness(aggregate(df[df["stack"] == "fastapi-uvicorn"]))
    assert single.groups == 0 and math.isnan(single.rps_cv)



def test_a_busy_machine_flags_the_cell_noisy(run_copy):
    """Other processes using the machine's CPU during the window make the cell noisy, a quiet one is not."""
    quiet = row(tidy_frame(run_copy), CLEAN, 0)
    assert quiet["other_load_pct"] < 25 and quiet["noisy"] is not True
    samples_path = next((run_copy / "stacks" / "fastapi-hypercorn").glob("*-r0/samples.csv"))
    samples = pd.read_csv(samples_path)
    samples["busy_s"] = samples["busy_s"] + (samples["t"] - samples["t"].iloc[0]) * 1.5  # 1.5 more CPUs busy
    samples.to_csv(samples_path, index=False)
    busy = row(tidy_frame(run_copy), CLEAN, 0)
    assert busy["other_load_pct"] >= 25 and bool(busy["noisy"]) is True
