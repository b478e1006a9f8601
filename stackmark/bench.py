"""Drive a run: stack matrix -> launcher -> verify -> Locust cells -> raw results.

Repeats are interleaved (A, B, C, A, B, C ...) and every repeat starts each
stack afresh, so slow drift of a shared machine spreads over all stacks
instead of landing on one. A stack that fails to start, to verify, or
crashes under load is recorded and skipped; the run goes on. A run can be
resumed: only cells without a finished `cell.json` (or that failed) run again.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar, cast

from apps.contract import ENDPOINTS, Endpoint
from runformat.records import CellRecord, StackRecord
from runformat.rundir import RunDir
from scenarios.catalog import Scenario
from servers.base import REPO_ROOT, ServerHandle
from servers.launcher import LaunchError, launch
from servers.matrix import Stack
from stackmark import metadata
from stackmark.errors import UserError
from stackmark.loadgen import LoadSettings, live_stats, locust_started_at, run_cell
from stackmark.plan import BenchPlan
from stackmark.progress import CellWatch, PlainProgress, Progress, nominal_cell_s
from stackmark.smoke import StackChecks, contract_not_checked, smoke_check, smoke_folder
from stackmark.verify import VerifyResult, verify_stack

T = TypeVar("T")
# How a stack is brought up for its cells: `launch` on this machine by default; compose_bench hands its own
# (the stack in a container), so verification, Locust, the sampler and the raw files stay this code.
ServerFactory = Callable[["BenchPlan", Stack, Path, dict[str, str]], contextlib.AbstractContextManager[ServerHandle]]


@dataclass
class BenchResult:
    run: RunDir
    failures: list[str] = field(default_factory=list)  # one line each: what failed and why
    cells_run: int = 0
    cells_skipped: int = 0  # already finished (resume)


class ServerCrashed(Exception):
    """The stack died under load; its remaining cells are left for --resume."""


def contract_endpoints(plan: BenchPlan) -> list[Endpoint]:
    """What to verify before load: the whole contract for stacks we launch (stored with the run),
    only the scenarios' endpoints for an external --target (it may implement nothing else)."""
    names = {e for s in plan.scenarios for e in s.endpoints}
    return [e for e in ENDPOINTS.values() if plan.target is None or e.name in names]


def new_run(plan: BenchPlan, out: Path, name: str | None = None) -> RunDir:
    """A new run folder under `out` (named by time, or `name`), with what makes it comparable later."""
    runtime = plan.runtime
    host = metadata.host_info()
    host["python"] = metadata.python_version(runtime.python)
    meta = {
        "started_at": time.time(),
        "git": metadata.git_state(runtime.root),
        "host": host,
        "packages": metadata.package_versions(python=runtime.python),
        "settings": plan.settings(),
        "stacks": [s.id for s in plan.stacks],
        "runtime": {"python": runtime.python, "root": str(runtime.root),
                    "harness_git": metadata.git_state(REPO_ROOT)},
    }
    return RunDir.create(out, meta, name)


def run_bench(plan: BenchPlan, run: RunDir, progress: Progress | None = None,
              servers: ServerFactory | None = None) -> BenchResult:
    """Run every missing cell of `plan` into `run`; never raises for a stack's failure."""
    progress = progress or PlainProgress()
    result = BenchResult(run)
    progress.line(f"run folder: {run.path}")
    env = database_env(plan, run)
    progress.begin(cells_to_run(plan, run), plan_cell_s(plan))
    for repeat in range(plan.repeat):
        run_repeat(plan, run, repeat, env, result, progress, servers)
    run.finish()
    return result


def plan_cell_s(plan: BenchPlan) -> float:
    """How long one cell of `plan` should take, before any has been timed (the progress estimate's start)."""
    return nominal_cell_s(plan.primer_s, plan.warmup_s, plan.duration_s)


def _todo(plan: BenchPlan, run: RunDir, stack: Stack, repeat: int) -> tuple[list[tuple[Scenario, int]], int]:
    """The cells of `stack` still to run in `repeat`, and how many of its cells are already finished."""
    served = [sc for sc in plan.scenarios if sc.served_by(stack)]  # bare apps serve a few
    todo = [(sc, c) for sc in served for c in plan.concurrency if not run.cell_done(stack.id, sc.name, c, repeat)]
    return todo, len(served) * len(plan.concurrency) - len(todo)


def cells_to_run(plan: BenchPlan, run: RunDir) -> int:
    """Every cell of `plan` that `run` has not finished yet (all of them, for a new run)."""
    return sum(len(_todo(plan, run, stack, repeat)[0]) for repeat in range(plan.repeat) for stack in plan.stacks)


