"""Measuring a stack that is already running (`bench --target URL`): no launch, same checks.

Load only ever goes to loopback unless the user says `--allow-remote`; the
check is made on the resolved addresses, before any request is sent.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from servers.matrix import Stack
from stackmark.errors import UserError


@dataclass
class ExternalServer:
    """Quacks like servers.launcher.RunningServer, for a server stackmark did not start."""

    stack: Stack
    host: str
    port: int
    command: list[str]
    ready_s: float = 0.0
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def exit_code(self) -> int | None:
        return None

    def log_tail(self, lines: int = 20) -> str:
        return ""


def is_loopback_host(host: str) -> bool:
    """True when every address `host` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    addrs = {info[4][0] for info in infos}
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def parse_target(url: str, allow_remote: bool, name: str | None = None) -> ExternalServer:
    """Validate `--target`; refuse non-loopback targets unless `allow_remote`."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise UserError(f"--target {url!r} is not an http://HOST:PORT URL; e.g. --target http://127.0.0.1:8000")
    if parts.path not in ("", "/") or parts.query:
        raise UserError(f"--target {url!r} must be a bare base URL (no path); scenarios add the paths")
    try:
        port = parts.port or 80
    except ValueError:
        raise UserError(f"--target {url!r} has an invalid port") from None
    host = parts.hostname
    if not allow_remote and not is_loopback_host(host):
        raise UserError(
            f"--target {host} is not a loopback address; load-testing another host needs --allow-remote "
            "(make sure it is yours and not in production)"
        )
    sid = name or f"target-{host.replace('.', '-').replace(':', '-')}-{port}"
    stack = Stack(id=sid, app="target", framework="unknown", interface="unknown", target=url, variant="external",
                  server="external", worker="unknown", workers=0, backlog=0, options={})
    return ExternalServer(stack=stack, host=host, port=port, command=[])
