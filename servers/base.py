"""What every server module provides: its name, what it hosts, its command line."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


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


class Server:
    """One server program. Subclasses set the class attributes and `command`."""

    name: ClassVar[str]
    interfaces: ClassVar[tuple[str, ...]]
    package: ClassVar[str]  # the distribution to import / report the version of
    module: ClassVar[str]  # the importable module that proves it is installed
    ready_path: ClassVar[str] = "/plaintext"

    def command(self, spec: LaunchSpec) -> list[str]:
        raise NotImplementedError

    @staticmethod
    def python() -> str:
        """The interpreter of this environment, so servers come from the same venv."""
        return sys.executable

    @staticmethod
    def venv_bin(name: str) -> str:
        """A console script installed beside this interpreter (e.g. uwsgi)."""
        return str(Path(sys.executable).parent / name)
