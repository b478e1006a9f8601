"""Drive a run: stack matrix -> launcher -> verify -> Locust cells -> raw results.

Repeats are interleaved (A, B, C, A, B, C ...) and every repeat starts each
stack afresh, so slow drift of a shared machine spreads over all stacks
instead of landing on one. A stack that fails to start or to verify is
recorded and skipped; the run goes on.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from apps.contract import ENDPOINTS
from scenarios.catalog import Scenario
from servers.launcher import REPO_ROOT, LaunchError, launch
from servers.matrix import Stack
from stackmark import metadata
from stackmark.loadgen import LoadSettings, run_cell
from stackmark.rundir import RunDir
from stackmark.verify import verify_stack

Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchPlan:
    stacks: Sequence[Stack]
    scenarios: Sequence[Scenario]
    concurrency: Sequence[int]
    duration_s: float
    warmup_s: float
    primer_s: float
    repeat: int
    server_cpus: Sequence[int]
    loadgen_cpus: Sequence[int]

    def settings(self) -> dict[str, Any]:
        return {
            "scenarios": [s.name for s in self.scenarios],
            "concurrency": list(self.concurrency),
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "primer_s": self.primer_s,
            "repeat": self.repeat,
            "server_cpus": list(self.server_cpus),
            "loadgen_cpus": list(self.loadgen_cpus),
            "workers": sorted({s.workers for s in self.stacks}),
            "loadgen": "locust FastHttpUser, 1 process",
        }

    def cells_per_start(self) -> int:
        return len(self.scenarios) * len(self.concurrency)


@dataclass
class BenchResult:
    run: RunDir
    failures: list[str] = field(default_factory=list)  # one line each: what failed and why


def contract_endpoints(scenarios: Sequence[Scenario]) -> list[Any]:
    """The contract endpoints the scenarios use (every one is verified before load)."""
    paths = {s.endpoint for s in scenarios}
    return [e for e in ENDPOINTS.values() if e.path in paths]


def run_bench(plan: BenchPlan, out: Path, log: Log = print) -> BenchResult:
    meta = {
        "started_at": time.time(),
        "git": metadata.git_state(REPO_ROOT),
        "host": metadata.host_info(),
        "packages": metadata.package_versions(),
        "settings": plan.settings(),
        "stacks": [s.id for s in plan.stacks],
    }
    run = RunDir.create(out, meta)
    result = BenchResult(run)
    log(f"run folder: {run.path}")
    endpoints = contract_endpoints(plan.scenarios)
    load_base = dict(duration_s=plan.duration_s, warmup_s=plan.warmup_s, primer_s=plan.primer_s,
                     cpus=list(plan.loadgen_cpus))
    for repeat in range(plan.repeat):
        for stack in plan.stacks:
            _bench_stack(plan, run, stack, repeat, endpoints, load_base, result, log)
    run.finish()
    return result


def _bench_stack(plan: BenchPlan, run: RunDir, stack: Stack, repeat: int, endpoints: list[Any],
                 load_base: dict[str, Any], result: BenchResult, log: Log) -> None:
    stack_dir = run.stack_dir(stack.id)
    record: dict[str, Any] = {"stack": stack.id, **{k: v for k, v in stack.to_dict().items() if k != "id"},
                              "cpus": list(plan.server_cpus)}
    t0 = time.monotonic()
    try:
        with launch(stack, stack_dir / "server.log", cpus=plan.server_cpus) as server:
            record.update(command=server.command, port=server.port,
                          start={"status": "ok", "ready_s": round(server.ready_s, 3), "reason": None})
            verdict = verify_stack(server.host, server.port, endpoints)
            record["verify"] = verdict.to_dict()
            run.write_stack(stack.id, record)
            bad = {f.path for f in verdict.findings if f.level == "fail"}
            log(f"[{repeat}] {stack.id}: ready in {server.ready_s:.2f} s, verify {verdict.status}")
            if verdict.status == "fail":
                for line in _finding_lines(verdict):
                    log(f"    {line}")
            for scenario in plan.scenarios:
                if scenario.endpoint in bad:
                    result.failures.append(f"{stack.id}: {scenario.endpoint} failed verification, not measured")
                    continue
                for conc in plan.concurrency:
                    _one_cell(run, server, stack, scenario, conc, repeat, load_base, result, log)
    except LaunchError as exc:
        record.update(start={"status": "failed", "ready_s": None, "reason": exc.reason, "log_tail": exc.log_tail},
                      verify=None)
        run.write_stack(stack.id, record)
        result.failures.append(f"{stack.id}: {exc.reason}")
        log(f"[{repeat}] {stack.id}: FAILED to start: {exc.reason}")
    log(f"[{repeat}] {stack.id}: done in {time.monotonic() - t0:.1f} s")


def _one_cell(run: RunDir, server: Any, stack: Stack, scenario: Scenario, conc: int, repeat: int,
              load_base: dict[str, Any], result: BenchResult, log: Log) -> None:
    cell_dir = run.cell_dir(stack.id, scenario.name, conc, repeat)
    load = LoadSettings(concurrency=conc, **load_base)
    outcome = run_cell(server, scenario, load, cell_dir)
    run.write_cell(cell_dir, {
        "stack": stack.id, "scenario": scenario.name, "endpoint": scenario.endpoint,
        "concurrency": conc, "repeat": repeat,
        "status": "ok" if outcome.ok else "failed", "reason": outcome.reason,
        "loadgen_cpus": list(load.cpus), "loadgen_processes": 1,
        "server_log_tail": None if outcome.ok else server.log_tail(),
    })
    if not outcome.ok:
        result.failures.append(f"{stack.id} {scenario.name} c{conc}: {outcome.reason}")
        log(f"    {scenario.name} c{conc}: FAILED: {outcome.reason}")
    else:
        log(f"    {scenario.name} c{conc}: ok")


def _finding_lines(verdict: Any) -> list[str]:
    return [f"{f.path} {f.check}: expected {f.expected} got {f.actual}" for f in verdict.findings]
