"""Locust's multi-process mode and the open model, end to end: a real server, real Locust
(stackmark.loadgen.run_cell), a run folder as `stackmark bench` writes it, analysis on the raw files.

No timing thresholds: the assertions are about who counted what (every worker's histogram merged,
every user seen, the schedule's slots all accounted for, an in-flight cap that caps), not how fast.
The one exception is `missed == 0` against a fast server at a low rate, which needs 256 requests in
flight at once (more than a second's stall at 200 req/s) to fail.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.analyze import analyze
from runformat.paths import worker_latency_paths as worker_latency_files
from scenarios.catalog import Scenario, load_scenarios
from servers.launcher import launch
from servers.matrix import Stack, load_matrix
from stackmark.bench import new_run
from stackmark.loadgen import LoadSettings, locust_command, run_cell
from stackmark.plan import BenchPlan

STACK = "fastapi-uvicorn"
DURATION_S, WARMUP_S, PRIMER_S = 2.0, 1.0, 0.5


# -- the command line (no load) -------------------------------------------------------

def _load(concurrency: int, processes: int = 1) -> LoadSettings:
    return LoadSettings(concurrency=concurrency, duration_s=DURATION_S, warmup_s=WARMUP_S, primer_s=PRIMER_S,
                        cpus=[], processes=processes)


def _arg(cmd: list[str], flag: str) -> str | None:
    return cmd[cmd.index(flag) + 1] if flag in cmd else None


def test_single_process_command_is_unchanged(tmp_path: Path) -> None:
    cmd = locust_command(load_scenarios()["json"], "http://127.0.0.1:1", _load(32), tmp_path)
    assert "--processes" not in cmd and "--max-inflight" not in cmd and "--rate" not in cmd
    assert _arg(cmd, "--phase-users") == "32"
    assert LoadSettings(concurrency=1, duration_s=1, warmup_s=1, primer_s=1, cpus=[]).processes == 1


def test_processes_and_open_model_arguments(tmp_path: Path) -> None:
    closed = locust_command(load_scenarios()["json"], "http://127.0.0.1:1", _load(32, processes=3), tmp_path)
    assert _arg(closed, "--processes") == "3" and _arg(closed, "--phase-users") == "32"
    scenario = load_scenarios()["open-json"]
    assert scenario.is_open and scenario.rate == 500.0 and scenario.locustfile.name == "open.py"
    opened = locust_command(scenario, "http://127.0.0.1:1", _load(64, processes=2), tmp_path)
    # the rate is the knob: one sending user per Locust process; concurrency = max requests in flight
    assert _arg(opened, "--rate") == "500" and _arg(opened, "--max-inflight") == "64"
    assert _arg(opened, "--phase-users") == "2"
    assert not load_scenarios()["json"].is_open


# -- real load -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, two_cpus: bool) -> Iterator[Any]:
    from stackmark.database import ensure_sqlite

    folder = tmp_path_factory.mktemp("server")
    url = ensure_sqlite(folder / "db.sqlite3")
    with launch(load_matrix().stacks[STACK], folder / "server.log", cpus=[1] if two_cpus else [],
                env={"DATABASE_URL": url}) as running:
        yield running


def measure(out: Path, server: Any, scenario: Scenario, concurrency: int, processes: int,
            two_cpus: bool) -> tuple[pd.Series, Path]:
    """One cell into a fresh run folder, as `stackmark bench` writes it; its tidy row and the cell folder."""
    stack: Stack = load_matrix().stacks[STACK]
    loadgen_cpus = [0] if two_cpus else []
    load = LoadSettings(concurrency=concurrency, duration_s=DURATION_S, warmup_s=WARMUP_S, primer_s=PRIMER_S,
                        cpus=loadgen_cpus, processes=processes)
    plan = BenchPlan([stack], [scenario], [concurrency], DURATION_S, WARMUP_S, PRIMER_S, 1,
                     [1] if two_cpus else [], loadgen_cpus, loadgen_processes=processes)
    run = new_run(plan, out)  # the run folder exactly as `stackmark bench` starts it
    record: Any = {"stack": stack.id, **{k: v for k, v in stack.to_dict().items() if k != "id"},
                   "command": server.command, "port": server.port,
                   "start": {"status": "ok", "ready_s": 0.0, "reason": None},
                   "verify": {"status": "ok", "findings": []}}
    run.write_stack(stack.id, record)
    cell_dir = run.cell_dir(stack.id, scenario.name, concurrency, 0)
    outcome = run_cell(server, scenario, load, cell_dir)
    run.write_cell(cell_dir, {
        "stack": stack.id, "scenario": scenario.name, "endpoint": scenario.path, "concurrency": concurrency,
        "repeat": 0, "status": "ok" if outcome.ok else "failed", "reason": outcome.reason,
        "loadgen_cpus": loadgen_cpus, "loadgen_processes": processes,
    })
    run.finish()
    assert outcome.ok, f"{outcome.reason}\n{(cell_dir / 'locust.out').read_text(errors='replace')[-3000:]}"
    df = analyze(run.path).frame
    assert len(df) == 1 and df.iloc[0]["status"] == "ok"
    return df.iloc[0], cell_dir


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.mark.integration
def test_two_locust_processes_merge(tmp_path: Path, server: Any, two_cpus: bool) -> None:
    users = 8
    row, cell = measure(tmp_path, server, load_scenarios()["json"], users, processes=2, two_cpus=two_cpus)
    workers = worker_latency_files(cell)
    master = read(cell / "latency.json")
    phases = read(cell / "phases.json")
    parts = [read(p) for p in workers]
    print(f"2 processes: {row.requests} requests, {row.rps:.0f} req/s, users "
          f"{[p['users']['counts'] for p in parts]}")
    assert len(workers) == 2  # one histogram per worker, beside the master's latency.json
    assert master["requests"] == {} and master["processes"] == 2 and phases["processes"] == 2
    # every worker counted against the master's window, not its own idea of it
    assert all(p["window"] == [phases["measure"], phases["end"]] for p in parts)
    assert all(p["requests"]["/json"]["count"] > 0 for p in parts)  # both workers sent load
    assert row.requests == sum(p["requests"]["/json"]["count"] for p in parts) > 0
    assert row.errors == 0
    # per-user accounting merged across the processes: every configured user seen, none starved
    assert sum(p["users"]["seen"] for p in parts) == users
    assert row.starved == False and row.starved_users == 0  # noqa: E712  (pandas' boolean scalar)
    assert math.isnan(row.offered_rps) and row.missed is pd.NA  # a closed-model cell


def open_scenario(path: str, rate: float) -> Scenario:
    return dataclasses.replace(load_scenarios()["open-json"], path=path, rate=rate)


@pytest.mark.integration
def test_open_model_low_rate_sends_every_request(tmp_path: Path, server: Any, two_cpus: bool) -> None:
    rate = 200.0
    row, cell = measure(tmp_path, server, open_scenario("/json", rate), 256, processes=1, two_cpus=two_cpus)
    block = read(cell / "latency.json")["open"]
    print(f"open 200/s: {block}, {row.requests} completed, {row.rps:.1f} req/s, p99 {row.p99_ms} ms")
    assert row.offered_rps == rate and block["offered_rate"] == rate
    assert block["sent"] > 0 and row.missed == 0
    assert row.requests > 0 and row.errors == 0
    # the schedule itself: every slot due inside the window is either sent or missed, none lost
    slots = rate * row.duration_s
    assert abs(block["sent"] + block["missed"] - slots) <= 2, (block, slots)
    assert row.late <= block["sent"]
    assert math.isnan(row.littles_ratio)  # max in flight is a cap, not a population


@pytest.mark.integration
def test_open_model_in_flight_cap_misses(tmp_path: Path, server: Any, two_cpus: bool) -> None:
    rate, wait_ms = 100.0, 50
    row, cell = measure(tmp_path, server, open_scenario(f"/io?ms={wait_ms}", rate), 1, processes=1,
                        two_cpus=two_cpus)
    block = read(cell / "latency.json")["open"]
    print(f"open 100/s, 1 in flight, {wait_ms} ms answers: {block}, {row.requests} completed")
    # one request in flight that takes at least 50 ms: at most one send per 50 ms, the rest missed
    most = math.ceil(row.duration_s * 1000 / wait_ms) + 1
    assert 0 < block["sent"] <= most
    assert row.missed > 0 and row.missed >= rate * row.duration_s - most - 2
    assert row.p50_ms >= wait_ms


@pytest.mark.integration
def test_open_model_with_two_processes(tmp_path: Path, server: Any, two_cpus: bool) -> None:
    rate = 200.0
    row, cell = measure(tmp_path, server, open_scenario("/json", rate), 256, processes=2, two_cpus=two_cpus)
    parts = [read(p) for p in worker_latency_files(cell)]
    print(f"open 200/s over 2 processes: {[p.get('open') for p in parts]}, users {[p['users'] for p in parts]}")
    assert len(parts) == 2
    assert all(p["open"]["offered_rate"] == rate for p in parts)  # the total; each worker's user sends half
    sent = sum(p["open"]["sent"] for p in parts)
    missed = sum(p["open"]["missed"] for p in parts)
    assert row.offered_rps == rate and row.missed == missed == 0
    assert abs(sent + missed - rate * row.duration_s) <= 4, (sent, missed, row.duration_s)
    assert sum(p["users"]["seen"] for p in parts) == 2 and row.starved_users == 0
