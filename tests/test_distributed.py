"""Locust's distributed mode (`--locust-workers N`): a master that waits for its workers, which report their
histograms to it over Locust's own messaging (the path remote workers take), merged into one latency.json.

The end-to-end test runs a real bench with two local workers against a real fast stack: who counted what
(both workers sent load, their shares add up to the merged total), where the master listened, and that no
Locust process outlives the run. No timing thresholds.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from procs import cmdline
from runformat.latency import merge_reports, user_summary
from runformat.records import LatencyFile
from stackmark.errors import UserError
from stackmark.loadgen import Distributed
from stackmark.plan import WorkersRequest, distributed_mode, workers_request

# -- the merge of worker reports (no load) --------------------------------------------------------------


def _part(counts: list[int], hist: dict[str, int], failures: int = 0) -> LatencyFile:
    return {"bucket_ms": 0.01, "window": [10.0, 12.0], "run_token": "t",
            "requests": {"/json": {"count": sum(hist.values()), "failures": failures, "bytes": 7, "hist": hist}},
            "users": user_summary(4, counts), "timeline": {"slot_s": 0.1, "completed": [1, 2]}}


def test_worker_reports_merge_into_one_record_with_each_workers_share() -> None:
    master: LatencyFile = {"bucket_ms": 0.01, "window": [10.0, 12.0], "run_token": "t", "requests": {},
                           "users": user_summary(4, []), "timeline": {"slot_s": 0.1, "completed": [0, 0]}}
    merged = merge_reports(master, {"b": _part([3, 4], {"5": 3, "7": 4}, failures=1), "a": _part([2, 0], {"5": 2})})
    assert merged["requests"]["/json"] == {"count": 9, "failures": 1, "bytes": 14, "hist": {"5": 5, "7": 4}}
    assert merged["workers"] == [{"worker": "a", "requests": 2, "failures": 0},
                                 {"worker": "b", "requests": 7, "failures": 1}]
    users = merged["users"]
    assert (users["expected"], users["seen"], users["starved"], users.get("counts")) == (4, 4, 1, [0, 2, 3, 4])
    assert merged["timeline"]["completed"] == [2, 4] and merged["window"] == [10.0, 12.0]
    assert merge_reports(master, {})["workers"] == []  # no worker reported: nothing to merge, and it says so


# -- the settings: checked, recorded, read back by a resume ---------------------------------------------


@pytest.mark.parametrize(("request_", "processes", "words"), [
    (WorkersRequest(0), 1, "--locust-workers 0 is out of range"),
    (WorkersRequest(-2), 1, "--locust-workers -2 is out of range"),
    (WorkersRequest(3), 1, "use 1 to 2 (one per load-generator CPU"),
    (WorkersRequest(2), 2, "use one of them"),
    (WorkersRequest(2, "my-laptop"), 1, "--master-bind-host 'my-laptop' is not an IP address"),
    (WorkersRequest(None, "0.0.0.0"), 1, "add --locust-workers N"),
    (WorkersRequest(None, None, True), 1, "add --locust-workers N"),
])
def test_bad_distributed_flags_are_one_line(request_: WorkersRequest, processes: int, words: str) -> None:
    with pytest.raises(UserError) as exc:
        distributed_mode(request_, processes, cpus_for_locust=2)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_distributed_settings_round_trip() -> None:
    assert workers_request(None, None, False) is None and distributed_mode(None, 1, 2) is None
    assert distributed_mode(WorkersRequest(2), 1, 2) == Distributed(2, "127.0.0.1", False)
    remote = distributed_mode(WorkersRequest(40, "0.0.0.0", True), 1, 1)  # remote: not bound by local CPUs
    assert remote == Distributed(40, "0.0.0.0", True) and not remote.loopback
    # what run.json records is what a resume reads back (plan.from_run)
    again = workers_request(remote.workers, remote.bind_host, remote.remote)
    assert distributed_mode(again, 1, 1) == remote


def test_bad_flag_on_the_command_line_exits_2(stackmark_cmd: list[str], tmp_path: Path) -> None:
    r = subprocess.run([*stackmark_cmd, "bench", "--stacks", "bare-asgi-uvicorn", "--locust-workers", "2",
                        "--locust-processes", "2", "--loadgen-cpus", "0", "--no-pin", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--locust-processes" in r.stderr and not any(tmp_path.iterdir())


# -- real load: a bench with two local workers ----------------------------------------------------------


def _masters(port_flag: str = "--master-bind-port") -> list[psutil.Process]:
    return [p for p in psutil.process_iter() if port_flag in cmdline(p)]


@pytest.mark.integration
def test_two_local_workers_both_count_in_the_merged_results(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs 2 CPUs for 2 local Locust workers")
    out = tmp_path / "out"
    bench = subprocess.Popen([*stackmark_cmd, "bench", "--stacks", "bare-asgi-uvicorn", "--scenario", "json",
                              "--concurrency", "4", "--primer", "0.5", "--warmup", "0", "--duration", "1.5",
                              "--locust-workers", "2", "--loadgen-cpus", f"{cpus[0]},{cpus[1]}",
                              "--server-cpus", str(cpus[1]), "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    listening: set[str] = set()
    ports: set[int] = set()
    siblings: set[int] = set()  # local workers beside the master, under one parent: the sampler's tree
    while bench.poll() is None:  # where the master listens, seen from outside while it runs
        for master in _masters():
            try:
                conns = master.net_connections(kind="tcp")
                parent = master.parent()
                siblings.add(sum("--worker" in cmdline(c) for c in parent.children()) if parent else 0)
            except psutil.Error:
                continue
            for c in conns:
                if c.status == psutil.CONN_LISTEN:
                    listening.add(c.laddr.ip)
                    ports.add(c.laddr.port)
        time.sleep(0.05)
    output = bench.communicate(timeout=60)[0]
    assert bench.returncode == 0, output
    cell = next(out.glob("*/stacks/bare-asgi-uvicorn/json-*"))
    latency: dict[str, Any] = json.loads((cell / "latency.json").read_text())
    shares = latency["workers"]
    print(f"workers: {shares}, merged {latency['requests']['/json']['count']}")
    assert len(shares) == 2 and all(s["requests"] > 0 for s in shares)  # both workers sent load
    assert sum(s["requests"] for s in shares) == latency["requests"]["/json"]["count"]
    assert latency["users"]["seen"] == 4  # every user, over both workers, accounted for
    assert listening == {"127.0.0.1"} and ports, output  # the master bound to loopback, and said so
    assert "Locust master binds to 127.0.0.1" in output
    assert 2 in siblings  # master and workers in one process tree: generator CPU covers the workers
    settings = json.loads(next(out.glob("*/run.json")).read_text())["settings"]
    assert (settings["loadgen_workers"], settings["master_bind_host"], settings["remote_workers"]) == (
        2, "127.0.0.1", False)
    left = [p for p in psutil.process_iter() if any(f"--master-port {port}" in cmdline(p) or
                                                    f"--master-bind-port {port}" in cmdline(p) for port in ports)]
    assert not left, [cmdline(p) for p in left]  # no master or worker outlived the run
