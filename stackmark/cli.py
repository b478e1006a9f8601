"""The `stackmark` command line: the parser and the one place errors become exit codes.

Bad input is one line on stderr and exit code 2; `--debug` shows tracebacks.
A failed stack or cell is exit code 1, after everything else was written.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from runformat.baseline import BASELINES_DIR
from runformat.errors import RunDirError
from servers.launcher import LaunchError
from servers.matrix import MatrixError
from stackmark import commands, compare_cmd, compose_bench, listing, ui_cmd
from stackmark.console import err
from stackmark.errors import UserError

DEFAULT_OUT = "results"


# command ("" for stackmark itself) -> real command lines its --help ends with
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("stackmark list fastapi", "stackmark bench", "stackmark bench --stacks flask --scenario json db --repeat 3"),
    "list": ("stackmark list", "stackmark list django uwsgi", "stackmark list fastapi --json"),
    "serve": ("stackmark serve fastapi-uvicorn --port 8000 --cpus 1",
              "stackmark serve flask-granian --scenario db"),
    "verify": ("stackmark verify", "stackmark verify flask fastapi-uvicorn",
               "stackmark verify --matrix team_matrix.toml --locustfile team_locustfile.py"),
    "bench": ("stackmark bench", "stackmark bench --stacks fastapi --scenario json db fortunes --repeat 3",
              "stackmark bench --profile sweep --stacks fastapi-uvicorn flask-granian",
              "stackmark bench --stacks flask-granian fastapi-uvicorn --scenario json --workers 1,2"),
    "compare": ("stackmark compare main results/RUN_ID",
                "stackmark compare results/BASE_RUN results/RUN_ID --markdown verdict.md"),
    "baseline": ("stackmark baseline save results/RUN_ID main",),
    "baseline save": ("stackmark baseline save results/RUN_ID main", "stackmark baseline save results/RUN_ID main "
                                                                      "--force"),
    "ab": ("stackmark ab --base main", "stackmark ab --base HEAD~1 --stacks fastapi-uvicorn --repeat 3",
           "stackmark ab --base-python ../other-venv/bin/python --stacks fastapi-uvicorn"),
    "history": ("stackmark history", "stackmark history --stacks fastapi --metric rps cpu_us_per_req"),
    "calibrate": ("stackmark calibrate", "stackmark calibrate --stack bare-asgi-uvicorn --scenario json --json"),
    "report": ("stackmark report results/RUN_ID",),
    "scenarios": ("stackmark scenarios", "stackmark scenarios --json"),
    "profiles": ("stackmark profiles", "stackmark profiles --json", "stackmark profiles --matrix team_matrix.toml"),
    "ui": ("stackmark ui fastapi-uvicorn", "stackmark ui flask-granian --scenario db --port 8089"),
}
# command -> what its --help lists after the examples, read from the files when the help is shown
LISTINGS: dict[str, tuple[Callable[[], str], ...]] = {
    "bench": (listing.profiles_block, listing.scenarios_block),
    "ab": (listing.profiles_block,),
    "serve": (listing.scenarios_block,),
    "ui": (listing.scenarios_block,),
}


def epilog(command: str) -> str | None:
    """The end of a command's --help: examples to copy, then the profiles or scenarios it takes."""
    blocks = [make() for make in LISTINGS.get(command, ())]
    if command in EXAMPLES:
        blocks.insert(0, "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[command]))
    return "\n\n".join(blocks) or None


def package_version() -> str:
    """The installed package's version (pyproject.toml), for `stackmark --version` and bug reports."""
    try:
        return importlib.metadata.version("stackmark")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: run `pip install -e .` in the checkout)"


