"""`stackmark compose-bench`: the matrix through compose.yaml, each stack in a container with hard CPU
and memory limits, measured by the same bench code as local runs.

Per run: compose brings up PostgreSQL (published on 127.0.0.1), the bench seeds it from the host. Per
stack and repeat: compose brings up the `stack` service with the stack's id, the harness waits (bounded)
until it answers, then hands bench a ServerHandle whose pid is the container's main process, the server
itself (servers/container.py execs it): with rootful Podman or Docker that is a host process, so
verification, Locust (on the host, pinned), the sampler (CPU and memory of that process tree), cell.json,
summary.csv and the report are the local code. Everything comes down whatever happens, Ctrl-C included.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers.base import REPO_ROOT
from servers.container import server_command
from servers.launcher import LOOPBACK, LaunchError, free_port, wait_ready
from servers.matrix import Stack
from stackmark.errors import UserError
from stackmark.plan import BenchPlan
from stackmark.target import ExternalServer

COMPOSE_FILE = REPO_ROOT / "compose.yaml"
PROJECT = "stackmark-bench"
SERVICE = "stack"
PODMAN_CONF = REPO_ROOT / ".venv" / "containers.conf"  # written by scripts/setup-podman.sh
DB_USER_URL = "postgresql://stackmark@{host}:{port}/stackmark"
READY_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Engine:
    """A compose implementation and the container CLI beside it (for inspect and logs)."""

    name: str
    compose: tuple[str, ...]
    container: str
    version: str = ""

    def describe(self) -> str:
        return f"{self.name} {self.version}".strip()


def _podman_compose() -> list[str] | None:
    beside = Path(sys.executable).parent / "podman-compose"
    found = str(beside) if beside.exists() else shutil.which("podman-compose")
    return [found] if found and shutil.which("podman") else None


def _docker_compose() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    alive = subprocess.run([docker, "info"], capture_output=True, timeout=20, check=False).returncode == 0
    return [docker, "compose"] if alive else None


# engine name -> (finds its compose command or None, its container CLI); auto tries them in this order
ENGINES = {"podman-compose": (_podman_compose, "podman"), "docker": (_docker_compose, "docker")}


def engine_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for engine calls: Podman's containers.conf from scripts/setup-podman.sh unless set."""
    env = dict(os.environ if base is None else base)
    if "CONTAINERS_CONF" not in env and PODMAN_CONF.exists():
        env["CONTAINERS_CONF"] = str(PODMAN_CONF)
    return env


def find_engine(choice: str = "auto") -> Engine:
    """The engine asked for, or the first that works; one clear error naming the fix if none does."""
    names = list(ENGINES) if choice == "auto" else [choice]
    for name in names:
        find, container = ENGINES[name]
        compose = find()
        if compose is not None:
            done = _call([*compose, "version"], check=False)
            version = (done.stdout.strip().splitlines() or [""])[0].split()[-1] if done.returncode == 0 else ""
            return Engine(name, tuple(compose), shutil.which(container) or container, version)
    raise UserError(f"no container engine found ({', '.join(names)}); as root on Debian run `bash "
                    "scripts/setup-podman.sh` (Podman, runc, podman-compose), or install Docker with its compose "
                    "plugin")


