"""Start one stack on loopback, pinned to its CPUs; wait until it answers; always tear it down.

The server runs in its own session (process group) so teardown reaches every
worker it forked, also after an exception or Ctrl-C in the harness.
"""
from __future__ import annotations

import http.client
import math
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from servers.base import REPO_ROOT, LaunchSpec, Runtime, ServerHandle, http_url
from servers.matrix import Stack
from servers.registry import SERVERS
from servers.watchdog import Watchdog, group_alive

LOOPBACK = "127.0.0.1"


class LaunchError(RuntimeError):
    """A stack could not be started; `reason` is one line, `log_tail` the server's last words."""

    def __init__(self, reason: str, log_tail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.log_tail = log_tail


@dataclass
class RunningServer:
    stack: Stack
    host: str
    port: int
    command: list[str]
    process: subprocess.Popen[bytes]
    log_path: Path
    cpus: list[int]
    ready_s: float
    watchdog: Watchdog | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

    def exit_code(self) -> int | None:
        return self.process.poll()

    def log_tail(self, lines: int = 20) -> str:
        return tail(self.log_path, lines)


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages and results."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel says is free now (it may be taken before the server binds: see launch)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def pin_prefix(cpus: Sequence[int]) -> list[str]:
    """`taskset` prefix that pins a command and everything it forks to `cpus`."""
    if not cpus:
        return []
    taskset = shutil.which("taskset")
    if taskset is None:
        raise LaunchError("taskset not found, so CPUs cannot be pinned; install util-linux or pass --no-pin")
    return [taskset, "--cpu-list", ",".join(str(c) for c in cpus)]


def child_env(extra: Mapping[str, str] | None = None, root: Path = REPO_ROOT,
              source: Path | None = None) -> dict[str, str]:
    """The environment of a server or Locust: this one plus `extra` (e.g. DATABASE_URL), the checkout at
    `root` importable first (servers import apps/, the Locust plugin imports runformat/), unbuffered.
    A team app's `source` folder goes before even that: its own modules must win over ours."""
    env = {**os.environ, **(extra or {})}
    first = [str(p) for p in (source, root) if p is not None]
    env["PYTHONPATH"] = os.pathsep.join(p for p in (*first, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("DJANGO_SETTINGS_MODULE", None)  # each Django entry point sets its own
    return env


def start_group(command: list[str], **popen: object) -> tuple[subprocess.Popen[bytes], Watchdog]:
    """Start `command` as the leader of a new process group, guarded by a watchdog (servers/watchdog.py)
    that takes the group down if this process dies without tearing it down."""
    process = subprocess.Popen(command, start_new_session=True, **popen)  # type: ignore[call-overload]
    return process, Watchdog(process.pid)


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float = 5.0,
                       watchdog: Watchdog | None = None) -> None:
    """SIGTERM the whole group, then SIGKILL what is left after `grace_s`; returns when the group is gone.

    A Ctrl-C (or SIGTERM, which the CLI turns into one) during teardown does not cut it short: a
    second Ctrl-C must not leave a server half stopped. Teardown starts over and the interrupt is
    raised once the group is gone.
    """
    interrupted: KeyboardInterrupt | None = None
    while True:
        try:
            _stop_group(process, grace_s)
            if watchdog is not None:
                watchdog.release()
            break
        except KeyboardInterrupt as exc:
            interrupted = exc
    if interrupted is not None:
        raise interrupted


def _stop_group(process: subprocess.Popen[bytes], grace_s: float) -> None:
    pgid = process.pid  # started with start_new_session: the leader's pid is the group id
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        if _gone(process, pgid, grace_s):
            break
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)


def _gone(process: subprocess.Popen[bytes], pgid: int, timeout_s: float) -> bool:
    """Wait until the leader is reaped and no process is left in its group."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None and not group_alive(pgid):
            return True
        time.sleep(0.02)
    return False


def wait_ready(server: ServerHandle, timeout_s: float, exit_check_every_s: float = 0.0) -> None:
    """Poll until the server answers any HTTP response, it exits, or time runs out. A handle whose
    exit_code() is costly (a container engine call) asks for it only every `exit_check_every_s`."""
    deadline = time.monotonic() + timeout_s
    path = SERVERS[server.stack.server].ready_path
    checked = -math.inf
    while time.monotonic() < deadline:
        if time.monotonic() - checked >= exit_check_every_s:
            checked = time.monotonic()
            code = server.exit_code()
            if code is not None:
                raise LaunchError(f"{server.stack.id}: server exited with code {code} before it was ready",
                                  server.log_tail())
        conn = http.client.HTTPConnection(server.host, server.port, timeout=1.0)
        try:
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
        finally:
            conn.close()
    raise LaunchError(f"{server.stack.id}: not ready within {timeout_s:.0f} s", server.log_tail())


def _start(stack: Stack, host: str, port: int, cpus: Sequence[int], log_path: Path,
           env: Mapping[str, str] | None, runtime: Runtime) -> RunningServer:
    spec = LaunchSpec(stack.target, stack.interface, host, port, stack.workers, stack.backlog, stack.options,
                      runtime)
    command = SERVERS[stack.server].command(spec)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process, watchdog = start_group(  # an argument list, never a shell string
            pin_prefix(cpus) + command,
            cwd=stack.source or runtime.root,  # a team app runs from its folder, as its own deployment does
            env=child_env(env, runtime.root, stack.source),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return RunningServer(stack, host, port, command, process, log_path, list(cpus), 0.0, watchdog)


@contextmanager
def launch(
    stack: Stack,
    log_path: Path,
    cpus: Sequence[int] = (),
    port: int | None = None,
    host: str = LOOPBACK,
    ready_timeout_s: float = 20.0,
    env: Mapping[str, str] | None = None,
    runtime: Runtime = Runtime(),  # noqa: B008 (frozen, so one shared default is safe)
) -> Iterator[RunningServer]:
    """Run `stack` for the body of the with-block; the whole process group is gone afterwards.

    With no `port`, a free one is chosen, and a start that loses the port to
    another process is retried on a new one. A given `port` that is taken is
    an error that says so.
    """
    if port is not None and port_in_use(host, port):
        raise LaunchError(f"port {port} on {host} is already in use; pick another with --port or stop what holds it")
    attempts = 1 if port is not None else 3
    last: LaunchError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else free_port(host)
        t0 = time.monotonic()
        server = _start(stack, host, chosen, cpus, log_path, env, runtime)
        try:
            try:
                wait_ready(server, ready_timeout_s)
            except LaunchError as exc:
                last = exc
                if "address already in use" in exc.log_tail.lower() and port is None:
                    continue  # lost the port race: try another
                raise
            server.ready_s = time.monotonic() - t0
            yield server
            return
        finally:
            stop_process_group(server.process, watchdog=server.watchdog)
    assert last is not None
    raise last