class Parser(argparse.ArgumentParser):
    """One-line errors (exit 2), and help that keeps its examples' lines as written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(2, f"stackmark: error: {message} (see `stackmark --help`)\n")

    def format_help(self) -> str:
        if self.epilog is None:  # built only when asked for: it reads the matrix and the catalog
            self.epilog = epilog(self.prog.removeprefix("stackmark").strip())
        return super().format_help()


def _add_compare(sub: Any) -> None:
    """`compare BASE CURRENT` and `baseline save RUN_DIR NAME`: the regression gate and what it compares to."""
    s = sub.add_parser("compare", help="did it get slower? CURRENT against BASE: exit 1 on a regression")
    s.add_argument("base", help="a run folder, a baseline file, or a baseline NAME (results/baselines/NAME.json)")
    s.add_argument("current", help="the run under test: a run folder, a baseline file or NAME")
    s.add_argument("--thresholds", metavar="FILE", help="the gate's thresholds (default ./gate.toml if present, "
                                                        "else alpha 0.05, 5%%, errors 1 point)")
    s.add_argument("--markdown", metavar="FILE", help="write the verdict as Markdown (a pull-request comment)")
    s.add_argument("--json", metavar="FILE", help="write the whole comparison as JSON")
    s.add_argument("--verbose", action="store_true", help="list unchanged comparisons in the Markdown too")
    s.add_argument("--allow-different-host", action="store_true",
                   help="gate even if CPU, core count, pinning, Locust processes or Python differ (said on top)")
    s.add_argument("--baselines", default=str(BASELINES_DIR), metavar="DIR",
                   help="where a baseline NAME is looked up (default results/baselines)")
    s.set_defaults(func=compare_cmd.cmd_compare)

    s = sub.add_parser("baseline", help="save a run as a named baseline, to commit and compare against")
    actions = s.add_subparsers(dest="baseline_command", required=True, parser_class=Parser)
    save = actions.add_parser("save", help="write results/baselines/NAME.json from a run folder")
    save.add_argument("run_dir", help="a run folder made by `stackmark bench`")
    save.add_argument("name", help="the baseline's name: letters, digits, '.', '_' or '-'")
    save.add_argument("--out-dir", default=str(BASELINES_DIR), metavar="DIR",
                      help="where to write it (default results/baselines)")
    save.add_argument("--force", action="store_true", help="replace a baseline of that name")
    save.set_defaults(func=compare_cmd.cmd_baseline_save)


def _add_bench(sub: Any) -> None:
    s = sub.add_parser("bench", help="run the matrix under Locust load and write results + report")
    s.add_argument("--profile", default="quick", help="a [profiles.NAME] of servers/matrix.toml (default quick); "
                                                      "every other default comes from the profile")
    _add_plan_flags(s)
    s.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run with its own settings: only "
                                                       "missing or failed cells run")
    s.add_argument("--target", metavar="URL", help="measure a server that is already running (no launch)")
    s.add_argument("--target-name", help="stack id to record for --target")
    s.add_argument("--allow-remote", action="store_true", help="allow a --target outside loopback")
    s.add_argument("--seed-db", action="store_true",
                   help="with DATABASE_URL set: drop, create and fill its world and fortune tables first")
    s.add_argument("--workers", nargs="+", metavar="N",
                   help="worker scaling: run each stack at each of these server worker counts, e.g. 1,2,4 (ids "
                        "get -w<N>; the report shows req/s at N workers over N x one worker's)")
    s.set_defaults(func=commands.cmd_bench)


def _add_plan_flags(s: argparse.ArgumentParser) -> None:
    """What a bench and an A/B run share: the profile and the user's overrides of it."""
    s.add_argument("--stacks", nargs="+", help="stack ids, frameworks or servers")
    s.add_argument("--scenario", nargs="+", help="scenario names (scenarios/catalog.toml)")
    s.add_argument("--locustfile", metavar="FILE", help="your own locustfile as the scenario (named after the file)")
    s.add_argument("--concurrency", nargs="+", help="simulated users, e.g. 16 64")
    s.add_argument("--duration", type=float, help="measured seconds per cell")
    s.add_argument("--warmup", type=float, help="warm-up seconds at full concurrency (excluded)")
    s.add_argument("--primer", type=float, help="primer seconds at 1 user (excluded)")
    s.add_argument("--repeat", type=int, help="repeats, interleaved, each from a fresh server start")
    s.add_argument("--server-cpus", help="CPUs for the server (default: all but CPU 0)")
    s.add_argument("--loadgen-cpus", help="CPUs for Locust (default: CPU 0)")
    s.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    s.add_argument("--configuration", choices=("default", "tuned"),
                   help="default: one worker a stack (per worker); tuned: each server's workers and threads as "
                        "its docs recommend for the server CPUs (as deployed; [tuned.*] in servers/matrix.toml)")
    s.add_argument("--locust-processes", type=int,
                   help="Locust processes (master + N workers), at most one per load-generator CPU (default 1)")
    s.add_argument("--locust-workers", type=int, metavar="N",
                   help="Locust's distributed mode: a master waiting for N workers, started here on the "
                        "load-generator CPUs (or, with --remote-workers, by you on other machines)")
    s.add_argument("--master-bind-host", metavar="ADDRESS", help="the master's address (default 127.0.0.1; "
                                                                 "remote workers need one they can reach)")
    s.add_argument("--remote-workers", action="store_true", help="start no workers: print the command to run on "
                                                                 "other machines and wait for them")
    s.add_argument("--out", default=DEFAULT_OUT, help="parent folder of run folders (default results/)")
    s.add_argument("--matrix", help="a matrix file instead of servers/matrix.toml")


