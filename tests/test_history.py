"""history.jsonl: appended whole or not at all, read back with damage skipped or refused, built from a real
analysis, and the step changes found in it (a planted step at its commit; none in a flat or one-outlier series).

History files are generated here from entries with known numbers; `make_history` is shared with
test_history_cmd.py.
"""
from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from analysis.analyze import analyze
from analysis.history import (
    detect_steps,
    filter_stacks,
    history_cell,
    history_entry,
    history_frame,
    record_history,
    step_changes,
)
from golden_runs import GOLDEN, copy_run
from runformat.errors import RunDirError
from runformat.history import (
    HISTORY_VERSION,
    HistoryCell,
    HistoryEntry,
    append_entry,
    encode_line,
    parse_line,
    read_history,
)

T0 = 1_795_000_000.0
STEP_RUN = 7  # where the planted step starts


def sha(run: int) -> str:
    return f"{run:04x}" + "c" * 36


def cell(stack: str, cpu: float, rps: float | None = None, error_pct: float = 0.0,
         flags: Sequence[str] = ()) -> HistoryCell:
    return {"stack": stack, "scenario": "json", "endpoint": "/json", "concurrency": 32, "n": 5,
            "rps": rps if rps is not None else 1e6 / cpu, "cpu_us_per_req": cpu, "p99_ms": 12.0,
            "error_pct": error_pct, "flags": list(flags)}


def entry(run: int, cells: list[HistoryCell], run_id: str | None = None) -> HistoryEntry:
    return {"history_version": HISTORY_VERSION, "run_id": run_id or f"20261101-{run:06d}", "time": T0 + 3600 * run,
            "git_sha": sha(run), "git_dirty": False,
            "host": {"cpu_model": "Test CPU", "cpu_count": 2, "python": "3.11.7"},
            "packages": {"uvicorn": "0.54.0"}, "cells": cells}


def noisy(base: float, sigma: float, rng: random.Random) -> float:
    return base * (1 + rng.gauss(0, sigma))


def make_history(path: Path, runs: int = 14, step: float = 1.25, seed: int = 1) -> Path:
    """fastapi-uvicorn's CPU per request steps by `step` at STEP_RUN (2% noise); flask stays flat."""
    rng = random.Random(seed)
    for run in range(runs):
        fast = noisy(250.0 * (step if run >= STEP_RUN else 1.0), 0.02, rng)
        flask = noisy(400.0, 0.02, rng)
        append_entry(path, entry(run, [cell("fastapi-uvicorn", fast), cell("flask-gunicorn-gthread", flask)]))
    return path


# ---- the file: appended whole, read back -----------------------------------------------------------

def test_entries_round_trip_one_line_each(tmp_path: Path) -> None:
    path = make_history(tmp_path / "history.jsonl", runs=3)
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 3
    history = read_history(path)
    assert history.skipped == []
    assert [e["run_id"] for e in history.entries] == [f"20261101-{r:06d}" for r in range(3)]
    assert history.entries[0]["cells"][0]["stack"] == "fastapi-uvicorn"


def test_append_is_one_write_of_the_whole_line_then_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []
    real_write, real_fsync = os.write, os.fsync

    def write(fd: int, data: bytes) -> int:
        calls.append(("write", len(data)))
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        calls.append(("fsync", fd))
        real_fsync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)
    e = entry(0, [cell("fastapi-uvicorn", 250.0)])
    append_entry(tmp_path / "h.jsonl", e)
    writes = [c for c in calls if c[0] == "write"]
    assert writes == [("write", len(encode_line(e)))]
    assert calls.index(writes[0]) < next(i for i, c in enumerate(calls) if c[0] == "fsync")


def test_a_cut_short_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = make_history(tmp_path / "history.jsonl", runs=2)
    torn = encode_line(entry(2, [cell("fastapi-uvicorn", 250.0)]))[:57]
    with path.open("ab") as f:
        f.write(torn)
    history = read_history(path)
    assert len(history.entries) == 2
    assert len(history.skipped) == 1 and f"{path}:3" in history.skipped[0] and "last line" in history.skipped[0]


