"""Uvicorn: ASGI server on uvloop + httptools."""
from __future__ import annotations

from servers.base import LaunchSpec, Server


class Uvicorn(Server):
    name = "uvicorn"
    interfaces = ("asgi",)
    package = "uvicorn"
    module = "uvicorn"

    def command(self, spec: LaunchSpec) -> list[str]:
        cmd = [
            spec.python, "-m", "uvicorn", spec.target,
            "--host", spec.host, "--port", str(spec.port),
            "--loop", str(spec.options.get("loop", "uvloop")),
            "--http", str(spec.options.get("http", "httptools")),
            "--backlog", str(spec.backlog),
            "--no-access-log", "--log-level", "warning",
        ]
        if spec.workers > 1:
            cmd += ["--workers", str(spec.workers)]
        return cmd
