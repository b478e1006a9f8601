"""Daphne: Django's reference ASGI server (HTTP and WebSocket on Twisted, asyncio reactor).

Started through servers/daphne_main.py: Daphne's own command line, plus the Date header it does not send.
"""
from __future__ import annotations

from servers.base import LaunchSpec, Server


def twisted_tcp_endpoint(host: str, port: int, backlog: int) -> str:
    """A Twisted server endpoint string (`daphne -e`): the one way Daphne takes a listen backlog.

    Colons in an IPv6 literal are escaped, as Twisted's endpoint syntax wants."""
    interface = host.strip("[]").replace(":", "\\:")
    return f"tcp:port={port}:interface={interface}:backlog={backlog}"


class Daphne(Server):
    name = "daphne"
    interfaces = ("asgi",)
    package = "daphne"
    module = "daphne"
    max_workers = 1  # one process: Daphne's docs put several behind a load balancer or a process manager

    def command(self, spec: LaunchSpec) -> list[str]:
        return [
            spec.python, "-m", "servers.daphne_main",  # `daphne` with a Date header (see that module)
            "--endpoint", twisted_tcp_endpoint(spec.host, spec.port, spec.backlog),
            "--verbosity", "0",  # warnings only; the access log is off below verbosity 1
            spec.target,
        ]
