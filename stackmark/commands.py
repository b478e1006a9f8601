"""The commands behind `stackmark`: each builds what it needs from the plan, the matrix or a run folder,
calls the module that does the work, and prints. Validation and defaults live elsewhere (plan, select)."""
from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

from apps.contract import ENDPOINTS
from runformat.errors import RunDirError
from scenarios.catalog import Scenario
from scenarios.shapes import stage_warning
from servers.launcher import LaunchError, launch
from servers.matrix import MATRIX_FILE, Matrix, load_matrix
from stackmark.bench import BenchResult, new_run, run_bench, verify_served
from stackmark.console import drop_to_fit, err, out, print_problems, print_ranking
from stackmark.cpus import default_cpus, parse_cpus
from stackmark.database import ensure_sqlite
from stackmark.errors import UserError
from stackmark.listing import shown_path
from stackmark.plan import BenchPlan, Overrides, custom_scenario, env_database_url, server_cpu_count
from stackmark.select import one_stack, select_scenarios, select_stacks, whole_numbers

VERDICT_COLOURS = {"ok": "green", "warn": "yellow", "fail": "red"}


def adhoc_database() -> str:
    """DATABASE_URL for serve/verify/calibrate: the user's, or a seeded SQLite file reused between calls."""
    return env_database_url() or ensure_sqlite(Path(tempfile.gettempdir()) / "stackmark-adhoc.sqlite3")


def matrix_path(args: argparse.Namespace) -> Path:
    """The matrix file a command reads: --matrix, or servers/matrix.toml."""
    return Path(args.matrix) if getattr(args, "matrix", None) else MATRIX_FILE


def matrix_of(args: argparse.Namespace) -> Matrix:
    return load_matrix(matrix_path(args))


def cmd_list(args: argparse.Namespace) -> int:
    matrix = matrix_of(args)
    stacks = select_stacks(matrix, args.stacks)
    if args.json:
        rows = [{"id": s.id, "framework": s.framework, "server": s.server, "interface": s.interface,
                 "worker": s.worker, "workers": s.workers, "app": s.app, "target": s.target} for s in stacks]
        print(json.dumps(rows, indent=2))
        return 0
    columns = {"id": [s.id for s in stacks], "framework": [s.framework for s in stacks],
               "server": [s.server for s in stacks], "worker": [s.worker for s in stacks],
               "interface": [s.interface for s in stacks], "workers": [str(s.workers) for s in stacks]}
    drop_to_fit(columns, out.width, ("workers", "interface", "worker"))  # an id, typed next, is never cut
    table = Table(title=f"{len(stacks)} stacks ({shown_path(matrix_path(args))})", title_justify="left")
    for col in columns:
        table.add_column(col, no_wrap=True)
    for row in zip(*columns.values(), strict=True):
        table.add_row(*row)
    out.print(table)
    if matrix.excluded:
        out.print(f"excluded by rule: {', '.join(matrix.excluded)}")
    return 0


def _bind_host(host: str) -> str:
    """An IP address to bind; anything but loopback is said out loud (it exposes the server)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UserError(f"--host {host!r} is not an IP address; use 127.0.0.1 (the default), ::1, or an "
                        "address of this machine such as 0.0.0.0") from None
    if not address.is_loopback:
        err.print(f"warning: binding {host}: the server is reachable from other machines while it runs")
    return host


def locust_executable() -> list[str]:
    """This environment's Locust, runnable as printed whether or not the virtualenv is active: the `locust`
    script beside the running Python, else that Python with `-m locust`."""
    script = Path(sys.executable).parent / "locust"
    return [str(script)] if os.access(script, os.X_OK) else [sys.executable, "-m", "locust"]


def locust_ui_command(scenario: Scenario, url: str) -> str:
    """The shell line that opens Locust's web UI (on loopback) on `scenario` against `url`, quoted to paste."""
    return shlex.join([*locust_executable(), "-f", str(scenario.locustfile), "--host", url,
                       *scenario.locust_args(phases=False), "--web-host", "127.0.0.1"])


