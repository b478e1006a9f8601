"""What every server module provides: its name, what it hosts, its command line."""
from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from servers.matrix import Stack

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Runtime:
    """Where a stack's code and interpreter come from: this checkout and this environment by default.

    An A/B run (`stackmark ab`) gives its base side another: a git worktree of the apps at another
    commit (`root`), or another virtualenv with other server or framework versions (`python`).
    """

    python: str = sys.executable
    root: Path = REPO_ROOT

    def bin(self, name: str) -> str:
        """A console script installed beside this interpreter (e.g. uwsgi)."""
        return str(Path(self.python).parent / name)


def host_port(host: str, port: int) -> str:
    """HOST:PORT, with an IPv6 literal in brackets (a bare ::1:8000 is neither a URL nor a bind address)."""
    try:
        literal = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        literal = None
    shown = f"[{host}]" if literal is not None and literal.version == 6 else host
    return f"{shown}:{port}"


def http_url(host: str, port: int) -> str:
    return f"http://{host_port(host, port)}"


class ServerHandle(Protocol):
    """A server that is running, launched by stackmark or already there (`--target`): the one seam
    between the launcher and everything that sends it requests."""

    stack: Stack
    host: str
    port: int
    command: list[str]
    ready_s: float

    @property
    def pid(self) -> int | None: ...

    @property
    def url(self) -> str: ...

    def exit_code(self) -> int | None: ...

    def log_tail(self, lines: int = 20) -> str: ...


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a server module needs to build one command line."""

    target: str  # "package.module:callable"
    interface: str  # "wsgi" | "asgi"
    host: str
    port: int
    workers: int
    backlog: int
    options: dict[str, Any] = field(default_factory=dict)
    runtime: Runtime = field(default_factory=Runtime)

    @property
    def python(self) -> str:
        """The interpreter the server runs on, so servers come from the runtime's environment."""
        return self.runtime.python

    @property
    def bind(self) -> str:
        return host_port(self.host, self.port)


class Server:
    """One server program. Subclasses set the class attributes and `command`."""

    name: ClassVar[str]
    interfaces: ClassVar[tuple[str, ...]]
    package: ClassVar[str]  # the distribution to import / report the version of
    module: ClassVar[str]  # the importable module that proves it is installed
    ready_path: ClassVar[str] = "/plaintext"
    max_workers: ClassVar[int | None] = None  # a server that runs one process says 1; None: any number

    def command(self, spec: LaunchSpec) -> list[str]:
        raise NotImplementedError
