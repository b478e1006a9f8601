"""Read scenarios/catalog.toml: scenario name -> locustfile, contract endpoint, request.

A scenario with a `rate` is open-model (scenarios/open.py): requests arrive at
that many per second whatever the server does, and the harness's concurrency
level is the most requests allowed in flight (--max-inflight), not users.

A team's own locustfile (`--locustfile FILE`) is a scenario too, named after
the file: it makes its own requests, so it has no contract endpoint
(`endpoint` None) and takes none of closed.py's arguments.

Optional keys of an entry:
  group  a name shared by several scenarios: `--scenario GROUP` selects every member, in catalog order;
  uses   other contract endpoints the locustfile also requests (scenarios/mix.py): a stack must serve
         them all, and verification of any of them blocks the scenario. Such a locustfile knows its own
         paths, so it gets no --endpoint/--method/--body;
  args   extra Locust arguments, appended verbatim: the declarative knobs of a shape
         (["--shape", "spike", "--spike-factor", "10"], scenarios/shapes.py) or of the locustfile.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import tomllib

from apps.contract import ENDPOINTS
from runformat.paths import safe_name
from scenarios.shapes import without_shape_options

HERE = Path(__file__).resolve().parent
CATALOG_FILE = HERE / "catalog.toml"
PHASES_FILE = HERE / "phases.py"
KEYS = {"locustfile", "endpoint", "path", "method", "body", "description", "rate", "group", "uses", "args"}


class Server(Protocol):
    """What a scenario asks of a stack (servers.matrix.Stack): does it serve one contract endpoint?"""

    def serves(self, endpoint: str | None) -> bool: ...


@dataclass(frozen=True)
class Scenario:
    name: str
    locustfile: Path
    endpoint: str | None  # the contract endpoint (apps/contract.py) verified before load; None: a team's own
    #                       locustfile, smoke-checked before load instead (stackmark/smoke.py)
    path: str  # what is requested, with its query string (a team's locustfile: the file's name)
    method: str = "GET"
    body: str = ""
    description: str = ""
    rate: float | None = None  # open model: offered requests per second (None: closed model)
    group: str | None = None  # `--scenario GROUP` selects every scenario of the group
    uses: tuple[str, ...] = ()  # other contract endpoints its locustfile requests (a mix)
    args: tuple[str, ...] = ()  # extra Locust arguments (a shape's knobs), appended verbatim

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every contract endpoint the scenario requests: verified before load, served by its stacks."""
        return () if self.endpoint is None else (self.endpoint, *self.uses)

    def served_by(self, stack: Server) -> bool:
        """The one rule for whether `stack` takes this scenario: it serves every endpoint the scenario
        requests (a team's own locustfile: every stack is offered it, its smoke check decides)."""
        return all(stack.serves(e) for e in self.endpoints) if self.endpoints else stack.serves(None)

    @property
    def is_open(self) -> bool:
        return self.rate is not None

    @property
    def is_custom(self) -> bool:
        """A team's own locustfile: its requests are its own, not a contract endpoint's."""
        return self.endpoint is None

    def locust_args(self, phases: bool = True) -> list[str]:
        """The locustfile's arguments; `phases=False` (Locust's web UI, no phases.py) leaves the shape's out."""
        if self.is_custom:
            return []  # a team's locustfile knows its own paths; closed.py's --endpoint would be refused
        args: list[str] = []
        if not self.uses:  # a one-endpoint locustfile (closed.py, open.py, ws.py): what to request
            args = ["--endpoint", self.path] + (["--method", self.method] if self.method != "GET" else [])
            args += ["--body", self.body] if self.body else []
        args += ["--rate", f"{self.rate:g}"] if self.rate is not None else []
        return args + (list(self.args) if phases else without_shape_options(list(self.args)))