def cmd_serve(args: argparse.Namespace) -> int:
    from stackmark.verify import format_findings

    stack = one_stack(load_matrix(), args.stack, "serve")
    scenario = select_scenarios([args.scenario], [])[0]
    if not scenario.served_by(stack):
        raise UserError(f"{stack.id} does not serve scenario {scenario.name!r} ({scenario.path}); pick another "
                        "--scenario (see `stackmark scenarios`)")
    if args.port is not None and not 1 <= args.port <= 65535:
        raise UserError(f"port {args.port} is out of range; use 1 to 65535")
    host = _bind_host(args.host)
    cpus = parse_cpus(args.cpus) if args.cpus else []
    log_path = Path(args.log or f"/tmp/stackmark-serve-{stack.id}.log")
    db = adhoc_database()
    with launch(stack, log_path, cpus=cpus, port=args.port, host=host, env={"DATABASE_URL": db}) as server:
        verdict = verify_served(server, list(ENDPOINTS.values()), db, allow_remote=True)
        out.print(f"[bold]{stack.id}[/] serving on {server.url} (pid {server.pid}, cpus {cpus or 'any'}), "
                  f"verify: {verdict.status}; log: {log_path}")
        if verdict.findings:
            out.print(format_findings(stack.id, verdict))
        out.print(f"Locust web UI, in another terminal (Ctrl-C here stops the server; `stackmark ui {stack.id}` "
                  "starts both in one):", highlight=False)
        out.print(locust_ui_command(scenario, server.url), highlight=False, markup=False, soft_wrap=True)
        while server.exit_code() is None:
            time.sleep(0.5)
        err.print(f"{stack.id}: server exited with code {server.exit_code()}")
        return 1


def cmd_verify(args: argparse.Namespace) -> int:
    """The contract check of each stack; with --locustfile, also a smoke run of the team's own requests (the
    check an app with `contract = false` gets, as `stackmark bench --locustfile` runs it before load)."""
    from stackmark.smoke import StackChecks, smoke_check
    from stackmark.verify import format_findings

    stacks = select_stacks(matrix_of(args), args.stacks)
    custom = custom_scenario(args.locustfile) if args.locustfile else None
    cpus = parse_cpus(args.cpus) if args.cpus else []
    db = adhoc_database()
    table = Table(title="contract verification" + (f" and a smoke run of {custom.name}" if custom else ""))
    for col in ("stack", "result", "ready s", "findings"):
        table.add_column(col)
    failed = 0
    for stack in stacks:
        try:
            with launch(stack, Path(args.log_dir) / f"{stack.id}.log", cpus=cpus, env={"DATABASE_URL": db}) as server:
                contract = (verify_served(server, list(ENDPOINTS.values()), db)
                            if stack.contract or custom is None else None)
                smoke = ({custom.name: smoke_check(server, custom, Path(args.log_dir) / f"{stack.id}-smoke", [])}
                         if custom else {})
                verdict = StackChecks(contract, smoke).result
                ready = f"{server.ready_s:.2f}"
        except LaunchError as exc:
            failed += 1
            table.add_row(stack.id, "[red]no start[/]", "-", exc.reason)
            continue
        failed += verdict.status == "fail"
        table.add_row(stack.id, f"[{VERDICT_COLOURS[verdict.status]}]{verdict.status}[/]", ready,
                      format_findings(stack.id, verdict) if verdict.findings else "")
    out.print(table)
    return 1 if failed else 0


def overrides(args: argparse.Namespace) -> Overrides:
    return Overrides(
        profile=args.profile, stacks=args.stacks, scenarios=args.scenario, concurrency=args.concurrency,
        duration_s=args.duration, warmup_s=args.warmup, primer_s=args.primer, repeat=args.repeat,
        server_cpus=args.server_cpus, loadgen_cpus=args.loadgen_cpus, no_pin=args.no_pin,
        loadgen_processes=args.locust_processes, target=args.target, target_name=args.target_name,
        locust_workers=Overrides.workers(args.locust_workers, args.master_bind_host, args.remote_workers),
        allow_remote=args.allow_remote, seed_db=args.seed_db, locustfile=args.locustfile,
        configuration=args.configuration, worker_counts=getattr(args, "workers", None),
        argv=getattr(args, "argv", None))


