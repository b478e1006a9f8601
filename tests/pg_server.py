"""A throwaway PostgreSQL cluster for tests: real server, temp dir, loopback only.

Why not a system service: CI starts on a fresh machine and tests must not
depend on (or disturb) anything configured by hand. `scripts/setup-postgres.sh`
only installs the binaries; each test session runs its own cluster here:

- initdb into a fresh temp dir (no fsync: it is thrown away);
- the server listens only on 127.0.0.1, on a free port, with its unix socket
  inside the temp dir, so it never collides with another cluster;
- a non-superuser test role with a random password (scram over TCP), owning
  its own database, so the URL the tests get looks like a real deployment's;
- PostgreSQL refuses to run as root, so when the tests run as root every
  server binary runs as the `postgres` system user (made by Debian's
  package) through `runuser`, always with an argument list, never a shell;
- it is always stopped (pg_ctl stop -m fast, then SIGKILL) and the dir removed.

No binaries: pytest.skip with the reason (or a failure if
STACKMARK_REQUIRE_POSTGRES=1, for a CI that must not skip silently).
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10
SYSTEM_USER = "postgres"
DEFAULT_SETTINGS: dict[str, str] = {
    # Throwaway data: durability only costs time.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "logging_collector": "off",
    "unix_socket_permissions": "0700",
}


class PostgresUnavailable(RuntimeError):
    """The cluster could not be started; the message carries the server log tail."""


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("STACKMARK_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (STACKMARK_REQUIRE_POSTGRES=1)", pytrace=False)
    pytest.skip(reason)


def find_bindir() -> Path | None:
    """PostgreSQL's server bin dir: $STACKMARK_PG_BINDIR, Debian's newest, or initdb on PATH."""
    env = os.environ.get("STACKMARK_PG_BINDIR")
    if env:
        return Path(env) if (Path(env) / "initdb").exists() else None
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(p: str) -> tuple[int, ...]:
        part = Path(p).parent.parent.name
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    if found:
        return Path(max(found, key=version)).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quote_setting(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


@dataclass
class PostgresServer:
    """A running throwaway cluster; build it with :func:`postgres_server`."""

    bindir: Path
    root: Path  # temp dir: data/, the unix socket, server.log
    port: int
    user: str
    password: str
    dbname: str
    as_user: str | None  # system user to run binaries as (None: the current user)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.dbname}"

    def argv(self, tool: str, *args: str) -> list[str]:
        """An argument list running a PostgreSQL binary, as the postgres user if we are root."""
        cmd = [str(self.bindir / tool), *args]
        return ["runuser", "-u", self.as_user, "--", *cmd] if self.as_user else cmd

    def run(self, tool: str, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        """Run a PostgreSQL tool to completion; its output on failure becomes the error."""
        res = subprocess.run(
            self.argv(tool, *args), input=stdin, capture_output=True, text=True,
            cwd=self.root, env=_clean_env(), timeout=timeout, check=False,
        )
        if res.returncode != 0:
            out = (res.stderr or res.stdout).strip()
            raise PostgresUnavailable(f"{tool} failed (exit {res.returncode}): {out[-2000:]}")
        return res.stdout


def _clean_env() -> dict[str, str]:
    """No PG* variables, locale or HOME from the caller leak into the server or psql."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}


