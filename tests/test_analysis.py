"""analysis/ against the hand-checkable golden run folder tests/data/run-golden (see make_golden.py).

Expected numbers are worked out by hand from the golden files; the comments show the sums.
"""

from __future__ import annotations

import ast
import json
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.errors import RunDirError
from analysis.report import write_report
from analysis.tidy import (AGG_COLUMNS, COLUMNS, INTERVAL_COLUMNS, SUMMARY_COLUMNS, FLAG_RULES, NOISY_INTERVAL_FRACTION, NOTE_NO_LEVEL, NOTE_NOT_REACHED,
                           RANK_COLUMNS, SATURATION_COLUMNS, aggregate, bootstrap_median_interval,
                           coefficient_of_variation, mean_from_hist, merge_hists, percentile_from_hist, ranking,
                           saturation, steadiness, tidy_frame, write_summary)

GOLDEN = Path(__file__).resolve().parent / "data" / "run-golden"
ANALYSIS = Path(__file__).resolve().parents[1] / "analysis"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return tidy_frame(GOLDEN)


@pytest.fixture
def run_copy(tmp_path: Path) -> Path:
    """A writable copy of the golden run: tests never write into tests/data."""
    dst = tmp_path / "run"
    shutil.copytree(GOLDEN, dst)
    return dst


def row(df: pd.DataFrame, stack: str, repeat: int) -> pd.Series:
    match = df[(df["stack"] == stack) & (df["repeat"] == repeat)]
    assert len(match) == 1
    return match.iloc[0]


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
    assert list(df.columns) == COLUMNS


