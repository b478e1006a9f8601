"""Locust's web UI against one stack: the stack started and pinned as in a bench, Locust's UI beside it.

Both run as process groups of their own (the launcher's `launch` for the server, `start_group` for
Locust), so leaving the with-blocks, by Ctrl-C, SIGTERM or either process dying, takes both down.

The UI loads the scenario's plain locustfile (closed.py, open.py, ws.py) with the scenario's own
arguments (--endpoint, --method, --body, --rate), and never scenarios/phases.py: its load shape would
take the user count and run time out of the UI's hands, and its measured window is the bench's business.
An open-model scenario needs no shape either: open.py splits the offered rate between however many users
the UI starts (one is enough), and --users is its most requests in flight, as concurrency is in a bench.
A team's own locustfile (--locustfile) loads as it is; a LoadTestShape in it drives the run the UI starts.
"""
from __future__ import annotations

import http.client
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from apps.contract import ENDPOINTS
from scenarios.catalog import Scenario
from servers.base import ServerHandle
from servers.launcher import (
    LOOPBACK,
    LaunchError,
    child_env,
    pin_prefix,
    port_in_use,
    start_group,
    stop_process_group,
    tail,
)
from servers.matrix import Stack
from stackmark.errors import UserError
from stackmark.smoke import StackChecks

LOCUST_READY_S = 30.0  # Locust imports gevent and the locustfile before it listens: seconds on a busy machine
POLL_S = 0.3  # how often the foreground loop looks whether the server or Locust died

@dataclass(frozen=True)
class UiPlan:
    """What `stackmark ui` runs: validated, with the CPUs a bench would use."""

    stack: Stack
    scenario: Scenario
    web_port: int
    users: int  # closed model: users prefilled in the UI; open model: the most requests in flight
    server_cpus: list[int]
    loadgen_cpus: list[int]

    @property
    def web_url(self) -> str:
        return f"http://{LOOPBACK}:{self.web_port}"

    @property
    def form_users(self) -> int:
        """The UI form's user count: one sending user for the open model (it keeps the rate on its own)."""
        return 1 if self.scenario.is_open else self.users


def refusal(stack: Stack, scenario: Scenario, others: list[Stack]) -> str | None:
    """Why `stack` cannot take `scenario` in the UI, in one line with the fix, or None if it can."""
    if scenario.is_custom or scenario.served_by(stack):
        return None
    if not stack.contract:
        return (f"{stack.id} does not serve scenario {scenario.name!r}: its app says contract = false, so it serves "
                "no catalog scenario; pass its own load with --locustfile FILE")
    missing = next(e for e in scenario.endpoints if not stack.serves(e))
    if stack.endpoints is not None and missing not in stack.endpoints:
        why = f"its app serves only {', '.join(stack.endpoints)}"
    else:
        why = f"{scenario.path} needs an {'/'.join(ENDPOINTS[missing].interfaces).upper()} stack"
    example = next((s.id for s in others if scenario.served_by(s)), None)
    hint = f" (e.g. {example})" if example else ""
    return (f"{stack.id} does not serve scenario {scenario.name!r}: {why}; pick a stack that does{hint} or "
            "another --scenario")


def locust_ui_command(plan: UiPlan, host_url: str) -> list[str]:
    """Locust's web UI on loopback, with the scenario's locustfile and arguments and nothing of phases.py.
    An argument list run by this venv's python, never a shell string."""
    scenario = plan.scenario
    extra = ["--max-inflight", str(plan.users)] if scenario.is_open else []
    return [
        sys.executable, "-m", "locust",
        "-f", str(scenario.locustfile),
        "--host", host_url,
        "--web-host", LOOPBACK, "--web-port", str(plan.web_port),
        "--users", str(plan.form_users), "--spawn-rate", str(plan.form_users),
        *scenario.locust_args(phases=False),  # no phases.py here: a shape's options would be refused
        *extra,
        "--loglevel", "INFO",
    ]


def check_verified(server: ServerHandle, scenario: Scenario, database_url: str, folder: Path,
                   loadgen_cpus: Sequence[int]) -> StackChecks:
    """The check a bench makes before load: the contract on the scenario's endpoint, or a smoke run of a
    team's own locustfile; a failure refuses the UI in one line (its load would only measure errors)."""
    from stackmark.bench import verify_served
    from stackmark.smoke import smoke_check

    if scenario.endpoint is None:
        checks = StackChecks(None, {scenario.name: smoke_check(server, scenario, folder / "smoke", loadgen_cpus)})
    else:
        checks = StackChecks(verify_served(server, [ENDPOINTS[e] for e in scenario.endpoints], database_url), {})
    if checks.blocks(scenario):
        first = next(f for f in checks.result.findings if f.level == "fail")
        every = f" (`stackmark verify {server.stack.id}` shows every finding)" if scenario.endpoint else ""
        raise LaunchError(f"{server.stack.id} failed verification of {scenario.path} ({first.check}: expected "
                          f"{first.expected}, got {first.actual}); fix the app or pick another stack{every}")
    return checks


@contextmanager
def locust_ui(plan: UiPlan, host_url: str, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Locust's web UI, pinned to the load-generator CPUs, answering on plan.web_url for the with-block; its
    whole process group is gone afterwards, whatever happened."""
    if port_in_use(LOOPBACK, plan.web_port):  # checked again: the server may have started on it meanwhile
        raise UserError(f"port {plan.web_port} on {LOOPBACK} is already in use; pick another with --port")
    cmd = pin_prefix(plan.loadgen_cpus) + locust_ui_command(plan, host_url)
    with open(log_path, "ab") as log:
        proc, watchdog = start_group(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=child_env())
    try:
        wait_web_ready(proc, plan.web_port, log_path)
        yield proc
    finally:
        stop_process_group(proc, grace_s=3.0, watchdog=watchdog)


def wait_web_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path,
                   timeout_s: float = LOCUST_READY_S) -> None:
    """Until the UI's page answers 200; a Locust that exits or stays silent is a LaunchError with its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LaunchError(f"Locust exited with code {proc.returncode} before its web UI was up; its last words:",
                              tail(log_path))
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=1.0)
        try:
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise LaunchError(f"Locust's web UI did not answer on port {port} within {timeout_s:.0f} s; its last words:",
                      tail(log_path))


def wait_until_one_dies(server: ServerHandle, locust: subprocess.Popen[bytes]) -> str:
    """Block until the server or Locust exits (Ctrl-C and SIGTERM arrive as KeyboardInterrupt meanwhile);
    returns one line saying which."""
    while True:
        code = server.exit_code()
        if code is not None:
            return f"{server.stack.id}: server exited with code {code}; Locust stopped too"
        if locust.poll() is not None:
            return f"Locust exited with code {locust.returncode}; {server.stack.id} stopped too"
        time.sleep(POLL_S)
