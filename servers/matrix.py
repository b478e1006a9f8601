"""Expand servers/matrix.toml into the list of valid stacks.

The matrix is data: apps x server variants, kept when the app's interface is
one the variant hosts and no [[exclude]] rule drops it. Stack ids are
"<app>-<variant>", stable and readable.

A team's own matrix file (`--matrix FILE`) may hold only its [apps.X] tables:
the [defaults], [variants.*] and [profiles.*] it leaves out are this file's,
so its apps run under the same fair server settings as the reference apps.
An app table there may say where its code lives (`source`, a folder relative
to the matrix file) and that it does not implement stackmark's endpoint
contract (`contract = false`): such an app serves only a team's own
locustfile, and is smoke-checked instead of verified (stackmark/smoke.py).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from apps.contract import ENDPOINTS, Endpoint
from runformat.paths import safe_name
from servers.registry import SERVERS

MATRIX_FILE = Path(__file__).with_name("matrix.toml")
# what a matrix file that leaves them out takes from MATRIX_FILE
INHERITED = ("defaults", "variants", "profiles", "tuned")


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
    source: Path | None = None  # a team app's folder: first on the server's PYTHONPATH, and its working directory
    contract: bool = True  # False: the app does not implement the endpoint contract (a team's own service)
    configuration: str = "default"  # "default": one worker, the fair per-worker comparison; "tuned": as deployed

    def config_hash(self) -> str:
        """12 hex digits of the sha256 of how the server runs (server, worker model, workers, options) as
        canonical JSON: the same for the same configuration whatever the app, different when any of it is."""
        canonical = json.dumps({"server": self.server, "worker": self.worker, "workers": self.workers,
                                "options": self.options}, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def serves(self, endpoint: Endpoint | str | None) -> bool:
        """The one rule for what a stack serves. None is a team's own locustfile: no contract endpoint, so
        every stack is offered it (its smoke check decides). A contract endpoint needs an app that
        implements the contract, lists the endpoint (or lists none), and has it on its interface (ws only
        on ASGI). An external target's interface is unknown: it is taken to serve what it is asked for."""
        if endpoint is None:
            return True
        ep = ENDPOINTS.get(endpoint) if isinstance(endpoint, str) else endpoint
        name = endpoint if isinstance(endpoint, str) else endpoint.name
        listed = self.endpoints is None or name in self.endpoints
        on_interface = ep is None or self.interface not in ("wsgi", "asgi") or self.interface in ep.interfaces
        return self.contract and listed and on_interface

    def served(self, endpoints: list[Endpoint]) -> list[Endpoint]:
        """The endpoints of `endpoints` this stack serves, in order."""
        return [e for e in endpoints if self.serves(e)]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "source": str(self.source) if self.source is not None else None}


@dataclass(frozen=True)
class Count:
    """A tuned setting for a number of CPUs: `per_cpu` x CPUs + `plus` (a whole number in the file is `plus`)."""

    per_cpu: int = 0
    plus: int = 0

    def at(self, cpus: int) -> int:
        return max(1, self.per_cpu * cpus + self.plus)


TunedRules = dict[str, dict[str, Count]]  # server or variant name -> "workers" or an option name -> its count


@dataclass(frozen=True)
class Matrix:
    stacks: dict[str, Stack]
    excluded: dict[str, str]  # stack id -> reason
    profiles: dict[str, dict[str, Any]]
    tuned: TunedRules = field(default_factory=dict)  # [tuned.*]: the `tuned` configuration's rules


