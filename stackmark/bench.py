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
from pathlib import Path
from typing import TypeVar, cast

from apps.contract import ENDPOINTS, Endpoint
from runformat.records import CellRecord, StackRecord
from runformat.rundir import RunDir
from scenarios.catalog import Scenario
from servers.base import ServerHandle
from servers.launcher import REPO_ROOT, LaunchError, launch
from servers.matrix import Stack
from stackmark import metadata
from stackmark.errors import UserError
from stackmark.loadgen import LoadSettings, run_cell
from stackmark.plan import BenchPlan
from stackmark.verify import VerifyResult, verify_stack

Log = Callable[[str], None]
T = TypeVar("T")


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
    names = {s.endpoint for s in plan.scenarios}
    return [e for e in ENDPOINTS.values() if plan.target is None or e.name in names]


def new_run(plan: BenchPlan, out: Path) -> RunDir:
    meta = {
        "started_at": time.time(),
        "git": metadata.git_state(REPO_ROOT),
        "host": metadata.host_info(),
        "packages": metadata.package_versions(),
        "settings": plan.settings(),
        "stacks": [s.id for s in plan.stacks],
    }
    return RunDir.create(out, meta)


def run_bench(plan: BenchPlan, run: RunDir, log: Log = print) -> BenchResult:
    """Run every missing cell of `plan` into `run`; never raises for a stack's failure."""
    result = BenchResult(run)
    log(f"run folder: {run.path}")
    env = _database_env(plan, run)
    for repeat in range(plan.repeat):
        for stack in plan.stacks:
            served = [sc for sc in plan.scenarios if stack.serves(sc.endpoint)]  # bare apps serve a few
            todo = [(sc, c) for sc in served for c in plan.concurrency
                    if not run.cell_done(stack.id, sc.name, c, repeat)]
            result.cells_skipped += len(served) * len(plan.concurrency) - len(todo)
            if todo:
                _bench_stack(plan, run, stack, repeat, todo, env, result, log)
    run.finish()
    return result


def _database_env(plan: BenchPlan, run: RunDir) -> dict[str, str]:
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
        with launch(stack, log_path, cpus=plan.server_cpus, env=env) as server:
            yield server


def _stack_record(plan: BenchPlan, stack: Stack, repeat: int) -> StackRecord:
    spec = {k: v for k, v in stack.to_dict().items() if k != "id"}
    return cast(StackRecord, {"stack": stack.id, **spec, "cpus": [] if plan.target else list(plan.server_cpus),
                              "repeat": repeat})


def _bench_stack(plan: BenchPlan, run: RunDir, stack: Stack, repeat: int, todo: list[tuple[Scenario, int]],
                 env: dict[str, str], result: BenchResult, log: Log) -> None:
    record = _stack_record(plan, stack, repeat)
    t0 = time.monotonic()
    try:
        with _server(plan, stack, run.stack_dir(stack.id) / "server.log", env) as server:
            record["command"], record["port"] = server.command, server.port
            record["start"] = {"status": "ok", "ready_s": round(server.ready_s, 3), "reason": None}
            verdict = _verify(plan, stack, server, env, log, repeat)
            record["verify"] = verdict.to_dict()
            _guard_write(lambda: run.write_stack(stack.id, record), run)
            bad = set(verdict.failed_endpoints)
            if bad:
                result.failures.append(f"{stack.id}: failed verification on {', '.join(sorted(bad))} "
                                       "(see stack.json); those endpoints were not measured")
            for scenario, conc in todo:
                if scenario.endpoint not in bad:
                    _one_cell(plan, run, server, stack, scenario, conc, repeat, result, log)
    except LaunchError as exc:
        record["start"] = {"status": "failed", "ready_s": None, "reason": exc.reason, "log_tail": exc.log_tail}
        record["verify"] = None
        _guard_write(lambda: run.write_stack(stack.id, record), run)
        result.failures.append(f"{stack.id}: {exc.reason}")
        log(f"[{repeat}] {stack.id}: FAILED to start: {exc.reason}")
    except ServerCrashed as exc:
        log(f"[{repeat}] {stack.id}: stopped measuring this stack: {exc}")
    log(f"[{repeat}] {stack.id}: done in {time.monotonic() - t0:.1f} s")


def verify_served(server: ServerHandle, endpoints: list[Endpoint], database_url: str | None,
                  allow_remote: bool = False) -> VerifyResult:
    """The contract check of a running stack, on those of `endpoints` its app serves."""
    return verify_stack(server.host, server.port, server.stack.served(endpoints), database_url=database_url,
                        interface=server.stack.interface, allow_remote=allow_remote)


def _verify(plan: BenchPlan, stack: Stack, server: ServerHandle, env: dict[str, str], log: Log,
            repeat: int) -> VerifyResult:
    verdict = verify_served(server, contract_endpoints(plan), env.get("DATABASE_URL"),
                            allow_remote=plan.target is not None)
    log(f"[{repeat}] {stack.id}: ready in {server.ready_s:.2f} s, verify {verdict.status}")
    for f in verdict.findings:
        log(f"    {f.level}: {f.path} {f.check}: expected {f.expected} got {f.actual}")
    return verdict


def _one_cell(plan: BenchPlan, run: RunDir, server: ServerHandle, stack: Stack, scenario: Scenario, conc: int,
              repeat: int, result: BenchResult, log: Log) -> None:
    cell_dir = run.fresh_cell_dir(stack.id, scenario.name, conc, repeat)
    load = LoadSettings(concurrency=conc, duration_s=plan.duration_s, warmup_s=plan.warmup_s,
                        primer_s=plan.primer_s, cpus=list(plan.loadgen_cpus), processes=plan.loadgen_processes)
    outcome = _guard_write(lambda: run_cell(server, scenario, load, cell_dir), run)
    record: CellRecord = {
        "stack": stack.id, "scenario": scenario.name, "endpoint": scenario.path,
        "concurrency": conc, "repeat": repeat,
        "status": "ok" if outcome.ok else "failed", "reason": outcome.reason,
        "loadgen_cpus": list(load.cpus), "loadgen_processes": load.processes,
        "server_log_tail": None if outcome.ok else server.log_tail(),
    }
    _guard_write(lambda: run.write_cell(cell_dir, record), run)
    result.cells_run += 1
    if outcome.ok:
        log(f"    {scenario.name} c{conc}: ok")
        return
    result.failures.append(f"{stack.id} {scenario.name} c{conc}: {outcome.reason}")
    log(f"    {scenario.name} c{conc}: FAILED: {outcome.reason}")
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


__all__ = ["BenchResult", "ServerCrashed", "contract_endpoints", "new_run", "run_bench", "verify_served"]
