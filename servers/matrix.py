"""Expand servers/matrix.toml into the list of valid stacks.

The matrix is data: apps x server variants, kept when the app's interface is
one the variant hosts and no [[exclude]] rule drops it. Stack ids are
"<app>-<variant>", stable and readable.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from apps.contract import ENDPOINTS, Endpoint
from runformat.paths import safe_name
from servers.registry import SERVERS

MATRIX_FILE = Path(__file__).with_name("matrix.toml")


class MatrixError(ValueError):
    """The matrix file is invalid; the message names the file and the problem."""


@dataclass(frozen=True)
class Stack:
    id: str
    app: str
    framework: str
    interface: str
    target: str
    variant: str
    server: str
    worker: str
    workers: int
    backlog: int
    options: dict[str, Any] = field(default_factory=dict)
    endpoints: tuple[str, ...] | None = None  # contract endpoints the app serves; None: all of them

    def serves(self, endpoint: Endpoint | str) -> bool:
        """The one rule for what a stack serves: its app lists the endpoint (or lists none), and the
        endpoint exists on the app's interface (ws only on ASGI). An external target's interface is
        unknown: it is taken to serve what it is asked for."""
        ep = ENDPOINTS.get(endpoint) if isinstance(endpoint, str) else endpoint
        name = endpoint if isinstance(endpoint, str) else endpoint.name
        listed = self.endpoints is None or name in self.endpoints
        on_interface = ep is None or self.interface not in ("wsgi", "asgi") or self.interface in ep.interfaces
        return listed and on_interface

    def served(self, endpoints: list[Endpoint]) -> list[Endpoint]:
        """The endpoints of `endpoints` this stack serves, in order."""
        return [e for e in endpoints if self.serves(e)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Matrix:
    stacks: dict[str, Stack]
    excluded: dict[str, str]  # stack id -> reason
    profiles: dict[str, dict[str, Any]]


def _need(table: dict[str, Any], key: str, where: str, path: Path) -> Any:
    if key not in table:
        raise MatrixError(f"{path}: [{where}] is missing '{key}'")
    return table[key]


def load_matrix(path: Path = MATRIX_FILE) -> Matrix:
    """Read and expand the matrix; any problem is a MatrixError naming file and place."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise MatrixError(f"{path}: matrix file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise MatrixError(f"{path}: invalid TOML: {exc}") from None

    defaults = data.get("defaults", {})
    workers = int(defaults.get("workers", 1))
    backlog = int(defaults.get("backlog", 2048))
    apps = data.get("apps", {})
    variants = data.get("variants", {})
    if not apps or not variants:
        raise MatrixError(f"{path}: needs at least one [apps.X] and one [variants.Y] table")

    rules = data.get("exclude", [])
    stacks: dict[str, Stack] = {}
    excluded: dict[str, str] = {}
    for app_name, app in apps.items():
        interface = _need(app, "interface", f"apps.{app_name}", path)
        if interface not in ("wsgi", "asgi"):
            raise MatrixError(f"{path}: [apps.{app_name}] interface must be 'wsgi' or 'asgi', not {interface!r}")
        for var_name, var in variants.items():
            server = _need(var, "server", f"variants.{var_name}", path)
            if server not in SERVERS:
                raise MatrixError(
                    f"{path}: [variants.{var_name}] unknown server {server!r}; known: {', '.join(sorted(SERVERS))}"
                )
            hosts = var.get("interfaces", list(SERVERS[server].interfaces))
            if interface not in hosts:
                continue  # e.g. a WSGI app on a pure ASGI server
            try:
                stack_id = safe_name("stack id", f"{app_name}-{var_name}")
            except ValueError as exc:
                raise MatrixError(f"{path}: [apps.{app_name}] x [variants.{var_name}]: {exc}") from None
            rule = next(
                (r for r in rules if r.get("app", app_name) == app_name and r.get("variant", var_name) == var_name),
                None,
            )
            if rule is not None:
                excluded[stack_id] = str(rule.get("reason", "excluded by rule"))
                continue
            stacks[stack_id] = Stack(
                id=stack_id,
                app=app_name,
                framework=_need(app, "framework", f"apps.{app_name}", path),
                interface=interface,
                target=_need(app, "target", f"apps.{app_name}", path),
                variant=var_name,
                server=server,
                worker=str(var.get("worker", "default")),
                workers=int(var.get("workers", app.get("workers", workers))),
                backlog=int(var.get("backlog", backlog)),
                options=dict(var.get("options", {})),
                endpoints=tuple(app["endpoints"]) if "endpoints" in app else None,
            )
    return Matrix(stacks=stacks, excluded=excluded, profiles=data.get("profiles", {}))