def test_an_append_after_a_cut_short_line_stays_a_line_of_its_own(tmp_path: Path) -> None:
    path = make_history(tmp_path / "history.jsonl", runs=1)
    with path.open("ab") as f:
        f.write(b'{"history_version": 1, "run_')
    append_entry(path, entry(5, [cell("fastapi-uvicorn", 250.0)]))
    history = read_history(path)
    assert [e["run_id"] for e in history.entries] == ["20261101-000000", "20261101-000005"]
    assert len(history.skipped) == 1 and ":2:" in history.skipped[0]


@pytest.mark.parametrize(("line", "needle"), [
    ({"history_version": HISTORY_VERSION + 1}, "newer than this stackmark understands"),
    ({"run_id": "x"}, "no history_version"),
    ([1, 2], "no history_version"),
    ({"history_version": 1, "run_id": "x"}, "missing"),
])
def test_lines_of_another_version_or_shape_are_refused(tmp_path: Path, line: object, needle: str) -> None:
    path = make_history(tmp_path / "history.jsonl", runs=1)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
    with pytest.raises(RunDirError, match=needle) as info:
        read_history(path)
    assert f"{path}:2" in str(info.value)


def test_wrong_types_inside_a_cell_are_named() -> None:
    bad = entry(0, [cell("fastapi-uvicorn", 250.0)])
    bad["cells"][0]["concurrency"] = "32"  # type: ignore[typeddict-item]
    with pytest.raises(RunDirError, match=r"cells\[0\]\.concurrency"):
        parse_line(json.dumps(bad), "h.jsonl:1")


def test_a_missing_file_says_where_history_comes_from(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="stackmark bench"):
        read_history(tmp_path / "nope.jsonl")


def test_nan_is_never_written() -> None:
    with pytest.raises(ValueError):
        encode_line(entry(0, [cell("fastapi-uvicorn", math.nan)]))


# ---- from a real analysis ----------------------------------------------------------------------------

def test_entry_from_the_golden_run_holds_its_aggregate_medians(tmp_path: Path) -> None:
    analysis = analyze(copy_run(GOLDEN, tmp_path))
    e = history_entry(analysis)
    assert parse_line(encode_line(e).decode(), "line") == e  # conforms to the format, survives JSON
    assert e["run_id"] == analysis.meta["run_id"] and e["git_sha"] == analysis.meta["git"]["sha"]
    assert e["host"]["cpu_count"] == analysis.meta["host"]["cpu_count"]
    agg = analysis.aggregate
    assert len(e["cells"]) == len(agg)
    for c, row in zip(e["cells"], agg.to_dict("records"), strict=True):
        assert (c["stack"], c["n"]) == (row["stack"], row["n"])
        assert c["cpu_us_per_req"] == pytest.approx(row["cpu_us_per_req"])
        assert c["rps"] == pytest.approx(row["rps"])
    shown = {(r["stack"], r["scenario"], r["concurrency"]): r["flags"] for r in analysis.ranking.to_dict("records")}
    for c in e["cells"]:  # the flags the report's ranking shows beside the number
        assert ",".join(c["flags"]) == shown[(c["stack"], c["scenario"], c["concurrency"])]
    assert any(c["flags"] for c in e["cells"])


def test_unknown_numbers_become_null() -> None:
    row = {"stack": "s", "scenario": "json", "endpoint": "/json", "concurrency": 8, "n": 1, "rps": math.nan,
           "cpu_us_per_req": 10.0, "p99_ms": math.nan, "error_pct": 0.0}
    c = history_cell(row)
    assert c["rps"] is None and c["p99_ms"] is None and c["cpu_us_per_req"] == 10.0


def test_record_history_appends_beside_the_run_folder(tmp_path: Path) -> None:
    analysis = analyze(copy_run(GOLDEN, tmp_path))
    path = record_history(analysis)
    assert path == tmp_path / "history.jsonl"
    record_history(analysis, tmp_path / "elsewhere" / "h.jsonl")
    record_history(analysis)
    assert len(read_history(path).entries) == 2
    assert len(read_history(tmp_path / "elsewhere" / "h.jsonl").entries) == 1