def _call(argv: Sequence[str], env: Mapping[str, str] | None = None, check: bool = True,
          timeout_s: float = CALL_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """One engine call (an argument list), in its own session so a Ctrl-C meant for us does not cut it."""
    done = subprocess.run(list(argv), env=engine_env(env), capture_output=True, text=True, timeout=timeout_s,
                          check=False, start_new_session=True, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise LaunchError(f"`{' '.join(argv[:6])} ...` failed (exit {done.returncode}): {' / '.join(last)}")
    return done


def _always(action: Any) -> None:
    """Run a teardown step to its end even if Ctrl-C arrives meanwhile; the interrupt is raised after."""
    interrupted: KeyboardInterrupt | None = None
    while True:
        try:
            action()
            break
        except KeyboardInterrupt as exc:
            interrupted = exc
    if interrupted is not None:
        raise interrupted


@dataclass(kw_only=True)
class ContainerServer(ExternalServer):
    """A servers.base.ServerHandle for a stack running in a container: its pid is a host pid, and the
    engine answers whether it still runs and what it logged (an ExternalServer otherwise)."""

    engine: Engine
    container_id: str

    def exit_code(self) -> int | None:
        done = _call([self.engine.container, "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}",
                      self.container_id], check=False)
        running, _, code = done.stdout.strip().partition(" ")
        if done.returncode != 0:
            return -1  # the container is gone
        return None if running == "true" else int(code or -1)

    def log_tail(self, lines: int = 20) -> str:
        done = _call([self.engine.container, "logs", "--tail", str(lines), self.container_id], check=False)
        return (done.stdout + done.stderr).strip()


@dataclass
class ComposeSession:
    """One compose project for a whole run: PostgreSQL up for it, one stack container at a time."""

    engine: Engine
    compose_file: Path
    server_cpus: Sequence[int]
    memory: str
    pg_port: int
    project: str = PROJECT

    @property
    def database_url(self) -> str:
        return DB_USER_URL.format(host=LOOPBACK, port=self.pg_port)

    def compose(self, *args: str, env: Mapping[str, str] | None = None, check: bool = True,
                timeout_s: float = CALL_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return _call([*self.engine.compose, "-f", str(self.compose_file), "-p", self.project, *args],
                     env={**os.environ, **self.variables(), **(env or {})}, check=check, timeout_s=timeout_s)

    def variables(self) -> dict[str, str]:
        """compose.yaml's settings: the server's CPU set and quota, memory, the database's host port."""
        cpus = list(self.server_cpus) or sorted(os.sched_getaffinity(0))
        return {"SERVER_CPUSET": ",".join(str(c) for c in cpus), "SERVER_CPUS": str(len(cpus)),
                "SERVER_MEMORY": self.memory, "POSTGRES_PORT": str(self.pg_port)}

    def container_id(self, service: str) -> str:
        done = _call([self.engine.container, "ps", "-a", "-q",
                      "--filter", f"label=com.docker.compose.project={self.project}",
                      "--filter", f"label=com.docker.compose.service={service}"])
        ids = done.stdout.split()
        if not ids:
            raise LaunchError(f"compose started no {service} container (project {self.project})")
        return ids[0]

    def down(self) -> None:
        self.compose("down", "-t", "5", check=False)

    @contextlib.contextmanager
    def stack(self, plan: BenchPlan, stack: Stack, log_path: Path, env: dict[str, str]) -> Iterator[ContainerServer]:
        """bench's server factory: `stack` in its container for the with-block, stopped and removed after."""
        port = free_port()
        variables = {"STACK": stack.id, "SERVER_WORKERS": str(stack.workers), "STACK_PORT": str(port)}
        t0 = time.monotonic()
        try:
            self.compose("up", "-d", "--no-deps", "--force-recreate", SERVICE, env=variables)
            cid = self.container_id(SERVICE)
            pid = int(_call([self.engine.container, "inspect", "--format", "{{.State.Pid}}", cid]).stdout.strip())
            command = [*self.engine.compose, "up", SERVICE, f"STACK={stack.id}", f"engine={self.engine.describe()}",
                       "--", *server_command(stack)]
            server = ContainerServer(stack=stack, host=LOOPBACK, port=port, command=command, engine=self.engine,
                                     container_id=cid, pid=pid or None)
            # the client waits itself: compose healthchecks do not run under Podman here
            wait_ready(server, READY_TIMEOUT_S, exit_check_every_s=1.0)
            server.ready_s = time.monotonic() - t0
            yield server
        finally:
            _always(lambda: self._remove_stack(log_path))

    def _remove_stack(self, log_path: Path) -> None:
        """Keep the server's log beside its cells, then stop (SIGTERM, 5 s) and remove its container."""
        try:
            cid = self.container_id(SERVICE)
        except LaunchError:
            return  # never started
        logs = _call([self.engine.container, "logs", cid], check=False)
        with contextlib.suppress(OSError):
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(logs.stdout + logs.stderr)
        _call([self.engine.container, "stop", "-t", "5", cid], check=False)
        _call([self.engine.container, "rm", "-f", cid], check=False)


@contextlib.contextmanager
def compose_session(engine: Engine, compose_file: Path, server_cpus: Sequence[int],
                    memory: str) -> Iterator[ComposeSession]:
    """PostgreSQL up and answering for the body; the whole project down afterwards, Ctrl-C or not."""
    from stackmark.compose_services import wait_for
    from stackmark.database import row_counts

    session = ComposeSession(engine, compose_file, server_cpus, memory, free_port())
    try:
        session.compose("up", "-d", "--no-deps", "postgres")
        wait_for(f"PostgreSQL on 127.0.0.1:{session.pg_port}", lambda: row_counts(session.database_url))
        yield session
    finally:
        _always(session.down)


def add_parser(sub: Any) -> None:
    """`stackmark compose-bench`: registered by stackmark/cli.py's build_parser."""
    from stackmark.cli import EXAMPLES, _add_plan_flags

    # this command's --help examples, kept with the command (cli.py's table is keyed by command name)
    EXAMPLES.setdefault("compose-bench", (
        "stackmark compose-bench --stacks flask-granian fastapi-uvicorn --scenario json db",
        "stackmark compose-bench --engine docker --stacks fastapi --repeat 3"))
    s = sub.add_parser("compose-bench", help="run the matrix with each stack in a container (compose.yaml), "
                                             "hard CPU and memory limits, PostgreSQL in compose")
    s.add_argument("--profile", default="quick", help="a [profiles.NAME] of servers/matrix.toml (default quick)")
    _add_plan_flags(s)
    s.add_argument("--engine", default="auto", choices=("auto", *ENGINES),
                   help="compose implementation (default: podman-compose if Podman is installed, else docker)")
    s.add_argument("--compose-file", default=str(COMPOSE_FILE), help="default: the checkout's compose.yaml")
    s.add_argument("--memory", default="1g", help="memory limit of the server container (default 1g)")
    s.set_defaults(func=cmd_compose_bench, target=None, target_name=None, allow_remote=False, seed_db=True,
                   resume=None)


def cmd_compose_bench(args: argparse.Namespace) -> int:
    from stackmark.bench import new_run, run_bench
    from stackmark.commands import _announce, finish_bench, matrix_of, overrides
    from stackmark.console import out
    from stackmark.progress import for_console

    compose_file = Path(args.compose_file)
    if not compose_file.is_file():
        raise UserError(f"--compose-file {compose_file} does not exist; pass the checkout's compose.yaml")
    plan = BenchPlan.from_profile(matrix_of(args), overrides(args))
    engine = find_engine(args.engine)
    out.print(f"compose engine: {engine.describe()} ({' '.join(engine.compose)}), file {compose_file}",
              highlight=False)
    with compose_session(engine, compose_file, plan.server_cpus, args.memory) as session:
        plan = dataclasses.replace(plan, database_url=session.database_url, seed_database=True)
        _announce(plan)
        run = new_run(plan, Path(args.out))
        t0 = time.monotonic()
        with for_console(out) as progress:
            result = run_bench(plan, run, progress, servers=session.stack)
    # a container run stays out of results/history.jsonl: its steps would read as the code's
    return finish_bench(result, t0, time.monotonic() - t0, history=False, headline=f"engine {engine.describe()}; ")
