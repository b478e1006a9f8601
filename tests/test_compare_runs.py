"""`compare` on the stored runs of tests/data/compare-* (made by tests/data/make_compare_runs.py, whose
docstring tells each run's story), baselines saved from them, and the three outputs.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from analysis.compare import INCONCLUSIVE, NO_CHANGE, REGRESSION, CompareError, Comparison, compare
from analysis.compare_meta import command_change
from analysis.compare_render import markdown, to_json
from analysis.compare_sample import Sample, from_baseline, load_sample, normalised_command, to_baseline
from analysis.thresholds import Thresholds, parse_thresholds
from runformat import atomic
from runformat.baseline import BASELINE_VERSION, read_baseline, write_baseline
from runformat.errors import RunDirError
from runformat.records import StackRecord

DATA = Path(__file__).resolve().parent / "data"
FLASK = "flask-gunicorn-sync"


@pytest.fixture(scope="module")
def runs() -> dict[str, Sample]:
    names = ("base", "aa", "regressed", "noisy", "failed", "one")
    return {name: load_sample(str(DATA / f"compare-{name}")) for name in names}


def verdicts(c: Comparison, verdict: str) -> set[tuple[str, str]]:
    return {(r.key[0], r.metric) for r in c.rows if r.verdict == verdict}


def test_the_stored_runs_are_what_the_generator_writes(tmp_path: Path) -> None:
    sys.path.insert(0, str(DATA))
    try:
        import make_compare_runs
    finally:
        sys.path.remove(str(DATA))
    make_compare_runs.main(tmp_path)

    def tree(root: Path) -> dict[Path, bytes]:
        return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    for name in ("base", "aa", "regressed", "noisy", "failed", "one"):
        assert tree(DATA / f"compare-{name}") == tree(tmp_path / f"compare-{name}"), name


def test_an_a_a_pair_has_no_regression(runs: dict[str, Sample]) -> None:
    c = compare(runs["base"], runs["aa"])
    assert len(c.rows) == 12 and c.exit_code == 0 and not c.regressions
    assert verdicts(c, NO_CHANGE) == {(r.key[0], r.metric) for r in c.rows}
    assert c.headline == "no regression (12 comparisons)"
    assert c.changes.commands == ()  # other ports and the same interpreter path's name: no command changed


def test_a_planted_regression_is_found_on_exactly_that_stack_and_metric(runs: dict[str, Sample]) -> None:
    c = compare(runs["base"], runs["regressed"])
    assert [(r.key[0], r.metric) for r in c.regressions] == [(FLASK, "cpu_us_per_req")]
    assert c.rows[0].fails_gate and c.rows[0].evidence.change == pytest.approx(0.2, abs=0.01)
    assert c.exit_code == 1 and c.headline == "REGRESSION in 1 of 12 comparisons"
    assert c.changes.packages == ("flask 3.1.3 -> 3.1.4",)
    assert c.changes.git == "1a2b3c4d5e -> 9f8e7d6c5b"


def test_a_noisy_current_run_is_inconclusive_on_rps_and_p99_not_a_regression(runs: dict[str, Sample]) -> None:
    c = compare(runs["base"], runs["noisy"])
    assert c.exit_code == 0
    for row in c.rows:
        if row.metric in ("rps", "p99_ms"):
            assert row.verdict == INCONCLUSIVE and "noisy" in row.reason and row.reason.endswith("on current")
            assert abs(row.evidence.change) > 0.4  # halved / doubled: it would be a regression unflagged
        else:
            assert row.verdict == NO_CHANGE, row


def test_one_repeat_each_is_inconclusive_and_says_how_many(runs: dict[str, Sample]) -> None:
    c = compare(runs["one"], runs["one"])
    assert {(r.verdict, r.reason) for r in c.rows} == {(INCONCLUSIVE, "needs --repeat 3 (1 vs 1 repeats)")}
    assert c.exit_code == 0


def test_a_failed_current_cell_is_a_regression(runs: dict[str, Sample]) -> None:
    c = compare(runs["base"], runs["failed"])
    assert {(r.key[0], r.metric) for r in c.regressions} == {(FLASK, m) for m in
                                                             ("cpu_us_per_req", "error_pct", "rps", "p99_ms")}
    assert all("server process 4151 died during the cell (all 5 repeats)" in r.reason for r in c.regressions)


def test_a_cell_the_current_run_meant_to_measure_but_did_not_is_a_regression(runs: dict[str, Sample]) -> None:
    current = runs["aa"]
    cells = {k: v for k, v in current.cells.items() if k[0] != FLASK}
    gone = dataclasses.replace(current, cells=cells, stack_problems={FLASK: "did not start: exit code 3"})
    c = compare(runs["base"], gone)
    assert {r.reason for r in c.regressions} == {"failed in current: did not start: exit code 3"}
    # a stack the current run never meant to measure is listed, not judged
    narrower = dataclasses.replace(gone, stacks=tuple(s for s in current.stacks if s != FLASK))
    c = compare(runs["base"], narrower)
    assert c.exit_code == 0 and c.only_in_base == ((FLASK, "json", "/json", 8),)


def test_thresholds_per_stack_and_which_metrics_gate(runs: dict[str, Sample]) -> None:
    lenient = parse_thresholds({"stacks": {FLASK: {"cpu_us_per_req": 0.25}}}, "t")
    assert compare(runs["base"], runs["regressed"], lenient).exit_code == 0
    errors_only = parse_thresholds({"gate": {"metrics": ["error_pct"]}}, "t")
    c = compare(runs["base"], runs["regressed"], errors_only)
    assert c.exit_code == 0 and verdicts(c, REGRESSION) == {(FLASK, "cpu_us_per_req")}
    assert "1 regression on a metric that does not gate" in c.headline


def test_another_host_is_not_comparable_unless_allowed(runs: dict[str, Sample]) -> None:
    other = dataclasses.replace(runs["aa"], host={**runs["aa"].host, "cpu_count": 4})
    with pytest.raises(CompareError, match=r"^not comparable: cpu_count 2 -> 4 .*--allow-different-host"):
        compare(runs["base"], other)
    c = compare(runs["base"], other, allow_different_host=True)
    assert c.incomparable == ("cpu_count 2 -> 4",) and c.exit_code == 0
    pinned = dataclasses.replace(runs["aa"], settings={**runs["aa"].settings, "server_cpus": [0, 1]})
    with pytest.raises(CompareError, match="server_cpus 1 -> 0,1"):
        compare(runs["base"], pinned)


def test_another_python_is_the_change_under_test_when_said_so(runs: dict[str, Sample]) -> None:
    newer = dataclasses.replace(runs["aa"], host={**runs["aa"].host, "python": "3.12.8"})
    with pytest.raises(CompareError, match="python 3.11.9 -> 3.12.8"):
        compare(runs["base"], newer)
    c = compare(runs["base"], newer, python_is_change=True)
    assert c.changes.packages[0] == "python 3.11.9 -> 3.12.8" and not c.incomparable


def test_no_cell_in_common_is_refused(runs: dict[str, Sample]) -> None:
    moved = dataclasses.replace(runs["aa"], cells={(s, sc, ep, 64): v for (s, sc, ep, _), v in
                                                  runs["aa"].cells.items()}, settings={**runs["aa"].settings,
                                                                                        "concurrency": [64]})
    with pytest.raises(CompareError, match="^no cell in common"):
        compare(runs["base"], moved)


def test_command_lines_ignore_ports_and_paths_and_show_what_changed() -> None:
    record: StackRecord = {
        "stack": "x", "app": "a", "framework": "f", "server": "uvicorn", "worker": "w", "interface": "asgi",
        "command": ["/home/ci/.venv/bin/python", "-m", "uvicorn", "--port", "40123", "--bind", "127.0.0.1:40123",
                    "--http", "httptools"], "port": 40123}
    assert normalised_command(record) == ("python", "-m", "uvicorn", "--port", "{port}", "--bind",
                                          "127.0.0.1:{port}", "--http", "httptools")
    assert command_change("x", ("a", "--http", "httptools"), ("a", "--http", "h11")) == "x: `httptools` -> `h11`"
    assert command_change("x", ("a",), ("a", "--reload")) == "x: added `--reload`"


def test_a_baseline_round_trips_and_compares_equal_to_its_run(runs: dict[str, Sample], tmp_path: Path) -> None:
    path = write_baseline(tmp_path / "main.json", to_baseline(runs["base"], "main"))
    record = read_baseline(path)
    assert record["baseline_version"] == BASELINE_VERSION
    restored = from_baseline(record, path)
    assert restored.cells == runs["base"].cells  # per-repeat values, failures and flags, not only medians
    assert restored.commands == runs["base"].commands
    c = compare(restored, runs["base"])
    assert c.exit_code == 0 and {r.verdict for r in c.rows} == {NO_CHANGE}
    assert compare(restored, runs["regressed"]).exit_code == 1
    failed = from_baseline(read_baseline(write_baseline(tmp_path / "f.json", to_baseline(runs["failed"], "f"))),
                           tmp_path / "f.json")
    assert failed.cells == runs["failed"].cells  # failed repeats with their reasons survive


@pytest.mark.parametrize(("edit", "needle"), [
    ({"baseline_version": 2}, "baseline_version 2 is newer than this stackmark understands (1); upgrade"),
    ({"baseline_version": "1"}, "baseline_version '1' is unknown"),
    ({"baseline_version": None}, "baseline_version None is unknown"),
    ({"cells": "none"}, "cells: should be a list"),
])
def test_a_baseline_of_another_version_or_shape_is_one_line(runs: dict[str, Sample], tmp_path: Path,
                                                             edit: dict, needle: str) -> None:
    path = tmp_path / "b.json"
    atomic.write_json(path, {**to_baseline(runs["one"], "b"), **edit})
    with pytest.raises(RunDirError) as exc:
        read_baseline(path)
    assert needle in str(exc.value) and "\n" not in str(exc.value)
    atomic.write_text(path, "{not json")
    with pytest.raises(RunDirError, match="not valid JSON"):
        read_baseline(path)


def test_markdown_leads_with_the_verdict_and_collapses_unchanged_rows(runs: dict[str, Sample]) -> None:
    text = markdown(compare(runs["base"], runs["regressed"]))
    lines = text.splitlines()
    assert lines[0] == "### :x: stackmark compare: REGRESSION in 1 of 12 comparisons"
    table = [line for line in lines if line.startswith("| ")]
    assert len(table) == 2 and "| regression | flask-gunicorn-sync | json c8 | CPU us/req |" in table[1]
    assert "11 comparisons with no change" in text
    assert "- versions: flask 3.1.3 -> 3.1.4" in text and "- git: 1a2b3c4d5e -> 9f8e7d6c5b" in text
    verbose = markdown(compare(runs["base"], runs["regressed"]), verbose=True)
    assert len([line for line in verbose.splitlines() if line.startswith("| ")]) == 13
    assert markdown(compare(runs["base"], runs["aa"])).splitlines()[0].endswith("no regression (12 comparisons)")


def test_json_holds_everything_with_its_version(runs: dict[str, Sample]) -> None:
    doc = to_json(compare(runs["base"], runs["failed"], Thresholds()))
    text = json.dumps(doc, allow_nan=False)  # no NaN: null where a number is unknown
    back = json.loads(text)
    assert back["compare_version"] == 1 and back["verdict"] == "regression" and back["exit_code"] == 1
    assert back["counts"] == {"regression": 4, "improvement": 0, "inconclusive": 0, "no change": 8}
    first = back["rows"][0]
    assert first["stack"] == FLASK and first["current"]["failed"][0]["reason"].startswith("server process 4151")
    assert first["change"] is None and len(first["base"]["values"]) == 5