def test_one_row_per_finished_cell_unfinished_absent(df):
    # fastapi r1 has phases.json and latency.json but no cell.json: unfinished, so absent.
    assert sorted(zip(df["stack"], df["repeat"])) == [
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


# -- refusing folders -----------------------------------------------------------

def test_newer_schema_version_is_refused(run_copy):
    meta = json.loads((run_copy / "run.json").read_text())
    meta["schema_version"] = 99
    (run_copy / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunDirError, match=r"schema_version 99 .*upgrade stackmark"):
        tidy_frame(run_copy)


def test_missing_schema_version_is_refused(run_copy):
    meta = json.loads((run_copy / "run.json").read_text())
    del meta["schema_version"]
    (run_copy / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunDirError, match="schema_version"):
        tidy_frame(run_copy)


def test_folder_without_run_json_is_refused(tmp_path):
    with pytest.raises(RunDirError, match=r"not a stackmark run folder \(no run.json\)") as e:
        tidy_frame(tmp_path)
    assert "\n" not in str(e.value)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(RunDirError, match="no such folder"):
        tidy_frame(tmp_path / "nope")


def test_run_without_finished_cells_is_refused(run_copy):
    for cell_json in run_copy.glob("stacks/*/*/cell.json"):
        cell_json.unlink()
    with pytest.raises(RunDirError, match="no finished cells yet"):
        tidy_frame(run_copy)


def test_damaged_json_names_the_file(run_copy):
    bad = run_copy / "stacks" / "fastapi-uvicorn" / "json-c8-r0" / "latency.json"
    bad.write_text("{\"bucket_ms\": 0.01,")
    with pytest.raises(RunDirError, match="latency.json: not valid JSON"):
        tidy_frame(run_copy)


def test_ok_cell_missing_optional_files_gives_nan(run_copy):
    cell = run_copy / "stacks" / "fastapi-uvicorn" / "json-c8-r0"
    (cell / "samples.csv").unlink()
    r = row(tidy_frame(run_copy), "fastapi-uvicorn", 0)
    assert r.rps == 4000.0
    assert math.isnan(r.cpu_us_per_req) and math.isnan(r.server_rss_mb) and math.isnan(r.generator_cpu_pct)


# -- summary.csv and ranking ----------------------------------------------------

def test_write_summary(run_copy):
    path = write_summary(run_copy)
    assert path == run_copy / "summary.csv"
    back = pd.read_csv(path)
    assert list(back.columns) == SUMMARY_COLUMNS == COLUMNS + INTERVAL_COLUMNS
    assert len(back) == 11
    assert not list(run_copy.glob(".summary*"))  # temp file replaced, not left behind
    assert back.loc[back["stack"] == "fastapi-uvicorn", "requests"].item() == 12000
    uwsgi = back[back["stack"] == "flask-uwsgi"].iloc[0]
    assert bool(uwsgi["starved"]) is True and uwsgi["starved_users"] == 7
    sync_ok = back[(back["stack"] == "flask-gunicorn-sync") & (back["repeat"] == 0)].iloc[0]
    assert pd.isna(sync_ok["starved"])  # no "users" block: unknown, written as an empty field
    agg = pd.read_csv(run_copy / "aggregate.csv")
    assert list(agg.columns) == AGG_COLUMNS
    assert len(agg) == 6  # one row per stack with an ok cell
    assert agg.loc[agg["stack"] == "fastapi-hypercorn", "n"].item() == 3


def test_new_columns_are_appended_after_the_old_ones():
    old = ["stack", "framework", "server", "worker", "interface", "scenario", "endpoint", "concurrency", "repeat",
           "status", "reason", "requests", "errors", "error_pct", "duration_s", "rps", "mean_ms", "p50_ms",
           "p90_ms", "p99_ms", "p999_ms", "server_cpu_s", "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct",
           "steal_pct"]
    assert COLUMNS[: len(old)] == old
    assert COLUMNS[len(old):] == ["generator_bound", "starved", "starved_users", "littles_ratio", "littles_off",
                                  "bytes_per_req", "noisy",
                                  "offered_rps", "missed", "late",  # open model, appended after the flags
                                  "other_load_pct"]


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
    # flask-uwsgi's golden samples have the machine busy beyond its server and Locust (59% other load): noisy
    assert list(rank["flags"]) == ["generator-bound", "noisy", "", "", "starved,littles-off,noisy", "littles-off"]


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

CLEAN = "fastapi-hypercorn"  # 3 steady repeats, all users served, Little holds, Locust at 50 %
CELL_FLAGS = ["generator_bound", "starved", "littles_off", "noisy"]


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
    assert not r.starved and r.starved_users == 0 and not r.generator_bound and not r.noisy
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
    assert "users" not in json.loads((GOLDEN / "stacks" / "flask-gunicorn-sync" / "json-c8-r0" / "latency.json").read_text())
    assert r.rps == 1200.0
    assert r.starved is pd.NA and r.starved_users is pd.NA
    assert r.littles_off == False  # noqa: E712  other flags still decided
    assert "starved" not in ranking(df).set_index("stack").loc["flask-gunicorn-sync", "flags"]


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
        assert math.isnan(single[col]), col


def test_aggregate_keeps_the_worst_repeat(df):
    agg = aggregate(df).set_index("stack")
    assert agg.loc["flask-uwsgi", "starved_users_max"] == 7
    assert agg.loc["flask-uwsgi", "starved"] == True  # noqa: E712
    assert agg.loc["flask-gunicorn-sync", "starved"] is pd.NA  # only an old-format cell: unknown


def test_steadiness(df):
    st = steadiness(df)
    assert st["groups"] == 2
    assert st["rps_cv"] == pytest.approx((50 / 2050 + 700 / 2200) / 2)
    assert st["cpu_cv"] < st["rps_cv"]
    single = steadiness(df[df["stack"] == "fastapi-uvicorn"])
    assert single["groups"] == 0 and math.isnan(single["rps_cv"])



# -- report -------------------------------------------------------------------

def test_write_report_self_contained(run_copy):
    index = write_report(run_copy)
    assert index == run_copy / "report" / "index.html"
    html = index.read_text(encoding="utf-8")
    for stack in ("fastapi-uvicorn", "flask-gunicorn-sync", "django-wsgi-uwsgi"):
        assert stack in html
    assert "20261122-194000" in html
    assert len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"', html)) == 4
    assert not re.search(r'(src|href)\s*=\s*["\']?\s*https?://', html, re.I)
    assert "<script" not in html.lower()
    assert "server exited with code -9" in html  # failed cell and reason
    assert "content-type" in html and "text/html; charset=utf-8" in html  # verify finding
    assert "generator-bound" in html
    assert "3f5c9e1d2b7a48c6e0f1a2b3c4d5e6f708192a3b" in html
    for flag in FLAG_RULES:  # a legend line for every flag, with its threshold
        assert f'<span class="flag">{flag}</span></th>' in html, flag
    assert "Locust used 90% or more" in html and "[0.8, 1.25]" in html and "wider than 20%" in html
    assert "1,500–2,900" in html  # the noisy stack's rps interval
    assert "≈ next" in html
    assert "1–3 repeats finished ok" in html
    # steadiness: median CV over the 2 stacks with repeats, CPU/request 2.2 %, throughput 17.1 %
    assert "2.2% for CPU per request and 17.1% for throughput" in html
    assert (run_copy / "aggregate.csv").is_file()
    for name in ("throughput.png", "latency.png", "cpu_per_request.png", "memory.png"):
        assert (run_copy / "report" / name).read_bytes().startswith(PNG_MAGIC)
    assert (run_copy / "summary.csv").is_file()


def test_report_escapes_raw_text(run_copy):
    stack_json = run_copy / "stacks" / "django-wsgi-uwsgi" / "stack.json"
    spec = json.loads(stack_json.read_text())
    spec["verify"]["findings"][0]["actual"] = "<script>alert(1)</script>"
    stack_json.write_text(json.dumps(spec))
    html = write_report(run_copy).read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_report_with_no_ok_cells_still_renders(run_copy):
    for cell_json in run_copy.glob("stacks/*/*/cell.json"):
        if json.loads(cell_json.read_text())["status"] == "ok":
            cell_json.unlink()
    html = write_report(run_copy).read_text(encoding="utf-8")
    assert "nothing to rank" in html
    assert html.count("data:image/png;base64,") == 4


# -- the wall -----------------------------------------------------------------

FORBIDDEN = {"stackmark", "servers", "scenarios", "apps", "subprocess", "psutil"}


@pytest.mark.parametrize("path", sorted(ANALYSIS.glob("*.py")), ids=lambda p: p.name)
def test_analysis_does_not_import_the_harness(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            imported.add("__import__")
    assert not imported & (FORBIDDEN | {"__import__", "importlib"}), f"{path.name} imports {imported & FORBIDDEN}"


# -- run-sweep: multi-process cells, the open model, saturation -------------------------

SWEEP = Path(__file__).resolve().parent / "data" / "run-sweep"


@pytest.fixture(scope="module")
def sweep_df() -> pd.DataFrame:
    return tidy_frame(SWEEP)


def cell_row(df: pd.DataFrame, stack: str, scenario: str, concurrency: int) -> pd.Series:
    match = df[(df["stack"] == stack) & (df["scenario"] == scenario) & (df["concurrency"] == concurrency)]
    assert len(match) == 1
    return match.iloc[0]


def test_multi_process_cell_merges_every_latency_file(sweep_df):
    from analysis.load import load_cell

    cell = load_cell(SWEEP / "stacks" / "fastapi-uvicorn" / "json-c32-r0")
    assert cell.latency_files == 3  # the master's latency.json (no requests) + 2 workers
    assert cell.latency["processes"] == 2
    assert cell.latency["requests"]["/json"]["count"] == 14400  # 7000 + 7400
    assert cell.latency["requests"]["/json"]["bytes"] == 14400 * 27
    users = cell.latency["users"]
    # 8 x 430, 8 x 445 (worker 101) and 8 x 460, 8 x 465 (worker 102): median of 32 = (445 + 460) / 2
    assert (users["expected"], users["seen"], users["starved"]) == (32, 32, 0)
    assert (users["min"], users["median"], users["max"]) == (430, 452.5, 465)
    r = cell_row(sweep_df, "fastapi-uvicorn", "json", 32)
    assert r.requests == 14400 and r.rps == 4800.0
    assert r.p99_ms == 150.0  # merged {300: 14000, 15000: 400}: rank 14256 lies in the 150 ms bucket
    assert r.p50_ms == 3.0
    assert r.mean_ms == pytest.approx(10_200_000 / 14400 / 100)
    assert r.starved == False and r.starved_users == 0  # noqa: E712
    assert r.littles_ratio == pytest.approx(32 / (4800 * 10_200_000 / 14400 / 100 / 1000))


def test_single_latency_file_is_read_as_it_is():
    from analysis.load import load_cell, merge_latency

    cell = load_cell(GOLDEN / "stacks" / "flask-gunicorn-sync" / "json-c8-r0")
    assert cell.latency_files == 1
    raw = json.loads((GOLDEN / "stacks" / "flask-gunicorn-sync" / "json-c8-r0" / "latency.json").read_text())
    assert cell.latency == raw
    assert merge_latency([raw]) is not None and merge_latency([]) is None


def test_merge_latency_without_counts_keeps_exact_sums_only():
    from analysis.load import merge_latency

    a = {"requests": {"/json": {"count": 10, "failures": 1, "hist": {"100": 10}}},
         "users": {"expected": 4, "seen": 2, "starved": 1, "min": 0, "median": 5, "max": 10}}
    b = {"requests": {"/json": {"count": 6, "failures": 0, "hist": {"100": 2, "200": 4}}},
         "users": {"expected": 4, "seen": 2, "starved": 0, "min": 3, "median": 3, "max": 3}}
    m = merge_latency([a, b])
    assert m["requests"]["/json"] == {"count": 16, "failures": 1, "hist": {"100": 12, "200": 4}}
    assert "bytes" not in m["requests"]["/json"]  # neither part had bytes: still unknown
    assert m["users"] == {"expected": 4, "seen": 4, "starved": 1, "min": 0, "median": None, "max": 10}


def test_open_model_columns(sweep_df):
    r = cell_row(sweep_df, "fastapi-uvicorn", "open-json", 64)
    assert (r.offered_rps, r.missed, r.late) == (500.0, 10, 4)
    assert r.requests == 1488 and r.rps == 496.0
    # concurrency is a cap on requests in flight, not users: Little's law has nothing to check
    assert math.isnan(r.littles_ratio) and r.littles_off is pd.NA
    assert r.starved == False  # noqa: E712  the one sending user completed requests
    closed = cell_row(sweep_df, "fastapi-uvicorn", "json", 8)
    assert math.isnan(closed.offered_rps) and closed.missed is pd.NA and closed.late is pd.NA
    agg = aggregate(sweep_df)
    assert list(agg.columns[-4:]) == ["offered_rps", "missed", "late", "other_load_pct"]
    open_agg = agg[(agg["scenario"] == "open-json") & (agg["concurrency"] == 128)].iloc[0]
    assert (open_agg["offered_rps"], open_agg["missed"], open_agg["late"]) == (500.0, 0.0, 0.0)


def test_old_golden_has_no_open_numbers(df):
    assert df["offered_rps"].isna().all() and df["missed"].isna().all() and df["late"].isna().all()


def test_saturation_on_the_sweep(sweep_df):
    sat = saturation(sweep_df).set_index("stack")
    assert list(saturation(sweep_df).columns) == SATURATION_COLUMNS
    assert list(sat.index) == ["django-asgi-uvicorn", "fastapi-uvicorn", "flask-gunicorn-gthread",
                               "flask-gunicorn-sync"]  # open-json (a cap on in-flight, not users) left out
    assert set(sat["scenario"]) == {"json"} and (sat["levels"] == 3).all() and (sat["max_tested"] == 32).all()
    # p99 2.5 / 5 / 150 ms: c32 breaks the 100 ms SLO, c16 (4500) beats c8 (3000); Locust was the limit there
    fast = sat.loc["fastapi-uvicorn"]
    assert (fast["concurrency"], fast["rps"], fast["p99_ms"]) == (16, 4500.0, 5.0)
    assert fast["flags"] == "generator-bound" and fast["note"] == ""
    # c32 has the most req/s within the SLO but 2 % errors
    gthread = sat.loc["flask-gunicorn-gthread"]
    assert (gthread["concurrency"], gthread["rps"], gthread["p99_ms"]) == (16, 1600.0, 60.0)
    assert gthread["note"] == ""
    # still climbing at the highest level tested
    sync = sat.loc["flask-gunicorn-sync"]
    assert (sync["concurrency"], sync["rps"], sync["p99_ms"], sync["error_pct"]) == (32, 1800.0, 80.0, 0.5)
    assert sync["note"] == NOTE_NOT_REACHED
    # p99 120 / 250 / 400 ms: nothing within 100 ms
    django = sat.loc["django-asgi-uvicorn"]
    assert django["concurrency"] is pd.NA and math.isnan(django["rps"]) and django["note"] == NOTE_NO_LEVEL


def test_saturation_thresholds_are_parameters(sweep_df):
    sat = saturation(sweep_df, slo_p99_ms=200.0, max_error_pct=5.0).set_index("stack")
    assert (sat.loc["fastapi-uvicorn", "concurrency"], sat.loc["fastapi-uvicorn", "rps"]) == (32, 4800.0)
    assert sat.loc["fastapi-uvicorn", "note"] == NOTE_NOT_REACHED
    assert (sat.loc["flask-gunicorn-gthread", "concurrency"], sat.loc["flask-gunicorn-gthread", "rps"]) == (32, 1700.0)
    assert sat.loc["django-asgi-uvicorn", "concurrency"] == 8  # 120 ms <= 200 ms; 250 and 400 are not
    assert (sat["slo_p99_ms"] == 200.0).all() and (sat["max_error_pct"] == 5.0).all()


def test_saturation_uses_medians_over_repeats(sweep_df):
    extra = cell_row(sweep_df, "fastapi-uvicorn", "json", 8).copy()
    extra["repeat"], extra["rps"] = 1, 6000.0
    third = extra.copy()
    third["repeat"], third["rps"] = 2, 6200.0
    sat = saturation(pd.concat([sweep_df, extra.to_frame().T, third.to_frame().T], ignore_index=True))
    fast = sat.set_index("stack").loc["fastapi-uvicorn"]
    assert (fast["concurrency"], fast["rps"]) == (8, 6000.0)  # median of 3000, 6000, 6200 beats c16's 4500


def test_no_sweep_no_saturation(df, run_copy):
    assert saturation(df).empty  # the golden run has one concurrency level
    write_summary(run_copy)
    assert not (run_copy / "saturation.csv").exists()


def test_sweep_report_has_saturation_table_and_chart(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SWEEP, run)
    html = write_report(run).read_text(encoding="utf-8")
    back = pd.read_csv(run / "saturation.csv")
    assert list(back.columns) == SATURATION_COLUMNS and len(back) == 4
    assert (run / "report" / "sweep.png").read_bytes().startswith(PNG_MAGIC)
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 5
    assert "Saturation (concurrency sweep)" in html and NOTE_NOT_REACHED in html and NOTE_NO_LEVEL in html
    assert "Open model (fixed arrival rate)" in html and "≤64 in flight" in html
    summary = pd.read_csv(run / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    open_rows = summary[summary["scenario"] == "open-json"]
    assert list(open_rows["missed"]) == [10, 0] and list(open_rows["offered_rps"]) == [500.0, 500.0]


def test_summary_rows_carry_their_groups_interval(run_copy):
    """Every repeat row of a group shows the same 95% interval as aggregate.csv; one-repeat groups have none."""
    back = pd.read_csv(write_summary(run_copy))
    agg = aggregate(tidy_frame(run_copy))
    multi = agg[agg["n"] >= 2].iloc[0]
    rows = back[(back["stack"] == multi["stack"]) & (back["scenario"] == multi["scenario"])
                & (back["concurrency"] == multi["concurrency"])]
    assert len(rows) >= 2
    for col in INTERVAL_COLUMNS:
        assert rows[col].nunique() == 1 and rows[col].iloc[0] == pytest.approx(multi[col])
    single = agg[agg["n"] == 1].iloc[0]
    row = back[(back["stack"] == single["stack"]) & (back["scenario"] == single["scenario"])].iloc[0]
    assert math.isnan(row["rps_lo"]) and math.isnan(row["cpu_us_per_req_hi"])


def test_a_busy_machine_flags_the_cell_noisy(run_copy):
    """Other processes using the machine's CPU during the window make the cell noisy, a quiet one is not."""
    clean = tidy_frame(run_copy)
    row = clean[(clean["stack"] == "fastapi-hypercorn") & (clean["repeat"] == 0)].iloc[0]
    assert row["other_load_pct"] < 25 and row["noisy"] is not True
    samples_path = next((run_copy / "stacks" / "fastapi-hypercorn").glob("*-r0/samples.csv"))
    samples = pd.read_csv(samples_path)
    samples["busy_s"] = samples["busy_s"] + (samples["t"] - samples["t"].iloc[0]) * 1.5  # 1.5 more CPUs busy
    samples.to_csv(samples_path, index=False)
    busy = tidy_frame(run_copy)
    row = busy[(busy["stack"] == "fastapi-hypercorn") & (busy["repeat"] == 0)].iloc[0]
    assert row["other_load_pct"] >= 25 and bool(row["noisy"]) is True
