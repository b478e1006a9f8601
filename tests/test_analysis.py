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
from analysis.tidy import (COLUMNS, mean_from_hist, merge_hists, percentile_from_hist, ranking, tidy_frame,
                           write_summary)

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
        ("fastapi-uvicorn", 0), ("flask-gunicorn-sync", 0), ("flask-gunicorn-sync", 1)]
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
    assert list(back.columns) == COLUMNS
    assert len(back) == 3
    assert not list(run_copy.glob(".summary*"))  # temp file replaced, not left behind
    assert back.loc[back["stack"] == "fastapi-uvicorn", "requests"].item() == 12000


def test_ranking_order_rel_rps_and_flags(df):
    rank = ranking(df)
    assert list(rank.columns) == ["scenario", "concurrency", "rank", "stack", "rps", "rel_rps", "p99_ms",
                                  "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct", "flags"]
    assert list(rank["stack"]) == ["fastapi-uvicorn", "flask-gunicorn-sync"]  # failed repeat ignored
    assert list(rank["rank"]) == [1, 2]
    assert list(rank["rel_rps"]) == pytest.approx([1.0, 0.3])  # 1200 / 4000
    assert list(rank["flags"]) == ["generator-bound", ""]


def test_ranking_takes_median_and_flags_any_repeat(df):
    extra = row(df, "flask-gunicorn-sync", 0).copy()
    extra["repeat"], extra["rps"], extra["error_pct"] = 2, 1400.0, 2.0
    third = extra.copy()
    third["repeat"], third["rps"], third["error_pct"] = 3, 1000.0, 0.0
    rank = ranking(pd.concat([df, extra.to_frame().T, third.to_frame().T], ignore_index=True))
    flask = rank[rank["stack"] == "flask-gunicorn-sync"].iloc[0]
    assert flask["rps"] == 1200.0  # median of 1200, 1400, 1000
    assert flask["flags"] == "errors"  # one repeat had 2 % errors


def test_ranking_of_only_failed_cells_is_empty(df):
    assert ranking(df[df["status"] == "failed"]).empty


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
    (run_copy / "stacks" / "fastapi-uvicorn" / "json-c8-r0" / "cell.json").unlink()
    (run_copy / "stacks" / "flask-gunicorn-sync" / "json-c8-r0" / "cell.json").unlink()
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