def _announce(plan: BenchPlan, sides: int = 1) -> None:
    if plan.cells == 0:
        raise UserError("none of the selected stacks serves the selected scenarios (e.g. ws needs an ASGI stack, "
                        "bare apps serve only plaintext, json, io and cpu); see `stackmark list`")
    if set(plan.server_cpus) & set(plan.loadgen_cpus):
        err.print("warning: server and load generator share CPUs; their numbers will disturb each other")
    cells = plan.cells * sides
    est = cells * (plan.primer_s + plan.warmup_s + plan.duration_s + 3) + len(plan.stacks) * plan.repeat * sides * 2
    out.print(f"[bold]stackmark[/]: {len(plan.stacks)} stacks x {len(plan.scenarios)} scenarios x "
              f"{len(plan.concurrency)} concurrency x {plan.repeat} repeat{' x 2 sides' if sides > 1 else ''} = "
              f"{cells} cells, about {est / 60:.1f} min; server CPUs {list(plan.server_cpus) or 'any'}, Locust CPUs "
              f"{list(plan.loadgen_cpus) or 'any'}")
    out.print(f"configuration: {configuration_line(plan)}", highlight=False)
    for scenario in plan.scenarios:
        short = stage_warning(scenario.args, max(plan.concurrency), plan.duration_s)
        if short:
            err.print(f"warning: {scenario.name}: {short}", highlight=False)
    cpus = server_cpu_count(plan.server_cpus)
    if plan.worker_counts and max(plan.worker_counts) > cpus:
        err.print(f"warning: {max(plan.worker_counts)} workers on {cpus} server CPU(s): beyond {cpus} the workers "
                  "share CPUs, so scaling efficiency falls whatever the server", highlight=False)
    if plan.loadgen_cpus:
        os.sched_setaffinity(0, plan.loadgen_cpus)  # keep the harness itself off the server's CPUs


def configuration_line(plan: BenchPlan) -> str:
    """Which of the two configurations the numbers are, in words the ranking can be read by."""
    counts = sorted({s.workers for s in plan.stacks})
    workers = "-".join(str(w) for w in dict.fromkeys((counts[0], counts[-1]))) if counts else "no"
    cpus = server_cpu_count(plan.server_cpus)
    if plan.worker_counts:
        pinned = "pinned" if plan.server_cpus else "unpinned: every CPU of the machine"
        return (f"worker scaling: each stack at {', '.join(map(str, plan.worker_counts))} worker(s) (ids -w<N>), "
                f"on {cpus} server CPU(s) ({pinned})")
    if plan.configuration == "tuned":
        return (f"tuned (as deployed): each server's workers and threads as its docs recommend for "
                f"{cpus} CPU(s), {workers} worker(s) a stack")
    return f"default, one worker (per worker): {workers} worker(s) a stack, the fair per-worker comparison"


def cmd_bench(args: argparse.Namespace) -> int:
    from servers.base import REPO_ROOT
    from stackmark import metadata
    from stackmark.progress import for_console

    matrix = matrix_of(args)
    wanted = overrides(args)
    if args.resume:
        plan, run = BenchPlan.from_run(Path(args.resume), matrix, wanted.given())
    else:
        plan, run = BenchPlan.from_profile(matrix, wanted), None
    _announce(plan)
    if run is None:
        run = new_run(plan, Path(args.out))
    else:
        run.mark_resumed(metadata.git_state(REPO_ROOT))
    t0 = time.monotonic()
    with for_console(out) as progress:  # live on a terminal, plain lines in a pipe; stops cleanly on Ctrl-C
        result = run_bench(plan, run, progress)
    if args.resume:
        out.print(f"resume: {result.cells_skipped} cells were already finished, {result.cells_run} ran now")
    return finish_bench(result, t0, time.monotonic() - t0)