def run_repeat(plan: BenchPlan, run: RunDir, repeat: int, env: dict[str, str], result: BenchResult,
               progress: Progress, servers: ServerFactory | None = None) -> None:
    """One repeat of every stack, each from a fresh start: the unit `stackmark ab` interleaves."""
    for stack in plan.stacks:
        todo, finished = _todo(plan, run, stack, repeat)
        result.cells_skipped += finished
        if todo:
            _bench_stack(plan, run, stack, repeat, todo, env, result, progress, servers or _server)


def database_env(plan: BenchPlan, run: RunDir) -> dict[str, str]:
    """DATABASE_URL for the servers: the run's own seeded SQLite file (kept on resume), or the user's database."""
    from stackmark.database import WORLD_ROWS, ensure_sqlite, redact, row_counts, seed

    if plan.target is not None:
        return {}
    if plan.database_url is None:
        return {"DATABASE_URL": _guard_write(lambda: ensure_sqlite(run.path / "db.sqlite3"), run)}
    if plan.seed_database:
        seed(plan.database_url)
    counts = row_counts(plan.database_url)
    if counts.get("world", 0) != WORLD_ROWS or not counts.get("fortune"):
        raise UserError(f"{redact(plan.database_url)} has no complete world/fortune tables ({counts}); pass "
                        "--seed-db to create them (drops and recreates those two tables only)")
    return {"DATABASE_URL": plan.database_url}


@contextlib.contextmanager
def _server(plan: BenchPlan, stack: Stack, log_path: Path, env: dict[str, str]) -> Iterator[ServerHandle]:
    if plan.target is not None:
        yield plan.target
    else:
        with launch(stack, log_path, cpus=plan.server_cpus, env=env, runtime=plan.runtime) as server:
            yield server


def _stack_record(plan: BenchPlan, stack: Stack, repeat: int) -> StackRecord:
    spec = {k: v for k, v in stack.to_dict().items() if k != "id"}
    return cast(StackRecord, {"stack": stack.id, **spec, "config_hash": stack.config_hash(),
                              "cpus": [] if plan.target else list(plan.server_cpus), "repeat": repeat})


def _bench_stack(plan: BenchPlan, run: RunDir, stack: Stack, repeat: int, todo: list[tuple[Scenario, int]],
                 env: dict[str, str], result: BenchResult, progress: Progress, servers: ServerFactory) -> None:
    record = _stack_record(plan, stack, repeat)
    t0 = time.monotonic()
    left = len(todo)  # cells of this stack not run yet: lost if it stops early
    progress.stack_started(stack.id, repeat)
    try:
        with servers(plan, stack, run.stack_dir(stack.id) / "server.log", env) as server:
            record["command"], record["port"] = server.command, server.port
            record["start"] = {"status": "ok", "ready_s": round(server.ready_s, 3), "reason": None}
            progress.phase(stack.id, "verify")
            checks = _verify(plan, run, server, env, progress, repeat, [sc for sc, _ in todo])
            record["verify"] = checks.result.to_dict()
            _guard_write(lambda: run.write_stack(stack.id, record), run)
            blocked = sum(1 for sc, _ in todo if checks.blocks(sc))
            if checks.result.failed_endpoints:
                failed = _verify_failure(stack, checks, todo)
                result.failures.append(failed)
                progress.failure(stack.id, failed.removeprefix(f"{stack.id}: "), blocked)
            left -= blocked
            for scenario, conc in todo:
                if not checks.blocks(scenario):
                    left -= 1
                    _one_cell(plan, run, server, stack, scenario, conc, repeat, result, progress)
    except LaunchError as exc:
        record["start"] = {"status": "failed", "ready_s": None, "reason": exc.reason, "log_tail": exc.log_tail}
        record["verify"] = None
        _guard_write(lambda: run.write_stack(stack.id, record), run)
        result.failures.append(f"{stack.id}: {exc.reason}")
        progress.failure(stack.id, f"FAILED to start: {exc.reason}", left)
    except ServerCrashed as exc:
        progress.failure(stack.id, f"stopped measuring this stack: {exc}"
                                   + (f" ({left} of its cells not run; --resume runs them)" if left else ""), left)
    progress.stack_done(stack.id, time.monotonic() - t0)


