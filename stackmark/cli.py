"""The `stackmark` command line: list, serve, verify, bench, report.

Bad input is one line on stderr and exit code 2; `--debug` shows tracebacks.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from analysis.errors import RunDirError
from scenarios.catalog import Scenario, load_scenarios
from servers.launcher import LaunchError, launch
from servers.matrix import Matrix, MatrixError, Stack, load_matrix
from stackmark.errors import UserError, unknown

# Piped output (make, CI logs) gets a wide console so stack ids are not cut.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

DEFAULT_OUT = Path("results")


# ---- selection and validation -------------------------------------------------

def _split(values: Sequence[str] | None) -> list[str]:
    """Accept both `--stacks a b` and `--stacks a,b`."""
    return [v for item in (values or []) for v in item.split(",") if v]


def select_stacks(matrix: Matrix, names: Sequence[str] | None) -> list[Stack]:
    names = _split(names)
    if not names or names == ["all"]:
        return list(matrix.stacks.values())
    chosen: list[Stack] = []
    for name in names:
        if name in matrix.stacks:
            chosen.append(matrix.stacks[name])
            continue
        # a framework or server name selects all its stacks
        group = [s for s in matrix.stacks.values() if name in (s.framework, s.server, s.app, s.variant)]
        if group:
            chosen.extend(group)
            continue
        if name in matrix.excluded:
            raise UserError(f"stack {name!r} is excluded by servers/matrix.toml: {matrix.excluded[name]}")
        raise unknown("stack", name, matrix.stacks, "stackmark list")
    return list({s.id: s for s in chosen}.values())  # keep order, drop repeats


def select_scenarios(names: Sequence[str] | None, default: Sequence[str]) -> list[Scenario]:
    catalog = load_scenarios()
    picked = _split(names) or list(default)
    for name in picked:
        if name not in catalog:
            raise unknown("scenario", name, catalog, "scenarios/catalog.toml")
    return [catalog[n] for n in dict.fromkeys(picked)]


def positive_ints(values: Sequence[str] | None, default: Sequence[int], what: str, limit: int) -> list[int]:
    raw = _split(values)
    if not raw:
        return list(default)
    result = []
    for v in raw:
        try:
            n = int(v)
        except ValueError:
            raise UserError(f"{what} must be whole numbers, not {v!r}") from None
        if not 1 <= n <= limit:
            raise UserError(f"{what} {n} is out of range; use 1 to {limit}")
        result.append(n)
    return result


def seconds(value: float | None, default: float, what: str, low: float, high: float) -> float:
    v = default if value is None else value
    if not low <= v <= high:
        raise UserError(f"{what} {v:g} s is out of range; use {low:g} to {high:g} seconds")
    return float(v)


def parse_cpus(text: str | None) -> list[int] | None:
    if text is None:
        return None
    cpus: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                a, b = part.split("-")
                cpus.extend(range(int(a), int(b) + 1))
            elif part:
                cpus.append(int(part))
    except ValueError:
        raise UserError(f"bad CPU list {text!r}; write it like 1 or 0,1 or 2-3") from None
    available = os.sched_getaffinity(0)
    missing = [c for c in cpus if c not in available]
    if missing:
        raise UserError(f"CPU {missing[0]} is not available here (have {sorted(available)}); pick others")
    return cpus


def default_cpus(no_pin: bool) -> tuple[list[int], list[int]]:
    """Server on its own CPU(s), load generator on CPU 0, when there are at least two."""
    cpus = sorted(os.sched_getaffinity(0))
    if no_pin or len(cpus) < 2:
        return [], []
    return cpus[1:], cpus[:1]


# ---- commands -----------------------------------------------------------------

def adhoc_database() -> str:
    """DATABASE_URL for serve/verify: the user's, or a seeded SQLite file that is reused between calls."""
    import tempfile

    from stackmark.database import ensure_sqlite

    return os.environ.get("DATABASE_URL") or ensure_sqlite(Path(tempfile.gettempdir()) / "stackmark-adhoc.sqlite3")


def check_stack(server: Any, database_url: str) -> Any:
    """The contract check of one running stack, on the endpoints its app serves."""
    from apps.contract import ENDPOINTS
    from stackmark.bench import served_endpoints
    from stackmark.verify import verify_stack

    return verify_stack(server.host, server.port, served_endpoints(server.stack, list(ENDPOINTS.values())),
                        database_url=database_url, interface=server.stack.interface)