def load_scenarios(path: Path = CATALOG_FILE) -> dict[str, Scenario]:
    """The catalog, checked: a ValueError of one line naming the file, the scenario and the fix."""
    data = tomllib.loads(path.read_text())
    for name, entry in data.items():
        try:
            safe_name("scenario", name)  # a scenario name becomes a cell folder's name
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None
        _check_entry(path, name, entry)
    catalog = {
        name: Scenario(
            name=name,
            locustfile=HERE / entry["locustfile"],
            endpoint=entry["endpoint"],
            path=entry.get("path", "/" + entry["endpoint"]),
            method=entry.get("method", "GET"),
            body=entry.get("body", ""),
            description=entry.get("description", ""),
            rate=_rate(name, entry.get("rate")),
            group=entry.get("group"),
            uses=tuple(entry.get("uses", ())),
            args=tuple(entry.get("args", ())),
        )
        for name, entry in data.items()
    }
    clash = next((s for s in catalog.values() if s.group in catalog), None)
    if clash is not None:
        raise ValueError(f"{path.name}: [{clash.name}] group {clash.group!r} is also a scenario's name; rename "
                         "the group")
    return catalog


def groups(catalog: Mapping[str, Scenario]) -> dict[str, list[str]]:
    """Group name -> its scenarios, in catalog order."""
    found: dict[str, list[str]] = {}
    for s in catalog.values():
        if s.group is not None:
            found.setdefault(s.group, []).append(s.name)
    return found


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


# key -> (is the value right?, what it should be)
_SHAPES: dict[str, tuple[Callable[[object], bool], str]] = {
    "locustfile": (lambda v: isinstance(v, str) and (HERE / v).is_file(), "the name of a .py file in scenarios/"),
    "endpoint": (lambda v: isinstance(v, str) and bool(v), "a contract endpoint name (apps/contract.py)"),
    "group": (lambda v: isinstance(v, str) and bool(v), "a name (a string)"),
    "uses": (_strings, "a list of contract endpoint names, e.g. [\"db\", \"echo\"]"),
    "args": (_strings, "a list of strings, e.g. [\"--shape\", \"spike\"]"),
}


def _check_entry(path: Path, name: str, entry: object) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"{path.name}: [{name}] is not a table; write it as [{name}] with its keys")
    for key in ("locustfile", "endpoint"):
        if key not in entry:
            raise ValueError(f"{path.name}: [{name}] has no {key}; add {key} = ...")
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise ValueError(f"{path.name}: [{name}] has unknown key {unknown[0]!r}; use only {', '.join(sorted(KEYS))}")
    for key, (ok, what) in _SHAPES.items():
        if key in entry and not ok(entry[key]):
            raise ValueError(f"{path.name}: [{name}] {key} must be {what}, got {entry[key]!r:.60}")
    stray = next((u for u in entry.get("uses", ()) if u not in ENDPOINTS or u == entry["endpoint"]), None)
    if stray is not None:
        raise ValueError(f"{path.name}: [{name}] uses {stray!r}, which is not another contract endpoint; use "
                         f"names of {', '.join(ENDPOINTS)} other than its endpoint")
    if entry.get("uses") and entry.get("rate") is not None:
        raise ValueError(f"{path.name}: [{name}] has both uses and rate; an open-model scenario requests one "
                         "endpoint, drop one of them")


def locustfile_scenario(file: Path, catalog: Mapping[str, Scenario] | None = None) -> Scenario:
    """A team's own locustfile as a scenario named after its stem (its cells' folder name), or a ValueError
    of one line: no such file, not a .py file, a comma (Locust splits -f at commas), an unsafe name, or a
    name the catalog already has (two scenarios would share cell folders)."""
    path = Path(file).expanduser().resolve()
    if not path.is_file() or path.suffix != ".py":
        raise ValueError(f"--locustfile {file}: no such .py file; pass the path of a locustfile")
    if "," in str(path):
        raise ValueError(f"--locustfile {file}: Locust reads a comma in -f as a list of files; rename the path")
    name = safe_name("--locustfile name", path.stem)
    if name in (load_scenarios() if catalog is None else catalog):
        raise ValueError(f"--locustfile {file}: {name!r} is already a scenario of {CATALOG_FILE.name}; rename the "
                         "file")
    return Scenario(name=name, locustfile=path, endpoint=None, path=path.name,
                    description=f"the team's own locustfile {path}")


def _rate(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{CATALOG_FILE.name}: [{name}] rate must be a positive number of requests per second, "
                         f"got {value!r}")
    return float(value)