def _verify_failure(stack: Stack, checks: StackChecks, todo: list[tuple[Scenario, int]]) -> str:
    """One line: what failed verification, and which scenarios that keeps from being measured."""
    bad = ", ".join(sorted(checks.result.failed_endpoints))
    blocked = [sc.name for sc in dict.fromkeys(sc for sc, _ in todo) if checks.blocks(sc)]
    kept = f"not measured: {', '.join(blocked)}" if blocked else "no selected scenario needs those endpoints"
    return f"{stack.id}: failed verification on {bad} (see stack.json); {kept}"


def verify_served(server: ServerHandle, endpoints: list[Endpoint], database_url: str | None,
                  allow_remote: bool = False) -> VerifyResult:
    """The contract check of a running stack, on those of `endpoints` its app serves; an app that says
    `contract = false` has nothing to compare with (a warn says so, and how to smoke-check it)."""
    if not server.stack.contract:
        return contract_not_checked()
    return verify_stack(server.host, server.port, server.stack.served(endpoints), database_url=database_url,
                        interface=server.stack.interface, allow_remote=allow_remote)


def _verify(plan: BenchPlan, run: RunDir, server: ServerHandle, env: dict[str, str], progress: Progress,
            repeat: int, scenarios: list[Scenario]) -> StackChecks:
    """The contract check (apps that implement it), then a smoke run of each team locustfile to be measured."""
    stack = server.stack
    endpoints = contract_endpoints(plan)
    contract = (verify_served(server, endpoints, env.get("DATABASE_URL"), allow_remote=plan.target is not None)
                if stack.served(endpoints) else None)
    custom = dict.fromkeys(sc for sc in scenarios if sc.is_custom)  # a scenario has several cells: once each
    folder = run.stack_dir(stack.id)
    smoke = {sc.name: _guard_write(partial(smoke_check, server, sc, smoke_folder(folder, sc), plan.loadgen_cpus), run)
             for sc in custom}
    checks = StackChecks(contract, smoke)
    progress.line(f"[{repeat}] {stack.id}: ready in {server.ready_s:.2f} s, verify {checks.result.status}")
    for f in checks.result.findings:
        progress.line(f"    {f.level}: {f.path} {f.check}: expected {f.expected} got {f.actual}")
    return checks


def _one_cell(plan: BenchPlan, run: RunDir, server: ServerHandle, stack: Stack, scenario: Scenario, conc: int,
              repeat: int, result: BenchResult, progress: Progress) -> None:
    cell_dir = run.fresh_cell_dir(stack.id, scenario.name, conc, repeat)
    load = LoadSettings(concurrency=conc, duration_s=plan.duration_s, warmup_s=plan.warmup_s,
                        primer_s=plan.primer_s, cpus=list(plan.loadgen_cpus), processes=plan.loadgen_processes,
                        distributed=plan.distributed)
    cell = f"{scenario.name} c{conc}"
    progress.cell_started(stack.id, cell)
    watch = CellWatch(load.primer_s, load.warmup_s, load.duration_s,
                      started=partial(locust_started_at, cell_dir), stats=partial(live_stats, cell_dir),
                      on_phase=partial(progress.phase, stack.id),
                      on_rate=partial(progress.throughput, stack.id, cell))
    outcome = _guard_write(lambda: run_cell(server, scenario, load, cell_dir, watch.poll), run)
    record: CellRecord = {
        "stack": stack.id, "scenario": scenario.name, "endpoint": scenario.path,
        "concurrency": conc, "repeat": repeat,
        "status": "ok" if outcome.ok else "failed", "reason": outcome.reason,
        "loadgen_cpus": list(load.cpus), "loadgen_processes": load.processes,
        "server_log_tail": None if outcome.ok else server.log_tail(),
    }
    _guard_write(lambda: run.write_cell(cell_dir, record), run)
    result.cells_run += 1
    progress.cell_done(stack.id, cell, outcome.ok, outcome.reason)
    if outcome.ok:
        return
    result.failures.append(f"{stack.id} {cell}: {outcome.reason}")
    if outcome.server_crashed:
        raise ServerCrashed(outcome.reason)


def _guard_write(action: Callable[[], T], run: RunDir) -> T:
    """Turn a failed write (disk full, folder gone) into one clear error that names the file and stops the run."""
    try:
        return action()
    except OSError as exc:
        if exc.strerror is None:  # not an operating-system error report: let it show
            raise
        where = exc.filename or run.path
        raise UserError(f"cannot write {where}: {exc.strerror}; free space or pass another --out "
                        f"(finished cells are kept; continue with --resume {run.path})") from None


__all__ = ["BenchResult", "ServerCrashed", "ServerFactory", "cells_to_run", "contract_endpoints", "new_run",
           "plan_cell_s", "run_bench", "verify_served"]