def test_a_resumed_run_counts_once_with_its_last_entry(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    append_entry(path, entry(0, [cell("a-b", 100.0)]))
    append_entry(path, entry(1, [cell("a-b", 200.0)]))
    append_entry(path, entry(0, [cell("a-b", 100.0), cell("c-d", 50.0)]))  # run 0 resumed, finished later
    frame = history_frame(read_history(path).entries)
    assert frame.drop_duplicates("run")["run_id"].tolist() == ["20261101-000000", "20261101-000001"]
    assert sorted(frame[frame["run"] == 0]["stack"]) == ["a-b", "c-d"]


def test_stacks_are_chosen_by_id_framework_or_server(tmp_path: Path) -> None:
    frame = history_frame(read_history(make_history(tmp_path / "h.jsonl", runs=2)).entries)
    assert set(filter_stacks(frame, ["fastapi"])[0]["stack"]) == {"fastapi-uvicorn"}
    assert set(filter_stacks(frame, ["gunicorn-gthread"])[0]["stack"]) == {"flask-gunicorn-gthread"}
    assert set(filter_stacks(frame, [])[0]["stack"]) == {"fastapi-uvicorn", "flask-gunicorn-gthread"}
    assert filter_stacks(frame, ["uvicorn", "django"])[1] == ["django"]
    assert filter_stacks(frame, ["fast"])[1] == ["fast"]  # a part of a name is not a name


# ---- step changes --------------------------------------------------------------------------------------

def flat(n: int, seed: int, sigma: float = 0.03) -> list[float]:
    rng = random.Random(seed)
    return [noisy(1000.0, sigma, rng) for _ in range(n)]


@pytest.mark.parametrize("seed", range(1, 9))
def test_the_planted_step_is_found_at_its_commit_and_nothing_else(tmp_path: Path, seed: int) -> None:
    frame = history_frame(read_history(make_history(tmp_path / "h.jsonl", seed=seed)).entries)
    steps = step_changes(frame, ["cpu_us_per_req"])
    assert len(steps) == 1, steps
    step = steps.iloc[0]
    assert (step["stack"], step["run"], step["commit"]) == ("fastapi-uvicorn", STEP_RUN, sha(STEP_RUN)[:8])
    assert step["before"] == pytest.approx(250.0, rel=0.03) and step["after"] == pytest.approx(312.5, rel=0.03)
    assert step["change_pct"] == pytest.approx(25.0, abs=4.0)


@pytest.mark.parametrize("seed", range(1, 21))
def test_a_flat_series_has_no_step(seed: int) -> None:
    assert detect_steps(flat(30, seed)) == []


@pytest.mark.parametrize("make", [
    lambda: [500.0] * 12,  # constant
    lambda: [0.0] * 12,  # an error rate that stayed at zero
    lambda: [500.0, 900.0, 500.0],  # too short to tell
    lambda: [1000.0] * 6 + [1600.0] + [1000.0] * 6,  # one disturbed run is not a new level
])
def test_no_step_where_there_is_none(make: Callable[[], list[float]]) -> None:
    assert detect_steps(make()) == []


def test_steps_up_and_back_down_are_both_found_with_their_levels() -> None:
    values = flat(8, 1) + [v * 1.3 for v in flat(8, 2)] + flat(8, 3)
    frame = history_frame([entry(i, [cell("a-b", v)]) for i, v in enumerate(values)])
    steps = step_changes(frame, ["cpu_us_per_req"])
    assert steps["run"].tolist() == [8, 16]
    assert steps["change_pct"].iloc[0] > 20 and steps["change_pct"].iloc[1] < -15


def test_errors_appearing_from_zero_are_a_step() -> None:
    values = [0.0] * 6 + [5.0] * 6
    assert detect_steps(values) == [6]
    frame = history_frame([entry(i, [cell("a-b", 100.0, error_pct=v)]) for i, v in enumerate(values)])
    step = step_changes(frame, ["error_pct"]).iloc[0]
    assert (step["before"], step["after"]) == (0.0, 5.0) and math.isnan(step["change_pct"])
