"""analysis reads a run folder only through runformat: what it refuses (one line each, no traceback),
what it migrates, how it merges a multi-process cell, and that it still gives the tables the code
before the split gave (tests/data/expected/, made from the same stored runs).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.analyze import analyze
from analysis.columns import SCENARIO_COLUMNS
from analysis.load import load_cell, load_run
from analysis.tables import write_tables
from analysis.tidy import tidy_frame
from golden_runs import EXPECTED, GOLDEN, SWEEP, cell_row, copy_run, golden_thresholds  # noqa: F401  (autouse)
from runformat import SCHEMA_VERSION, SQLITE_PER_RUN
from runformat.errors import RunDirError
from runformat.latency import merge_latency
from runformat.records import LatencyFile

ANALYSIS = Path(__file__).resolve().parents[1] / "analysis"


@pytest.fixture
def run_copy(tmp_path: Path) -> Path:
    return copy_run(GOLDEN, tmp_path)


@pytest.fixture(scope="module")
def sweep_df() -> pd.DataFrame:
    return tidy_frame(SWEEP)


def edit_json(path: Path, change: Any) -> None:
    """Rewrite a JSON file with change(data)'s result: well-formed JSON, possibly of the wrong shape."""
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def refused(run_dir: Path) -> str:
    """The message analyze gives for a run folder it cannot read; it must be one line."""
    with pytest.raises(RunDirError) as e:
        analyze(run_dir)
    message = str(e.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# -- refusing folders ------------------------------------------------------------

def test_newer_schema_version_is_refused(run_copy):
    meta = json.loads((run_copy / "run.json").read_text())
    meta["schema_version"] = 99
    (run_copy / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunDirError, match=r"schema_version 99 .*upgrade stackmark") as e:
        analyze(run_copy)
    assert "\n" not in str(e.value)  # one line, for the CLI to print as it is


def test_missing_schema_version_is_refused(run_copy):
    meta = json.loads((run_copy / "run.json").read_text())
    del meta["schema_version"]
    (run_copy / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunDirError, match="schema_version"):
        analyze(run_copy)


def test_folder_without_run_json_is_refused(tmp_path):
    with pytest.raises(RunDirError, match=r"not a stackmark run folder \(no run.json\)") as e:
        analyze(tmp_path)
    assert "\n" not in str(e.value)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(RunDirError, match="no such folder"):
        analyze(tmp_path / "nope")


def test_run_without_finished_cells_is_refused(run_copy):
    for cell_json in run_copy.glob("stacks/*/*/cell.json"):
        cell_json.unlink()
    with pytest.raises(RunDirError, match="no finished cells yet"):
        analyze(run_copy)


def test_damaged_json_names_the_file(run_copy):
    bad = run_copy / "stacks" / "fastapi-uvicorn" / "json-c8-r0" / "latency.json"
    bad.write_text("{\"bucket_ms\": 0.01,")
    with pytest.raises(RunDirError, match="latency.json: not valid JSON"):
        analyze(run_copy)


# -- well-formed JSON of the wrong shape: one line naming the file and the field ----------

def test_latency_requests_of_the_wrong_type(run_copy):
    latency = run_copy / "stacks" / "fastapi-uvicorn" / "json-c8-r0" / "latency.json"
    edit_json(latency, lambda d: {**d, "requests": "x"})
    message = refused(run_copy)
    assert str(latency) in message and "requests: should be an object, not 'x'" in message


def test_phases_as_a_list(run_copy):
    phases = run_copy / "stacks" / "fastapi-uvicorn" / "json-c8-r0" / "phases.json"
    edit_json(phases, lambda d: list(d.values()))
    message = refused(run_copy)
    assert str(phases) in message and "should be an object" in message


def test_settings_as_a_string_in_a_current_run(run_copy):
    edit_json(run_copy / "run.json", lambda d: {**d, "schema_version": SCHEMA_VERSION, "settings": "x"})
    assert "settings: should be an object, not 'x'" in refused(run_copy)


def test_settings_as_a_string_in_a_version_1_run(run_copy):
    edit_json(run_copy / "run.json", lambda d: {**d, "settings": "x"})
    assert "settings" in refused(run_copy)


# -- the schema: a version-1 run is migrated, a newer one refused -------------------------

def test_a_version_1_run_is_migrated_on_load():
    raw = json.loads((GOLDEN / "run.json").read_text())
    assert raw["schema_version"] == 1  # kept at 1 on purpose by make_golden.py
    assert "loadgen_processes" not in raw["settings"] and raw["settings"]["workers"] == 1
    meta = load_run(GOLDEN).meta
    assert meta["schema_version"] == SCHEMA_VERSION
    settings = meta["settings"]
    assert settings["loadgen_processes"] == 1
    assert settings["database"] == SQLITE_PER_RUN
    assert settings["workers"] == [1] and isinstance(settings["workers"], list)
    assert settings["target"] is None


# -- the tables are the ones the code before the split wrote ---------------------------

def assert_same_table(old: pd.DataFrame, new: pd.DataFrame) -> None:
    """Every old column present, in place, and equal (floats to 1e-12 relative, NaN == NaN); new ones last."""
    assert list(new.columns[: len(old.columns)]) == list(old.columns)
    assert len(new) == len(old)
    for col in old.columns:
        a, b = old[col], new[col]
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            np.testing.assert_allclose(b.astype(float), a.astype(float), rtol=1e-12, atol=0, equal_nan=True,
                                       err_msg=col)
        else:
            assert a.astype(object).where(a.notna(), None).tolist() == \
                b.astype(object).where(b.notna(), None).tolist(), col


NEW_FLAGS = {"unsaturated"}  # FLAG_RULES names added after the stored tables: new, like a new column


def without_new_flags(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the flags added since the stored tables taken out of its `flags` column."""
    if "flags" in table.columns:
        table["flags"] = [",".join(f for f in v.split(",") if f not in NEW_FLAGS) or np.nan if isinstance(v, str)
                          else v for v in table["flags"]]
    return table


@pytest.mark.parametrize("source", [GOLDEN, SWEEP], ids=lambda p: p.name)
def test_tables_equal_the_stored_old_ones(source, tmp_path):
    run = copy_run(source, tmp_path)
    write_tables(analyze(run))
    for table in ("summary", "aggregate", "saturation"):
        expected = EXPECTED / f"{source.name}-{table}.csv"
        written = run / f"{table}.csv"
        assert written.is_file() == expected.is_file(), table  # saturation.csv only after a sweep
        if expected.is_file():
            assert_same_table(pd.read_csv(expected), without_new_flags(pd.read_csv(written)))


def test_new_columns_come_last_in_the_written_tables(tmp_path):
    run = copy_run(GOLDEN, tmp_path)
    write_tables(analyze(run))
    old_summary = pd.read_csv(EXPECTED / "run-golden-summary.csv").columns
    old_aggregate = pd.read_csv(EXPECTED / "run-golden-aggregate.csv").columns
    assert list(pd.read_csv(run / "summary.csv").columns[len(old_summary):]) == \
        ["max_gap_s", "stalled", "server_cpu_pct", "unsaturated", *SCENARIO_COLUMNS]
    assert list(pd.read_csv(run / "aggregate.csv").columns[len(old_aggregate):]) == \
        ["stalled", "max_gap_s_max", "server_cpu_pct", "unsaturated", *SCENARIO_COLUMNS]


# -- a multi-process cell reads as one -------------------------------------------------

def test_multi_process_cell_merges_every_latency_file(sweep_df):
    cell = load_cell(SWEEP / "stacks" / "fastapi-uvicorn" / "json-c32-r0")
    assert cell is not None and cell.latency is not None
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
    cell = load_cell(GOLDEN / "stacks" / "flask-gunicorn-sync" / "json-c8-r0")
    assert cell is not None and cell.latency_files == 1
    raw = json.loads((GOLDEN / "stacks" / "flask-gunicorn-sync" / "json-c8-r0" / "latency.json").read_text())
    assert cell.latency == raw
    assert merge_latency([raw]) is not None and merge_latency([]) is None


def test_merge_latency_without_counts_keeps_exact_sums_only():
    a: LatencyFile = {"requests": {"/json": {"count": 10, "failures": 1, "hist": {"100": 10}}},
         "users": {"expected": 4, "seen": 2, "starved": 1, "min": 0, "median": 5, "max": 10}}
    b: LatencyFile = {"requests": {"/json": {"count": 6, "failures": 0, "hist": {"100": 2, "200": 4}}},
         "users": {"expected": 4, "seen": 2, "starved": 0, "min": 3, "median": 3, "max": 3}}
    m = merge_latency([a, b])
    assert m is not None
    assert m["requests"]["/json"] == {"count": 16, "failures": 1, "hist": {"100": 12, "200": 4}}
    assert "bytes" not in m["requests"]["/json"]  # neither part had bytes: still unknown
    assert m["users"] == {"expected": 4, "seen": 4, "starved": 1, "min": 0, "median": None, "max": 10}


# -- the wall -----------------------------------------------------------------

# the harness, processes, and the run folder's JSON and atomic writes, which only runformat handles
FORBIDDEN = {"stackmark", "servers", "scenarios", "apps", "subprocess", "psutil", "json", "tempfile"}


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
