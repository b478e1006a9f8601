"""Granian: Rust HTTP server hosting ASGI and WSGI apps."""
from __future__ import annotations

from servers.base import LaunchSpec, Server


class Granian(Server):
    name = "granian"
    interfaces = ("asgi", "wsgi")
    package = "granian"
    module = "granian"

    def command(self, spec: LaunchSpec) -> list[str]:
        cmd = [
            spec.python, "-m", "granian", spec.target,
            "--interface", spec.interface,
            "--host", spec.host, "--port", str(spec.port),
            "--workers", str(spec.workers),
            "--backlog", str(spec.backlog),
            "--no-access-log", "--log-level", "warning",
        ]
        if spec.interface == "asgi" and "loop" in spec.options:
            cmd += ["--loop", str(spec.options["loop"])]
        if spec.interface == "wsgi" and "blocking_threads" in spec.options:  # ASGI: fixed at 1 (more is an error)
            cmd += ["--blocking-threads", str(spec.options["blocking_threads"])]
        return cmd