def finish_bench(result: BenchResult, t0: float, t_load: float, history: bool = True, headline: str = "") -> int:
    """After the load, for every way of running a bench: what failed first, the report, the history line,
    the ranking, where the files are, this invocation's failures again last; the exit code."""
    from analysis.analyze import analyze  # pandas and matplotlib load only for the commands that analyse
    from analysis.history import record_history
    from analysis.problems import problem_lines
    from analysis.report import write_report

    try:
        analysis = analyze(result.run.path)
    except RunDirError as exc:
        print_problems(result.failures)
        err.print(f"stackmark: no report: {exc}", highlight=False, soft_wrap=True)
        return 1
    print_problems(problem_lines(analysis))  # what failed and why, before any ranking
    report = write_report(analysis)
    if history:
        out.print(f"history: {record_history(analysis)}")
    print_ranking(analysis.ranking)
    out.print(f"{headline}load phase {t_load:.0f} s, report {time.monotonic() - t0 - t_load:.1f} s", highlight=False)
    out.print(f"summary: {result.run.path / 'summary.csv'}")
    out.print(f"report:  {report}")
    print_problems(result.failures)  # this invocation's failures again, last, where the eye ends up
    return 1 if result.failures else 0


def cmd_ab(args: argparse.Namespace) -> int:
    """Base and candidate interleaved on this machine, each side's report written, then the gate's verdict."""
    from analysis.analyze import analyze
    from analysis.report import write_report
    from stackmark.ab import base_plan, base_runtime, run_ab
    from stackmark.progress import for_console

    candidate = BenchPlan.from_profile(matrix_of(args), overrides(args))
    with base_runtime(args.base, args.base_python) as runtime:
        base = base_plan(candidate, runtime, matrix_path(args))
        _announce(candidate, sides=2)
        t0 = time.monotonic()
        with for_console(out) as progress:
            result = run_ab(base, candidate, Path(args.out), progress)
    out.print(f"A/B load phase {time.monotonic() - t0:.0f} s")
    print_problems(result.base.failures + result.candidate.failures)
    for side in (result.base, result.candidate):
        with contextlib.suppress(RunDirError):  # a side with no finished cell has no report; compare says so
            write_report(analyze(side.run.path))
    return _gate(result.base.run.path, result.candidate.run.path, args)


def _gate(base: Path, candidate: Path, args: argparse.Namespace) -> int:
    from stackmark.compare_cmd import gate

    return gate(base, candidate, thresholds=args.thresholds, markdown=args.markdown, json_out=args.json,
                python_is_change=args.base_python is not None)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from stackmark.calibrate import calibrate

    stack = one_stack(load_matrix(), args.stack, "calibrate")
    scenario = select_scenarios([args.scenario], [])[0]
    concurrency = whole_numbers([args.concurrency], "concurrency", 10_000)[0]
    duration = float(args.duration)
    if not 1 <= duration <= 600:
        raise UserError(f"duration {duration:g} s is out of range; use 1 to 600 seconds")
    server_cpus, loadgen_cpus = default_cpus()
    if loadgen_cpus:
        os.sched_setaffinity(0, loadgen_cpus)
    with tempfile.TemporaryDirectory(prefix="stackmark-calibrate-") as tmp:
        env = {"DATABASE_URL": env_database_url() or ensure_sqlite(Path(tmp) / "db.sqlite3")}
        result = calibrate(stack, scenario, concurrency, duration, server_cpus, loadgen_cpus, Path(tmp), env)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    out.print(f"target {result.stack} {result.path}, {concurrency} connections, {duration:g} s, "
              f"server CPUs {server_cpus or 'any'}, generator CPUs {loadgen_cpus or 'any'}")
    out.print(f"Locust: {result.locust_rps:,.0f} req/s at {result.locust_cpu_pct:.0f}% of its CPUs "
              f"-> ceiling about {result.locust_ceiling_rps:,.0f} req/s per generator CPU")
    if result.wrk_rps is not None:
        out.print(f"wrk:    {result.wrk_rps:,.0f} req/s ({result.wrk_errors} socket errors); "
                  f"Locust/wrk = {result.locust_vs_wrk:.2f}")
    else:
        out.print("wrk:    not installed (apt-get install wrk) - no C load tool to compare with")
    if result.locust_cpu_pct >= 90:
        out.print("Locust was the bottleneck here: stacks near this rate will be flagged generator-bound")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.analyze import analyze
    from analysis.problems import problem_lines
    from analysis.report import write_report

    analysis = analyze(Path(args.run_dir))
    print_problems(problem_lines(analysis))
    out.print(f"report: {write_report(analysis)}")
    return 0
