"""Measuring a stack that is already running (`bench --target URL`): no launch, same checks.

Load only ever goes to loopback unless the user says `--allow-remote`; the
check is made on the resolved addresses, before any request is sent.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from runformat.paths import safe_name
from servers.base import http_url
from servers.matrix import Stack
from stackmark.database import redact
from stackmark.errors import UserError


@dataclass
class ExternalServer:
    """A servers.base.ServerHandle for a server stackmark did not start."""

    stack: Stack
    host: str
    port: int
    command: list[str]
    ready_s: float = 0.0
    pid: int | None = None

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

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
    addrs = {str(info[4][0]) for info in infos}
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def parse_target(url: str, allow_remote: bool, name: str | None = None) -> ExternalServer:
    """Validate `--target`; refuse non-loopback targets unless `allow_remote`."""
    parts = urlsplit(url)
    shown = redact(url)
    if parts.scheme != "http" or not parts.hostname:
        raise UserError(f"--target {shown!r} is not an http://HOST:PORT URL; e.g. --target http://127.0.0.1:8000")
    if parts.path not in ("", "/") or parts.query:
        raise UserError(f"--target {shown!r} must be a bare base URL (no path); scenarios add the paths")
    try:
        port = parts.port or 80
    except ValueError:
        raise UserError(f"--target {shown!r} has an invalid port") from None
    host = parts.hostname
    if not allow_remote and not is_loopback_host(host):
        raise UserError(
            f"--target {host} is not a loopback address; load-testing another host needs --allow-remote "
            "(make sure it is yours and not in production)"
        )
    sid = name or f"target-{host.replace('.', '-').replace(':', '-')}-{port}"
    try:
        safe_name("--target-name", sid)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    # the recorded target is the redacted URL: a password in it must not reach stack.json
    stack = Stack(id=sid, app="target", framework="unknown", interface="unknown", target=shown,
                  variant="external", server="external", worker="unknown", workers=0, backlog=0, options={})
    return ExternalServer(stack=stack, host=host, port=port, command=[])
