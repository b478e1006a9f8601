"""`stackmark ui STACK [--scenario S] [--port N] [--users N]`: Locust's web UI against one stack, one command.

The command validates what was named (one line and exit 2 for a bad stack, scenario, port or user count),
gives the stack the database a bench would (the user's DATABASE_URL, or a fresh seeded SQLite file in a
folder of its own), and hands the rest to stackmark/ui.py.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from servers.launcher import LOOPBACK, free_port, launch, port_in_use, tail
from servers.matrix import Matrix, load_matrix
from stackmark.console import err, out
from stackmark.cpus import default_cpus
from stackmark.errors import UserError
from stackmark.plan import custom_scenario, env_database_url
from stackmark.select import one_stack, select_scenarios, whole_numbers
from stackmark.ui import UiPlan, check_verified, locust_ui, refusal, wait_until_one_dies

DEFAULT_SCENARIO = "json"
LOCUST_WEB_PORT = 8089  # Locust's own default: the address a Locust user already knows
FALLBACK_USERS = 32
MAX_USERS = 10_000


def add_ui(sub: Any) -> None:
    """The `ui` subcommand, registered by cli.build_parser."""
    s = sub.add_parser(
        "ui", help="Locust's web UI against one stack: the stack pinned as in a bench, the UI on 127.0.0.1",
        description="Start STACK as a bench would (pinned, verified, its own database), then Locust's web UI\n"
                    "with the scenario's locustfile and that stack as the host, and print the URL.\n"
                    "Ctrl-C stops both, and so does either one dying.")  # examples: cli.EXAMPLES["ui"]
    s.add_argument("stack", help="one stack id (see `stackmark list`)")
    which = s.add_mutually_exclusive_group()
    which.add_argument("--scenario", help=f"a scenario of scenarios/catalog.toml (default {DEFAULT_SCENARIO})")
    which.add_argument("--locustfile", metavar="FILE", help="your own locustfile instead (a LoadTestShape in it "
                                                            "drives the UI's run)")
    s.add_argument("--port", type=int, help=f"the web UI's port on 127.0.0.1 (default {LOCUST_WEB_PORT}, or a free "
                                            "one if that is taken)")
    s.add_argument("--users", help="users prefilled in the UI (default: the quick profile's concurrency); for an "
                                   "open-model scenario, the most requests in flight")
    s.add_argument("--matrix", help="a matrix file instead of servers/matrix.toml")
    s.set_defaults(func=cmd_ui)


def web_port(given: int | None) -> int:
    """The UI's port: the one given (refused if out of range or taken), else Locust's 8089 or a free one."""
    if given is None:
        return LOCUST_WEB_PORT if not port_in_use(LOOPBACK, LOCUST_WEB_PORT) else free_port()
    if not 1 <= given <= 65535:
        raise UserError(f"--port {given} is out of range; use 1 to 65535")
    if port_in_use(LOOPBACK, given):
        raise UserError(f"port {given} on {LOOPBACK} is already in use; pick another with --port or stop what "
                        "holds it")
    return given


def default_users(matrix: Matrix) -> int:
    """The concurrency a quick bench runs at, so the UI starts where the numbers of a bench come from."""
    levels = matrix.profiles.get("quick", {}).get("concurrency") or [FALLBACK_USERS]
    return int(levels[0])


def ui_plan(args: argparse.Namespace, matrix: Matrix) -> UiPlan:
    """Everything named on the command line, checked before anything starts."""
    stack = one_stack(matrix, args.stack, "ui")
    scenario = (custom_scenario(args.locustfile) if args.locustfile
                else select_scenarios([args.scenario or DEFAULT_SCENARIO], [])[0])
    problem = refusal(stack, scenario, list(matrix.stacks.values()))
    if problem:
        raise UserError(problem)
    users = (whole_numbers([args.users], "--users", MAX_USERS)[0] if args.users is not None
             else default_users(matrix))
    server_cpus, loadgen_cpus = default_cpus()
    return UiPlan(stack, scenario, web_port(args.port), users, server_cpus, loadgen_cpus)


def ui_database(folder: Path) -> str:
    """DATABASE_URL as a bench gives it: the user's (complete tables required), or a fresh seeded SQLite file."""
    from stackmark.database import WORLD_ROWS, ensure_sqlite, redact, row_counts

    url = env_database_url()
    if url is None:
        return ensure_sqlite(folder / "db.sqlite3")
    counts = row_counts(url)
    if counts.get("world", 0) != WORLD_ROWS or not counts.get("fortune"):
        raise UserError(f"{redact(url)} has no complete world/fortune tables ({counts}); seed it once with "
                        "`stackmark bench --seed-db ...` or unset DATABASE_URL for a SQLite file")
    return url


def cmd_ui(args: argparse.Namespace) -> int:
    from stackmark.commands import matrix_path

    plan = ui_plan(args, load_matrix(matrix_path(args)))
    with tempfile.TemporaryDirectory(prefix=f"stackmark-ui-{plan.stack.id}-") as tmp:
        folder = Path(tmp)
        database = ui_database(folder)
        try:
            with launch(plan.stack, folder / "server.log", cpus=plan.server_cpus,
                        env={"DATABASE_URL": database}) as server:
                status = check_verified(server, plan.scenario, database, folder, plan.loadgen_cpus).result.status
                out.print(f"{plan.stack.id} serving on {server.url} (pid {server.pid}, CPUs "
                          f"{plan.server_cpus or 'any'}), verify {status}; log {server.log_path}",
                          highlight=False, soft_wrap=True, markup=False)
                locust_log = folder / "locust.log"
                with locust_ui(plan, server.url, locust_log) as locust:
                    out.print(f"Locust web UI: {plan.web_url} (pid {locust.pid}, CPUs {plan.loadgen_cpus or 'any'}); "
                              f"scenario {plan.scenario.name}: {plan.scenario.description or plan.scenario.path}; "
                              "Ctrl-C stops both", highlight=False, soft_wrap=True, markup=False)
                    ended = wait_until_one_dies(server, locust)
                    err.print(f"stackmark: {ended}", highlight=False, soft_wrap=True, markup=False)
                    err.print(server.log_tail() if server.exit_code() is not None else tail(locust_log),
                              highlight=False, markup=False)
                    return 1
        except KeyboardInterrupt:
            out.print(f"stopped Locust's web UI and {plan.stack.id}", highlight=False)
            return 0
