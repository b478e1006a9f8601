"""The `stackmark` command line: the parser and the one place errors become exit codes.

Bad input is one line on stderr and exit code 2; `--debug` shows tracebacks.
A failed stack or cell is exit code 1, after everything else was written.
"""
from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from runformat.baseline import BASELINES_DIR
from runformat.errors import RunDirError
from servers.launcher import LaunchError
from servers.matrix import MatrixError
from stackmark import commands, compare_cmd
from stackmark.console import err
from stackmark.errors import UserError

DEFAULT_OUT = "results"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(2, f"stackmark: error: {message} (see `stackmark --help`)\n")


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
    p = Parser(prog="stackmark", description="Benchmark Python web server stacks with Locust.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    s = sub.add_parser("list", help="list the stacks of the matrix")
    s.add_argument("stacks", nargs="*", help="stack ids, frameworks or servers (default: all)")
    s.add_argument("--json", action="store_true", help="print a JSON array")
    s.add_argument("--matrix", help="a matrix file instead of servers/matrix.toml")
    s.set_defaults(func=commands.cmd_list)

    s = sub.add_parser("serve", help="run one stack in the foreground on 127.0.0.1")
    s.add_argument("stack")
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
