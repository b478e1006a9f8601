"""The starved flag end to end: a real uWSGI, a real short Locust cell, analysis on the raw files.

uWSGI's `--http11-socket` with one non-threaded process serves one keep-alive
connection at a time and leaves the others in the listen queue, and Locust
reports no error for the users stuck there. The per-user accounting of
scenarios/phases.py must make analysis flag that cell `starved`; the same
stack in its normal `--http-socket` mode (one request per connection, every
connection answered in turn) must not be flagged. No timing thresholds: the
assertions are about who got answers, not how fast.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.analyze import analyze
from scenarios.catalog import load_scenarios
from servers.launcher import launch
from servers.matrix import Stack, load_matrix
from stackmark.bench import new_run
from stackmark.loadgen import LoadSettings, run_cell
from stackmark.plan import BenchPlan

pytestmark = pytest.mark.integration

USERS = 16


def measure_one_cell(out: Path, stack: Stack, two_cpus: bool) -> tuple[pd.Series, dict[str, Any], Path]:
    """Start `stack`, run one json cell at USERS users, write a run folder as `stackmark bench` does; read it back."""
    server_cpus, loadgen_cpus = ([1], [0]) if two_cpus else ([], [])
    load = LoadSettings(concurrency=USERS, duration_s=2, warmup_s=1, primer_s=0.5, cpus=loadgen_cpus)
    scenario = load_scenarios()["json"]
    plan = BenchPlan([stack], [scenario], [USERS], load.duration_s, load.warmup_s, load.primer_s, 1,
                     server_cpus, loadgen_cpus)
    run = new_run(plan, out)  # the run folder exactly as `stackmark bench` starts it
    record: Any = {"stack": stack.id, **{k: v for k, v in stack.to_dict().items() if k != "id"},
                              "cpus": server_cpus}
    cell_dir = run.cell_dir(stack.id, scenario.name, USERS, 0)
    with launch(stack, run.stack_dir(stack.id) / "server.log", cpus=server_cpus) as server:
        record.update(command=server.command, port=server.port,
                      start={"status": "ok", "ready_s": round(server.ready_s, 3), "reason": None},
                      verify={"status": "ok", "findings": []})
        run.write_stack(stack.id, record)
        outcome = run_cell(server, scenario, load, cell_dir)
        run.write_cell(cell_dir, {
            "stack": stack.id, "scenario": scenario.name, "endpoint": scenario.path,
            "concurrency": USERS, "repeat": 0,
            "status": "ok" if outcome.ok else "failed", "reason": outcome.reason,
            "loadgen_cpus": list(load.cpus), "loadgen_processes": 1,
        })
    run.finish()
    assert outcome.ok, f"{outcome.reason}\n{(cell_dir / 'locust.out').read_text(errors='replace')[-2000:]}"
    df = analyze(run.path).frame
    assert len(df) == 1
    latency = json.loads((cell_dir / "latency.json").read_text())
    return df.iloc[0], latency, run.path


@pytest.fixture(scope="module")
def uwsgi() -> Stack:
    return load_matrix().stacks["flask-uwsgi"]


def test_http11_socket_single_process_is_flagged_starved(tmp_path: Path, uwsgi: Stack, two_cpus: bool) -> None:
    stack = dataclasses.replace(uwsgi, options={**uwsgi.options, "protocol": "http11-socket"})
    row, latency, run_dir = measure_one_cell(tmp_path, stack, two_cpus)
    users = latency["users"]
    print(f"http11-socket: users {users}, {row.requests} requests, {row.errors} errors, "
          f"Little's ratio {row.littles_ratio:.2f}")
    assert users["expected"] == USERS
    assert row.requests > 0  # the one connection it serves is served
    assert row.errors == 0  # ... and the load tool saw nothing wrong
    assert users["starved"] >= 1 and users["min"] == 0
    assert row.starved == True  # noqa: E712  (pandas' boolean scalar)
    assert row.starved_users == users["starved"] + max(0, users["expected"] - users["seen"])
    assert "starved" in analyze(run_dir).ranking.iloc[0]["flags"].split(",")


def test_http_socket_is_not_starved(tmp_path: Path, uwsgi: Stack, two_cpus: bool) -> None:
    assert uwsgi.options.get("protocol", "http-socket") == "http-socket"
    row, latency, _ = measure_one_cell(tmp_path, uwsgi, two_cpus)
    users = latency["users"]
    print(f"http-socket: users {users}, {row.requests} requests, Little's ratio {row.littles_ratio:.2f}")
    assert users == {**users, "expected": USERS, "seen": USERS, "starved": 0}
    assert users["min"] > 0
    assert row.starved == False  # noqa: E712
    assert row.starved_users == 0
