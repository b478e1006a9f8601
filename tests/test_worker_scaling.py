"""Worker scaling (`stackmark bench --workers 1,2,...`): the plan's expansion, its refusals through the real
command line, a resume that rebuilds the same stacks, the scaling table and its chart. Units only: the
lead's end-to-end test runs --workers 1,2 under real load."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.chart_scaling import scaling_chart
from analysis.columns import SCALING_COLUMNS
from analysis.scaling import scaling
from servers.base import LaunchSpec
from servers.matrix import load_matrix
from servers.registry import SERVERS
from stackmark.bench import _stack_record, new_run
from stackmark.cli import main
from stackmark.commands import configuration_line
from stackmark.plan import BenchPlan, Overrides
from stackmark.worker_scaling import base_ids

PAIR = ["flask-granian", "fastapi-uvicorn"]
# server -> the flag of its command line that carries the worker count
WORKER_FLAG = {"gunicorn": "--workers", "granian": "--workers", "hypercorn": "--workers", "uvicorn": "--workers",
               "uwsgi": "--processes"}


def plan_of(**given: Any) -> BenchPlan:
    return BenchPlan.from_profile(load_matrix(), Overrides(no_pin=True, **given))


def test_each_stack_runs_at_each_count_as_a_stack_of_its_own() -> None:
    plan = plan_of(stacks=PAIR, scenarios=["json"], worker_counts=["1,2"])
    assert [(s.id, s.workers) for s in plan.stacks] == [
        ("flask-granian-w1", 1), ("flask-granian-w2", 2), ("fastapi-uvicorn-w1", 1), ("fastapi-uvicorn-w2", 2)]
    by_id = {s.id: s for s in plan.stacks}
    matrix = load_matrix()
    assert by_id["flask-granian-w1"].config_hash() == matrix.stacks["flask-granian"].config_hash()
    assert by_id["flask-granian-w2"].config_hash() != by_id["flask-granian-w1"].config_hash()
    assert {s.app for s in plan.stacks} == {"flask", "fastapi"}  # the family analysis groups by is kept
    settings = plan.settings()
    assert settings["worker_counts"] == [1, 2] and settings["workers"] == [1, 2]
    record = _stack_record(plan, by_id["fastapi-uvicorn-w2"], 0)
    assert (record["stack"], record.get("workers"), record.get("app"), record.get("variant")) == (
        "fastapi-uvicorn-w2", 2, "fastapi", "uvicorn")
    assert "worker_counts" not in plan_of(stacks=PAIR).settings()  # no --workers: nothing new recorded


def test_a_single_count_still_names_its_stacks() -> None:
    plan = plan_of(stacks=["flask-granian"], worker_counts=["2"])
    assert [(s.id, s.workers) for s in plan.stacks] == [("flask-granian-w2", 2)]


def test_the_up_front_line_says_the_counts_and_the_server_cpus() -> None:
    line = configuration_line(plan_of(stacks=PAIR, worker_counts=["1", "2"], server_cpus="1"))
    assert "each stack at 1, 2 worker(s)" in line and "on 1 server CPU(s)" in line


def test_every_launched_server_of_the_quick_profile_gets_the_count_on_its_command_line() -> None:
    plan = plan_of(worker_counts=["1,3"])
    servers = {s.server for s in plan.stacks}
    assert servers == set(WORKER_FLAG)  # the quick profile's servers, each checked below
    for stack in plan.stacks:
        cmd = SERVERS[stack.server].command(LaunchSpec(stack.target, stack.interface, "127.0.0.1", 45678,
                                                       stack.workers, stack.backlog, stack.options))
        flag = WORKER_FLAG[stack.server]
        if stack.workers == 1 and flag not in cmd:
            continue  # uvicorn says nothing for its default of one
        assert cmd[cmd.index(flag) + 1] == str(stack.workers), (stack.id, cmd)


@pytest.mark.parametrize(("args", "needle"), [
    (["--workers", "0"], "--workers 0 is out of range; use 1 to 256"),
    (["--workers", "1,x"], "--workers must be whole numbers, not 'x'"),
    (["--workers", "1,2,1"], "--workers lists 1 more than once"),
    (["--workers", ","], "--workers needs at least one worker count"),
    (["--stacks", "fastapi-daphne", "--workers", "1,2"], "fastapi-daphne runs on daphne, which runs at most 1"),
    (["--workers", "1,2", "--configuration", "tuned"], "--configuration tuned sets its own; drop one of them"),
    (["--profile", "tuned", "--workers", "1,2"], "profile 'tuned' (configuration tuned) sets its own"),
    (["--target", "http://127.0.0.1:9", "--workers", "1,2"], "--target measures a running server with the workers"),
    (["--resume", "/nonexistent", "--workers", "1,2"], "runs the run's own settings; drop --no-pin, --workers"),
])
def test_a_bad_worker_request_is_one_line_and_exit_2(args: list[str], needle: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--no-pin", "--out", str(tmp_path), *args])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured
    assert len(lines) == 1 and needle in lines[0], lines
    assert "Traceback" not in captured.err + captured.out
    assert not any(tmp_path.iterdir())  # refused before any run folder


def test_a_resume_rebuilds_exactly_the_same_stacks(tmp_path: Path) -> None:
    plan = plan_of(stacks=PAIR, scenarios=["json"], worker_counts=["2,1"], concurrency=["16"])
    run = new_run(plan, tmp_path)
    assert run.read_meta()["settings"]["worker_counts"] == [2, 1]
    resumed, _ = BenchPlan.from_run(run.path, load_matrix())
    assert resumed.stacks == plan.stacks and list(resumed.worker_counts or []) == [2, 1]
    assert [s.id for s in resumed.stacks][:2] == ["flask-granian-w2", "flask-granian-w1"]  # the order given
    unscaled = new_run(plan_of(stacks=PAIR, scenarios=["json"]), tmp_path)
    again, _ = BenchPlan.from_run(unscaled.path, load_matrix())
    assert [s.id for s in again.stacks] == PAIR and again.worker_counts is None


def test_base_ids_drop_only_the_count_suffix() -> None:
    assert base_ids(["a-w1", "a-w2", "web-wsgi-w10", "b-w1"]) == ["a", "web-wsgi", "b"]


# --- the scaling table and chart ------------------------------------------------------------------------------

def record(app: str, variant: str, workers: int, configuration: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"app": app, "variant": variant, "workers": workers}
    if configuration is not None:
        rec["configuration"] = configuration
    return rec


def aggregate(rows: list[tuple[str, float, float]], scenario: str = "json", concurrency: int = 16) -> pd.DataFrame:
    return pd.DataFrame([{"stack": s, "scenario": scenario, "endpoint": "json", "concurrency": concurrency,
                          "rps": rps, "cpu_us_per_req": cpu} for s, rps, cpu in rows])


STACKS = {"one": record("flask", "granian", 1), "two": record("flask", "granian", 2),
          "four": record("flask", "granian", 4, "default"),
          "solo": record("fastapi", "uvicorn", 1),  # one count only: no scaling row
          "tuned-two": record("flask", "granian", 2, "tuned")}  # another configuration: another family


def test_efficiency_is_rps_over_workers_times_one_workers_rps() -> None:
    agg = aggregate([("one", 1000.0, 100.0), ("two", 1500.0, 130.0), ("four", 2000.0, 190.0),
                     ("solo", 900.0, 50.0), ("tuned-two", 5000.0, 40.0)])
    table = scaling(agg, STACKS, 2)
    assert list(table.columns) == SCALING_COLUMNS
    assert table["stack"].tolist() == ["one", "two", "four"]
    assert set(table["base"]) == {"one"} and set(table["rps_one"]) == {1000.0}
    assert table["efficiency"].tolist() == [1.0, 0.75, 0.5]
    assert table["cpu_us_per_req"].tolist() == [100.0, 130.0, 190.0]
    assert table["workers"].tolist() == [1, 2, 4] and set(table["server_cpus"]) == {2}


def test_families_come_from_stack_json_not_from_ids() -> None:
    stacks = {"flask-granian-w1": record("flask", "granian", 1), "flask-granian-w2": record("django", "granian", 2),
              "x": record("app", "v", 1), "y": record("app", "v", 3)}
    agg = aggregate([("flask-granian-w1", 100.0, 1.0), ("flask-granian-w2", 200.0, 1.0), ("x", 100.0, 1.0),
                     ("y", 240.0, 1.0)])
    table = scaling(agg, stacks, 4)
    assert table["stack"].tolist() == ["x", "y"] and table["efficiency"].tolist() == [1.0, 0.8]


def test_each_scenario_and_concurrency_is_its_own_comparison_and_a_failed_base_moves_up() -> None:
    agg = pd.concat([aggregate([("one", 1000.0, 1.0), ("two", 1800.0, 1.0)], concurrency=16),
                     aggregate([("one", float("nan"), 1.0), ("two", 1000.0, 1.0), ("four", 1500.0, 1.0)],
                               concurrency=64)])
    table = scaling(agg, STACKS, 2)
    at16 = table[table["concurrency"] == 16]
    at64 = table[table["concurrency"] == 64]
    assert at16["efficiency"].tolist() == [1.0, 0.9]
    # no ok 1-worker cell at 64: the base is the fewest workers measured, its req/s per worker the yardstick
    assert set(at64["base"]) == {"two"} and set(at64["rps_one"]) == {500.0}
    assert at64["efficiency"].tolist() == [1.0, 0.75]


def test_no_stack_at_several_counts_is_an_empty_frame_with_the_columns() -> None:
    cases: list[tuple[pd.DataFrame, Mapping[str, Mapping[str, Any] | None]]] = [
        (aggregate([("one", 1000.0, 1.0), ("solo", 900.0, 1.0)]), STACKS),
        (aggregate([]).reindex(columns=["stack", "scenario", "endpoint", "concurrency", "rps"]), STACKS),
        (aggregate([("one", 1000.0, 1.0), ("two", 1800.0, 1.0)]), {"one": None, "two": None})]
    for agg, stacks in cases:
        table = scaling(agg, stacks, 2)
        assert table.empty and list(table.columns) == SCALING_COLUMNS


def test_the_chart_is_a_png_naming_the_server_cpus_and_none_without_scaling(tmp_path: Path) -> None:
    table = scaling(aggregate([("one", 1000.0, 1.0), ("two", 1500.0, 1.0), ("four", 2000.0, 1.0)]), STACKS, 2)
    chart = scaling_chart(table, tmp_path)
    assert chart is not None and chart.file == "scaling.png" and chart.section == "scenarios"
    assert "on 2 server CPUs" in chart.title and "2 server CPUs" in chart.caption
    assert (tmp_path / chart.file).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert scaling_chart(scaling(aggregate([("one", 1.0, 1.0)]), STACKS, 2), tmp_path / "none") is None
    assert not (tmp_path / "none").exists()
