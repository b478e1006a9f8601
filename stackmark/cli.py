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

from runformat.errors import RunDirError
from servers.launcher import LaunchError
from servers.matrix import MatrixError
from stackmark import commands
from stackmark.console import err
from stackmark.errors import UserError

DEFAULT_OUT = "results"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(2, f"stackmark: error: {message} (see `stackmark --help`)\n")


def _add_bench(sub: Any) -> None:
    s = sub.add_parser("bench", help="run the matrix under Locust load and write results + report")
    s.add_argument("--profile", default="quick", help="a [profiles.NAME] of servers/matrix.toml (default quick); "
                                                      "every other default comes from the profile")
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
    s.add_argument("--locust-processes", type=int,
                   help="Locust processes (master + N workers), at most one per load-generator CPU (default 1)")
    s.add_argument("--out", default=DEFAULT_OUT, help="parent folder of run folders (default results/)")
    s.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run with its own settings: only "
                                                       "missing or failed cells run")
    s.add_argument("--target", metavar="URL", help="measure a server that is already running (no launch)")
    s.add_argument("--target-name", help="stack id to record for --target")
    s.add_argument("--allow-remote", action="store_true", help="allow a --target outside loopback")
    s.add_argument("--matrix", help="a matrix file instead of servers/matrix.toml")
    s.add_argument("--seed-db", action="store_true",
                   help="with DATABASE_URL set: drop, create and fill its world and fortune tables first")
    s.set_defaults(func=commands.cmd_bench)


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
    s.set_defaults(func=commands.cmd_verify)

    _add_bench(sub)

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
        if exc.filename is None:
            err.print(f"stackmark: error: {exc.strerror} (run with --debug for where)", highlight=False)
            return 2
        err.print(f"stackmark: error: cannot write {exc.filename}: {exc.strerror}; free space or pass another "
                  "--out (finished cells are kept; `stackmark report RUN_DIR` or `--resume RUN_DIR` continue)",
                  highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