def _need(table: dict[str, Any], key: str, where: str, path: Path) -> Any:
    if key not in table:
        raise MatrixError(f"{path}: [{where}] is missing '{key}'")
    return table[key]


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise MatrixError(f"{path}: matrix file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise MatrixError(f"{path}: invalid TOML: {exc}") from None


def _with_reference_tables(data: dict[str, Any], path: Path, reference_file: Path) -> dict[str, Any]:
    """`data` with the [defaults], [variants.*] and [profiles.*] it leaves out taken from the reference
    matrix (MATRIX_FILE, or an A/B base's copy of it), so a team's file can be only its [apps.X] tables.
    [[exclude]] rules are never taken: they name our apps."""
    missing = [key for key in INHERITED if key not in data]
    if not missing or path.resolve() == reference_file.resolve():
        return data
    reference = _read(reference_file)
    return {**{key: reference.get(key, {}) for key in missing}, **data}


def _app(name: str, app: dict[str, Any], path: Path) -> dict[str, Any]:
    """The fields every stack of one [apps.X] table shares."""
    where = f"apps.{name}"
    interface = _need(app, "interface", where, path)
    if interface not in ("wsgi", "asgi"):
        raise MatrixError(f"{path}: [{where}] interface must be 'wsgi' or 'asgi', not {interface!r}")
    contract = app.get("contract", True)
    if not isinstance(contract, bool):
        raise MatrixError(f"{path}: [{where}] contract must be true or false, not {contract!r}")
    if not contract and "endpoints" in app:
        raise MatrixError(f"{path}: [{where}] lists contract endpoints but says contract = false; drop one")
    return {"app": name, "framework": _need(app, "framework", where, path), "interface": interface,
            "target": _need(app, "target", where, path), "contract": contract,
            "endpoints": tuple(app["endpoints"]) if "endpoints" in app else None,
            "source": _source(app.get("source"), where, path)}


def _source(value: object, where: str, path: Path) -> Path | None:
    """The app's code folder, resolved against the matrix file's folder; it must exist now, not at launch."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MatrixError(f"{path}: [{where}] source must be a folder path in quotes, not {value!r}")
    folder = (path.parent / Path(value).expanduser()).resolve()
    if not folder.is_dir():
        raise MatrixError(f"{path}: [{where}] source folder {value!r} does not exist (looked for {folder}; a "
                          "relative source is relative to the matrix file's folder)")
    return folder


def _count(value: object, where: str, path: Path) -> Count:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return Count(plus=value)
    if isinstance(value, dict) and value and set(value) <= {"per_cpu", "plus"} and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()):
        return Count(int(value.get("per_cpu", 0)), int(value.get("plus", 0)))
    raise MatrixError(f"{path}: [{where}] must be a whole number from 1, or {{ per_cpu = K, plus = C }} (whole "
                      f"numbers from 0), not {value!r}")


def _tuned(data: dict[str, Any], variants: dict[str, Any], path: Path) -> TunedRules:
    """The [tuned.SERVER] and [tuned.VARIANT] rules, checked: counts, and no more workers than a one-process
    server runs, on any number of CPUs. A name that is neither a server nor a variant here is no error, as
    for a profile's `skip`: a team's matrix file takes the reference rules without the reference variants."""
    rules: TunedRules = {}
    for name, table in data.get("tuned", {}).items():
        if not isinstance(table, dict):
            raise MatrixError(f"{path}: [tuned.{name}] must be a table of settings, not {table!r}")
        rules[name] = {key: _count(value, f"tuned.{name}.{key}", path) for key, value in table.items()}
        server = name if name in SERVERS else str(variants.get(name, {}).get("server"))
        most = SERVERS[server].max_workers if server in SERVERS else None
        workers = rules[name].get("workers")
        if most is not None and workers is not None and (workers.per_cpu or workers.plus > most):
            raise MatrixError(f"{path}: [tuned.{name}] {server} runs at most {most} worker(s); its workers rule "
                              "must be a whole number no larger")
    return rules


def load_matrix(path: Path = MATRIX_FILE, reference_file: Path = MATRIX_FILE) -> Matrix:
    """Read and expand the matrix; any problem is a MatrixError naming file and place."""
    data = _with_reference_tables(_read(path), path, reference_file)
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
        shared = _app(app_name, app, path)
        for var_name, var in variants.items():
            server = _need(var, "server", f"variants.{var_name}", path)
            if server not in SERVERS:
                raise MatrixError(
                    f"{path}: [variants.{var_name}] unknown server {server!r}; known: {', '.join(sorted(SERVERS))}"
                )
            hosts = var.get("interfaces", list(SERVERS[server].interfaces))
            if shared["interface"] not in hosts:
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
            stack_workers = int(var.get("workers", app.get("workers", workers)))
            most = SERVERS[server].max_workers
            if most is not None and stack_workers > most:
                raise MatrixError(f"{path}: [variants.{var_name}] {server} runs at most {most} worker(s), not "
                                  f"{stack_workers} (for [apps.{app_name}])")
            stacks[stack_id] = Stack(
                id=stack_id, **shared, variant=var_name, server=server,
                worker=str(var.get("worker", "default")),
                workers=stack_workers,
                backlog=int(var.get("backlog", backlog)),
                options=dict(var.get("options", {})),
            )
    return Matrix(stacks=stacks, excluded=excluded, profiles=data.get("profiles", {}),
                  tuned=_tuned(data, variants, path))