def _chown(path: Path, user: str) -> None:
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def _start(server: PostgresServer, settings: Mapping[str, str]) -> None:
    """Write the settings, start the postmaster, wait until it accepts connections."""
    conf = {**DEFAULT_SETTINGS, **settings,
            "listen_addresses": "127.0.0.1", "port": str(server.port),
            "unix_socket_directories": str(server.root)}
    with open(server.datadir / "postgresql.conf", "a", encoding="utf-8") as f:
        f.write("\n# stackmark throwaway test cluster\n")
        for key, value in conf.items():
            f.write(f"{key} = {_quote_setting(value)}\n")
    with open(server.log, "ab") as log:
        server.proc = subprocess.Popen(
            server.argv("postgres", "-D", str(server.datadir)),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=server.root, env=_clean_env(), start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    pidfile = server.datadir / "postmaster.pid"
    while True:
        if server.proc.poll() is not None:
            raise PostgresUnavailable(
                f"postgres exited with code {server.proc.returncode} while starting; log tail:\n{_tail(server.log)}"
            )
        with contextlib.suppress(OSError):
            # Line 8 of postmaster.pid is "ready" once it accepts connections.
            status = pidfile.read_text().splitlines()
            if len(status) >= 8 and status[7].strip() == "ready":
                with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                    return
        if time.monotonic() > deadline:
            raise PostgresUnavailable(
                f"postgres did not accept connections on 127.0.0.1:{server.port} within "
                f"{START_TIMEOUT_S:.0f} s; log tail:\n{_tail(server.log)}"
            )
        time.sleep(0.05)


def _stop(server: PostgresServer) -> None:
    """pg_ctl stop -m fast; if the postmaster is still there, SIGKILL its process group."""
    proc = server.proc
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(Exception):
            subprocess.run(
                server.argv("pg_ctl", "stop", "-D", str(server.datadir), "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_S)),
                capture_output=True, cwd=server.root, env=_clean_env(), timeout=STOP_TIMEOUT_S + 5, check=False,
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT_S)
    if proc.poll() is None:
        postmaster = _postmaster_pid(server)
        # Immediate shutdown: the postmaster takes its backends down with it.
        if postmaster:
            with contextlib.suppress(ProcessLookupError):
                os.kill(postmaster, signal.SIGQUIT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
    if proc.poll() is None:
        # Last resort. runuser and the postmaster share this process group
        # (start_new_session); backends lead their own, so kill them by parent.
        postmaster = _postmaster_pid(server)
        for pid in _children(postmaster) if postmaster else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def _postmaster_pid(server: PostgresServer) -> int | None:
    try:
        return int((server.datadir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, IndexError, ValueError):
        return None


def _children(ppid: int) -> list[int]:
    """Pids whose parent is ppid (from /proc; the comm field may hold spaces)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == ppid:
                pids.append(int(entry))
    return pids


@contextlib.contextmanager
def postgres_server(
    *, user: str = "stackmark", dbname: str = "stackmark", settings: Mapping[str, str] | None = None,
) -> Iterator[PostgresServer]:
    """Start a throwaway cluster and yield it (``.url`` is what clients need); always tear it down."""
    bindir = find_bindir()
    if bindir is None:
        _skip_or_fail("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); run scripts/setup-postgres.sh")
    assert bindir is not None
    as_user: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            _skip_or_fail(f"running as root and there is no {SYSTEM_USER!r} user to run PostgreSQL as")
        if shutil.which("runuser") is None:
            _skip_or_fail("running as root and `runuser` is missing, so PostgreSQL cannot drop root")
        as_user = SYSTEM_USER

    # In the system temp dir, not pytest's tmp_path: the postgres user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="stackmark-pg-"))
    server: PostgresServer | None = None
    try:
        if as_user:
            _chown(root, as_user)
        server = PostgresServer(bindir=bindir, root=root, port=0, user=user,
                                password=secrets.token_hex(12), dbname=dbname, as_user=as_user)
        server.run("initdb", "-D", str(server.datadir), "-U", "postgres", "-E", "UTF8", "--no-locale",
                   "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions")
        for attempt in range(3):  # the free port may be taken between choosing and binding
            server.port = _free_port()
            try:
                _start(server, settings or {})
                break
            except PostgresUnavailable as exc:
                _stop(server)
                if attempt == 2 or "could not bind" not in str(exc):
                    raise
        # Superuser over the socket (trust); the test role then only ever uses TCP + password.
        server.run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(root), "-p", str(server.port),
                   "-U", "postgres", "-d", "postgres",
                   stdin=f"CREATE ROLE {user} LOGIN PASSWORD '{server.password}';\n"
                         f"CREATE DATABASE {dbname} OWNER {user};\n")
        yield server
    finally:
        if server is not None:
            _stop(server)
        shutil.rmtree(root, ignore_errors=True)
