"""Gunicorn: pre-fork WSGI server; ASGI through the uvicorn-worker package or its own `asgi` worker."""
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
        if "asgi_loop" in spec.options:  # the native asgi worker's event loop: auto, asyncio or uvloop
            cmd += ["--asgi-loop", str(spec.options["asgi_loop"])]
        return cmd + [spec.target]