def cmd_list(args: argparse.Namespace) -> int:
    matrix = load_matrix(Path(args.matrix)) if args.matrix else load_matrix()
    stacks = select_stacks(matrix, args.stacks)
    if args.json:
        rows = [{"id": s.id, "framework": s.framework, "server": s.server, "interface": s.interface,
                 "worker": s.worker, "workers": s.workers, "app": s.app, "target": s.target} for s in stacks]
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"{len(stacks)} stacks (servers/matrix.toml)")
    for col in ("id", "framework", "server", "worker", "interface", "workers"):
        table.add_column(col)
    for s in stacks:
        table.add_row(s.id, s.framework, s.server, s.worker, s.interface, str(s.workers))
    out.print(table)
    if matrix.excluded:
        out.print(f"excluded by rule: {', '.join(matrix.excluded)}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from stackmark.verify import format_findings

    matrix = load_matrix()
    stacks = select_stacks(matrix, [args.stack])
    if len(stacks) != 1:
        raise UserError(f"{args.stack!r} names {len(stacks)} stacks; serve takes one stack id (see `stackmark list`)")
    stack = stacks[0]
    if args.port is not None and not 1 <= args.port <= 65535:
        raise UserError(f"port {args.port} is out of range; use 1 to 65535")
    cpus = parse_cpus(args.cpus) or []
    log_path = Path(args.log or f"/tmp/stackmark-serve-{stack.id}.log")
    db = adhoc_database()
    with launch(stack, log_path, cpus=cpus, port=args.port, host=args.host, env={"DATABASE_URL": db}) as server:
        verdict = check_stack(server, db)
        out.print(f"[bold]{stack.id}[/] serving on {server.url} (pid {server.pid}, cpus {cpus or 'any'}), "
                  f"verify: {verdict.status}; log: {log_path}")
        if verdict.findings:
            out.print(format_findings(stack.id, verdict))
        out.print(f"Locust UI: locust -f scenarios/closed.py --host {server.url} --endpoint /json "
                  f"--web-host 127.0.0.1   (Ctrl-C stops the server)")
        while server.exit_code() is None:
            time.sleep(0.5)
        err.print(f"{stack.id}: server exited with code {server.exit_code()}")
        return 1


def cmd_verify(args: argparse.Namespace) -> int:
    from stackmark.verify import format_findings

    matrix = load_matrix(Path(args.matrix)) if args.matrix else load_matrix()
    stacks = select_stacks(matrix, args.stacks)
    cpus = parse_cpus(args.cpus) or []
    db = adhoc_database()
    table = Table(title="contract verification")
    for col in ("stack", "result", "ready s", "findings"):
        table.add_column(col)
    failed = 0
    log_dir = Path(args.log_dir)
    for stack in stacks:
        try:
            with launch(stack, log_dir / f"{stack.id}.log", cpus=cpus, env={"DATABASE_URL": db}) as server:
                verdict = check_stack(server, db)
                ready = f"{server.ready_s:.2f}"
        except LaunchError as exc:
            failed += 1
            table.add_row(stack.id, "[red]no start[/]", "-", exc.reason)
            continue
        if verdict.status == "fail":
            failed += 1
        colour = {"ok": "green", "warn": "yellow", "fail": "red"}[verdict.status]
        table.add_row(stack.id, f"[{colour}]{verdict.status}[/]", ready,
                      format_findings(stack.id, verdict) if verdict.findings else "")
    out.print(table)
    return 1 if failed else 0


def _plan_from_args(args: argparse.Namespace, matrix: Matrix) -> Any:
    from stackmark.bench import BenchPlan
    from stackmark.target import parse_target

    profile = matrix.profiles.get(args.profile)
    if profile is None:
        raise unknown("profile", args.profile, matrix.profiles, "servers/matrix.toml [profiles.*]")
    target = parse_target(args.target, args.allow_remote, args.target_name) if args.target else None
    if target is not None:
        if args.stacks:
            raise UserError("--target measures one running server; drop --stacks (or drop --target)")
        stacks = [target.stack]
    else:
        stacks = select_stacks(matrix, args.stacks or ([] if profile.get("stacks", "all") == "all"
                                                        else profile["stacks"]))
    scenarios = select_scenarios(args.scenario, profile.get("scenarios", ["json"]))
    concurrency = positive_ints(args.concurrency, profile.get("concurrency", [32]), "concurrency", 10_000)
    duration = seconds(args.duration, profile.get("duration_s", 5.0), "duration", 1, 3600)
    warmup = seconds(args.warmup, profile.get("warmup_s", 2.0), "warm-up", 0, 600)
    primer = seconds(args.primer, profile.get("primer_s", 1.0), "primer", 0, 60)
    repeat = positive_ints([str(args.repeat)] if args.repeat is not None else None,
                           [profile.get("repeat", 1)], "repeat", 100)[0]
    server_cpus, loadgen_cpus = default_cpus(args.no_pin)
    server_cpus = parse_cpus(args.server_cpus) or server_cpus
    loadgen_cpus = parse_cpus(args.loadgen_cpus) or loadgen_cpus
    if set(server_cpus) & set(loadgen_cpus):
        err.print("warning: server and load generator share CPUs; their numbers will disturb each other")
    return BenchPlan(stacks, scenarios, concurrency, duration, warmup, primer, repeat, server_cpus, loadgen_cpus,
                     database_url=os.environ.get("DATABASE_URL") or None, target=target,
                     seed_database=args.seed_db,
                     loadgen_processes=positive_ints([str(args.locust_processes)], [1], "--locust-processes", 64)[0])


def _plan_from_run(run_dir: Path, matrix: Matrix) -> Any:
    """The plan a run folder was started with, for --resume."""
    from stackmark.bench import BenchPlan
    from stackmark.rundir import RunDir

    run = RunDir.open(run_dir)
    meta = run.read_meta()
    s = meta.get("settings", {})
    if s.get("target"):
        raise UserError(f"{run_dir} measured an external --target; run it again instead of resuming")
    stacks = select_stacks(matrix, meta.get("stacks") or ["all"])
    scenarios = select_scenarios(s.get("scenarios"), ["json"])
    plan = BenchPlan(stacks, scenarios, s["concurrency"], s["duration_s"], s["warmup_s"], s["primer_s"],
                     s["repeat"], s["server_cpus"], s["loadgen_cpus"],
                     database_url=os.environ.get("DATABASE_URL") or None,
                     loadgen_processes=int(s.get("loadgen_processes", 1)))
    return plan, run


def cmd_bench(args: argparse.Namespace) -> int:
    from analysis.report import write_report
    from analysis.tidy import ranking, tidy_frame
    from stackmark import metadata
    from stackmark.bench import new_run, run_bench
    from servers.launcher import REPO_ROOT

    matrix = load_matrix(Path(args.matrix)) if args.matrix else load_matrix()
    if args.resume:
        plan, run = _plan_from_run(Path(args.resume), matrix)
    else:
        plan = _plan_from_args(args, matrix)
        run = None
    from stackmark.bench import scenario_served

    cells = sum(scenario_served(stack, sc) for stack in plan.stacks for sc in plan.scenarios) \
        * len(plan.concurrency) * plan.repeat
    if cells == 0:
        raise UserError("none of the selected stacks serves the selected scenarios (e.g. ws needs an ASGI stack, "
                        "bare apps serve only plaintext, json, io and cpu); see `stackmark list`")
    est = cells * (plan.primer_s + plan.warmup_s + plan.duration_s + 3) + len(plan.stacks) * plan.repeat * 2
    out.print(f"[bold]stackmark bench[/]: {len(plan.stacks)} stacks x {len(plan.scenarios)} scenarios x "
              f"{len(plan.concurrency)} concurrency x {plan.repeat} repeat = {cells} cells, about {est / 60:.1f} min; "
              f"server CPUs {list(plan.server_cpus) or 'any'}, Locust CPUs {list(plan.loadgen_cpus) or 'any'}")
    if run is None:
        run = new_run(plan, Path(args.out))
    else:
        run.mark_resumed(metadata.git_state(REPO_ROOT))
    if plan.loadgen_cpus:
        os.sched_setaffinity(0, plan.loadgen_cpus)  # keep the harness itself off the server's CPUs
    t0 = time.monotonic()
    result = run_bench(plan, run, log=lambda line: out.print(line, highlight=False))
    t_load = time.monotonic() - t0
    if args.resume:
        out.print(f"resume: {result.cells_skipped} cells were already finished, {result.cells_run} ran now")
    try:
        report = write_report(result.run.path)
    except RunDirError as exc:
        err.print(f"stackmark: no report: {exc}", highlight=False)
        return 1
    t_report = time.monotonic() - t0 - t_load
    print_ranking(ranking(tidy_frame(result.run.path)))
    out.print(f"load phase {t_load:.0f} s, report {t_report:.1f} s")
    out.print(f"summary: {result.run.path / 'summary.csv'}")
    out.print(f"report:  {report}")
    if result.failures:
        err.print(f"[red]{len(result.failures)} problem(s):[/]")
        for line in result.failures:
            err.print(f"  {line}", highlight=False)
        return 1
    return 0


def print_ranking(df: Any) -> None:
    """The ranking per scenario; neighbours the noise could swap are marked, not ranked apart."""
    if df.empty:
        out.print("no finished cells to rank")
        return
    for (scenario, conc), group in df.groupby(["scenario", "concurrency"], sort=False):
        n = int(group["n"].max()) if "n" in group else 1
        note = (f"median of {n} repeats, 95% intervals" if n > 1
                else "one run: differences under 20% are within this machine's noise")
        table = Table(title=f"{scenario}, concurrency {conc} ({note})")
        cols = ("#", "stack", "req/s", "interval", "vs best", "p99 ms", "CPU us/req", "RSS MB", "Locust CPU %",
                "flags")
        for col in cols:
            table.add_column(col, justify="left" if col in ("stack", "flags", "interval") else "right")
        for _, r in group.iterrows():
            interval = (f"{r['rps_lo']:,.0f}-{r['rps_hi']:,.0f}" if n > 1 and r.get("rps_lo") == r.get("rps_lo")
                        else "")
            tie = " [dim](~ next)[/]" if bool(r.get("tie_with_next", False)) else ""
            table.add_row(str(r["rank"]), f"{r['stack']}{tie}", f"{r['rps']:,.0f}", interval, f"{r['rel_rps']:.2f}",
                          f"{r['p99_ms']:.2f}", f"{r['cpu_us_per_req']:.0f}", f"{r['server_rss_mb']:.0f}",
                          f"{r['generator_cpu_pct']:.0f}", str(r["flags"] or ""))
        out.print(table)
    out.print("(~ next): not separable from the next stack: their intervals overlap, or one run each and "
              "within 20%. Flags: see the report's legend.")


def cmd_calibrate(args: argparse.Namespace) -> int:
    import tempfile

    from stackmark.calibrate import calibrate
    from stackmark.database import ensure_sqlite

    matrix = load_matrix()
    stacks = select_stacks(matrix, [args.stack])
    if len(stacks) != 1:
        raise UserError(f"{args.stack!r} names {len(stacks)} stacks; calibrate takes one stack id")
    scenario = select_scenarios([args.scenario], [])[0]
    concurrency = positive_ints([str(args.concurrency)], [64], "concurrency", 10_000)[0]
    duration = seconds(args.duration, 5.0, "duration", 1, 600)
    server_cpus, loadgen_cpus = default_cpus(False)
    if loadgen_cpus:
        os.sched_setaffinity(0, loadgen_cpus)
    with tempfile.TemporaryDirectory(prefix="stackmark-calibrate-") as tmp:
        env = {"DATABASE_URL": os.environ.get("DATABASE_URL") or ensure_sqlite(Path(tmp) / "db.sqlite3")}
        result = calibrate(stacks[0], scenario, concurrency, duration, server_cpus, loadgen_cpus, Path(tmp), env)
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
    from analysis.report import write_report

    path = write_report(Path(args.run_dir))
    out.print(f"report: {path}")
    return 0


# ---- parser -------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(2, f"stackmark: error: {message} (see `stackmark --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="stackmark", description="Benchmark Python web server stacks with Locust.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    s = sub.add_parser("list", help="list the stacks of the matrix")
    s.add_argument("stacks", nargs="*", help="stack ids, frameworks or servers (default: all)")
    s.add_argument("--json", action="store_true", help="print a JSON array")
    s.add_argument("--matrix", help="a matrix file instead of servers/matrix.toml")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("serve", help="run one stack in the foreground on 127.0.0.1")
    s.add_argument("stack")
    s.add_argument("--port", type=int, help="port (default: a free one)")
    s.add_argument("--cpus", help="pin the server to these CPUs, e.g. 1")
    s.add_argument("--log", help="server log file")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; anything else exposes the server beyond this machine)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("verify", help="start stacks and check them against the endpoint contract")
    s.add_argument("stacks", nargs="*", help="stack ids, frameworks or servers (default: all)")
    s.add_argument("--cpus", help="pin servers to these CPUs")
    s.add_argument("--log-dir", default="/tmp/stackmark-verify", help="server logs")
    s.add_argument("--matrix", help="a matrix file instead of servers/matrix.toml")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("bench", help="run the matrix under Locust load and write results + report")
    s.add_argument("--profile", default="quick", help="a [profiles.NAME] of servers/matrix.toml (default quick)")
    s.add_argument("--stacks", nargs="+", help="stack ids, frameworks or servers")
    s.add_argument("--scenario", nargs="+", help="scenario names (scenarios/catalog.toml)")
    s.add_argument("--concurrency", nargs="+", help="simulated users, e.g. 16 64")
    s.add_argument("--duration", type=float, help="measured seconds per cell")
    s.add_argument("--warmup", type=float, help="warm-up seconds at full concurrency (excluded)")
    s.add_argument("--primer", type=float, help="primer seconds at 1 user (excluded)")
    s.add_argument("--repeat", type=int, help="repeats, interleaved, each from a fresh server start")
    s.add_argument("--server-cpus", help="CPUs for the server (default: all but CPU 0)")
    s.add_argument("--loadgen-cpus", help="CPUs for Locust (default: CPU 0)")
    s.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    s.add_argument("--locust-processes", type=int, default=1,
                   help="Locust processes (master + N workers) on the load-generator CPUs (default 1)")
    s.add_argument("--out", default=str(DEFAULT_OUT), help="parent folder of run folders (default results/)")
    s.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run: only missing or failed cells run")
    s.add_argument("--target", metavar="URL", help="measure a server that is already running (no launch)")
    s.add_argument("--target-name", help="stack id to record for --target")
    s.add_argument("--allow-remote", action="store_true", help="allow a --target outside loopback")
    s.add_argument("--matrix", help="a matrix file instead of servers/matrix.toml")
    s.add_argument("--seed-db", action="store_true",
                   help="with DATABASE_URL set: drop, create and fill its world and fortune tables first")
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("calibrate", help="measure the load generator's ceiling (and wrk's, if installed)")
    s.add_argument("--stack", default="fastapi-uvicorn", help="a fast stack to drive (default fastapi-uvicorn)")
    s.add_argument("--scenario", default="plaintext", help="scenario (default plaintext)")
    s.add_argument("--concurrency", type=int, default=64)
    s.add_argument("--duration", type=float, default=5.0)
    s.add_argument("--json", action="store_true", help="print the figures as JSON")
    s.set_defaults(func=cmd_calibrate)

    s = sub.add_parser("report", help="rebuild summary.csv and the HTML report of a run folder")
    s.add_argument("run_dir")
    s.set_defaults(func=cmd_report)
    return p


def _terminate(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt  # unwinds every `with launch(...)`, so no server is left behind


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args))
    except (UserError, MatrixError, RunDirError) as exc:
        if args.debug:
            raise
        err.print(f"stackmark: error: {exc}", highlight=False, soft_wrap=True)
        return 2
    except LaunchError as exc:
        if args.debug:
            raise
        err.print(f"stackmark: error: {exc.reason}", highlight=False, soft_wrap=True)
        if exc.log_tail:
            err.print(exc.log_tail, highlight=False)
        return 1
    except KeyboardInterrupt:
        err.print("stackmark: interrupted; servers and Locust stopped, finished cells are on disk")
        return 130
    except OSError as exc:
        if args.debug or exc.strerror is None:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        err.print(f"stackmark: error: cannot write{where}: {exc.strerror}; free space or pass another --out "
                  "(finished cells are kept; `stackmark report RUN_DIR` or `--resume RUN_DIR` continue)",
                  highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
