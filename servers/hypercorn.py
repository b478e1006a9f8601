"""Hypercorn: ASGI server that also hosts WSGI apps."""
from __future__ import annotations

from servers.base import LaunchSpec, Server


class Hypercorn(Server):
    name = "hypercorn"
    interfaces = ("asgi", "wsgi")
    package = "hypercorn"
    module = "hypercorn"

    def command(self, spec: LaunchSpec) -> list[str]:
        # Hypercorn tells WSGI from ASGI by the "wsgi:" / "asgi:" prefix.
        return [
            spec.python, "-m", "hypercorn", f"{spec.interface}:{spec.target}",
            "--bind", spec.bind,
            "--workers", str(spec.workers),
            "--worker-class", str(spec.options.get("worker_class", "asyncio")),
            "--backlog", str(spec.backlog),
            "--log-level", "WARNING",  # access log is off unless --access-logfile
        ]