def _add_ab(sub: Any) -> None:
    s = sub.add_parser("ab", help="A/B on one machine: a base and the candidate interleaved, then compared")
    base = s.add_mutually_exclusive_group(required=True)
    base.add_argument("--base", metavar="REF", help="git ref whose apps and matrix are the base (a worktree)")
    base.add_argument("--base-python", metavar="PATH", help="another environment's python as the base "
                                                            "(e.g. a virtualenv with another uvicorn)")
    s.add_argument("--profile", default="ab", help="a [profiles.NAME] of servers/matrix.toml (default ab)")
    _add_plan_flags(s)
    s.add_argument("--thresholds", metavar="FILE", help="the gate's thresholds (default gate.toml)")
    s.add_argument("--markdown", metavar="FILE", help="write the verdict as Markdown (a pull-request comment)")
    s.add_argument("--json", metavar="FILE", help="write the comparison as JSON")
    s.set_defaults(func=commands.cmd_ab, target=None, target_name=None, allow_remote=False, seed_db=False)


def _add_history(sub: Any) -> None:
    from stackmark.history_cmd import DEFAULT_FILE, cmd_history

    s = sub.add_parser("history", help="chart each metric across the runs of the history file and find step changes")
    s.add_argument("--file", default=DEFAULT_FILE, help=f"the history file (default {DEFAULT_FILE})")
    s.add_argument("--out", metavar="DIR", help="folder for the PNGs and index.html (default: history/ beside --file)")
    s.add_argument("--stacks", nargs="+", help="stack ids, or a part of them: a framework or a server")
    s.add_argument("--metric", nargs="+", help="rps, cpu_us_per_req, p99_ms, error_pct (default: all four)")
    s.set_defaults(func=cmd_history)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="stackmark", description="Benchmark Python web server stacks with Locust. "
                                             "`stackmark COMMAND --help` shows each command's examples.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    s = sub.add_parser("list", help="list the stacks of the matrix")
    s.add_argument("stacks", nargs="*", help="stack ids, frameworks or servers (default: all)")
    s.add_argument("--json", action="store_true", help="print a JSON array")
    s.add_argument("--matrix", help="a matrix file instead of servers/matrix.toml")
    s.set_defaults(func=commands.cmd_list)

    s = sub.add_parser("serve", help="run one stack in the foreground on 127.0.0.1")
    s.add_argument("stack", help="one stack id (see `stackmark list`)")
    s.add_argument("--scenario", default="json", help="the scenario the printed Locust command sends (default json; "
                                                      "see `stackmark scenarios`)")
    s.add_argument("--port", type=int, help="port (default: a free one)")
    s.add_argument("--cpus", help="pin the server to these CPUs, e.g. 1")
    s.add_argument("--log", help="server log file")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; anything else exposes the server beyond this machine)")
    s.set_defaults(func=commands.cmd_serve)

    s = sub.add_parser("verify", help="start stacks and check them against the endpoint contract")
    s.add_argument("stacks", nargs="*", help="stack ids, frameworks or servers (default: all)")
    s.add_argument("--cpus", help="pin servers to these CPUs")
    s.add_argument("--log-dir", default="/tmp/stackmark-verify", help="server logs")
    s.add_argument("--matrix", help="a matrix file instead of servers/matrix.toml")
    s.add_argument("--locustfile", metavar="FILE", help="also smoke-check the paths your own locustfile requests "
                   "(what an app with contract = false is checked by)")
    s.set_defaults(func=commands.cmd_verify)

    _add_bench(sub)
    _add_compare(sub)
    _add_ab(sub)
    _add_history(sub)
    ui_cmd.add_ui(sub)
    compose_bench.add_parser(sub)

    s = sub.add_parser("calibrate", help="measure the load generator's ceiling (and wrk's, if installed)")
    s.add_argument("--stack", default="fastapi-uvicorn", help="a fast stack to drive (default fastapi-uvicorn)")
    s.add_argument("--scenario", default="plaintext", help="scenario (default plaintext)")
    s.add_argument("--concurrency", type=int, default=64)
    s.add_argument("--duration", type=float, default=5.0)
    s.add_argument("--json", action="store_true", help="print the figures as JSON")
    s.set_defaults(func=commands.cmd_calibrate)

    s = sub.add_parser("report", help="rebuild summary.csv and the HTML report of a run folder")
    s.add_argument("run_dir")
    s.set_defaults(func=commands.cmd_report)

    _add_listings(sub)
    return p


