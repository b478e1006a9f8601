"""Gunicorn: pre-fork WSGI server; ASGI through the uvicorn-worker package."""
from __future__ import annotations

from servers.base import LaunchSpec, Server


class Gunicorn(Server):
    name = "gunicorn"
    interfaces = ("wsgi", "asgi")
    package = "gunicorn"
    module = "gunicorn"

    def command(self, spec: LaunchSpec) -> list[str]:
        cmd = [
            spec.python, "-m", "gunicorn",
            "--bind", spec.bind,
            "--workers", str(spec.workers),
            "--worker-class", str(spec.options.get("worker_class", "sync")),
            "--backlog", str(spec.backlog),
            "--log-level", "warning",  # access log is off unless --access-logfile
        ]
        if "threads" in spec.options:
            cmd += ["--threads", str(spec.options["threads"])]
        return cmd + [spec.target]