def _add_listings(sub: Any) -> None:
    """`scenarios` and `profiles`: what a bench can run, from the catalog and the matrix."""
    s = sub.add_parser("scenarios", help="list the scenarios: the request each sends, its model, default users")
    s.add_argument("--json", action="store_true", help="print a JSON array")
    s.set_defaults(func=listing.cmd_scenarios)

    s = sub.add_parser("profiles", help="list the profiles: the stacks, scenarios, users, durations each sets")
    s.add_argument("--json", action="store_true", help="print a JSON array")
    s.add_argument("--matrix", help="a matrix file instead of servers/matrix.toml")
    s.set_defaults(func=listing.cmd_profiles)


def _terminate(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt  # unwinds every `with launch(...)`, so no server is left behind


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as given: a run records it to be reproduced
    if args.command is None:  # a bare `stackmark`: what it can do, not an error
        parser.print_help()
        return 0
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args))
    except (UserError, MatrixError, RunDirError) as exc:
        if args.debug:
            raise
        err.print(f"stackmark: error: {exc}", highlight=False, soft_wrap=True, markup=False)
        return 2
    except LaunchError as exc:
        if args.debug:
            raise
        err.print(f"stackmark: error: {exc.reason}", highlight=False, soft_wrap=True, markup=False)
        if exc.log_tail:
            err.print(exc.log_tail, highlight=False)
        return 1
    except KeyboardInterrupt:
        err.print("stackmark: interrupted; servers and Locust stopped, finished cells are on disk")
        return 130
    except OSError as exc:
        if args.debug or exc.strerror is None:
            raise
        if exc.filename is None:
            err.print(f"stackmark: error: {exc.strerror} (run with --debug for where)", highlight=False)
            return 2
        err.print(f"stackmark: error: cannot write {exc.filename}: {exc.strerror}; free space or pass another "
                  "--out (finished cells are kept; `stackmark report RUN_DIR` or `--resume RUN_DIR` continue)",
                  highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
