"""Read scenarios/catalog.toml: scenario name -> locustfile, contract endpoint, request.

A scenario with a `rate` is open-model (scenarios/open.py): requests arrive at
that many per second whatever the server does, and the harness's concurrency
level is the most requests allowed in flight (--max-inflight), not users.

A team's own locustfile (`--locustfile FILE`) is a scenario too, named after
the file: it makes its own requests, so it has no contract endpoint
(`endpoint` None) and takes none of closed.py's arguments.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import tomllib

from runformat.paths import safe_name

HERE = Path(__file__).resolve().parent
CATALOG_FILE = HERE / "catalog.toml"
PHASES_FILE = HERE / "phases.py"


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

    @property
    def is_open(self) -> bool:
        return self.rate is not None

    @property
    def is_custom(self) -> bool:
        """A team's own locustfile: its requests are its own, not a contract endpoint's."""
        return self.endpoint is None

    def locust_args(self) -> list[str]:
        if self.is_custom:
            return []  # a team's locustfile knows its own paths; closed.py's --endpoint would be refused
        args = ["--endpoint", self.path] + (["--method", self.method] if self.method != "GET" else [])
        args += ["--body", self.body] if self.body else []
        return args + (["--rate", f"{self.rate:g}"] if self.rate is not None else [])


def load_scenarios(path: Path = CATALOG_FILE) -> dict[str, Scenario]:
    data = tomllib.loads(path.read_text())
    for name in data:
        try:
            safe_name("scenario", name)  # a scenario name becomes a cell folder's name
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None
    return {
        name: Scenario(
            name=name,
            locustfile=HERE / entry["locustfile"],
            endpoint=entry["endpoint"],
            path=entry.get("path", "/" + entry["endpoint"]),
            method=entry.get("method", "GET"),
            body=entry.get("body", ""),
            description=entry.get("description", ""),
            rate=_rate(name, entry.get("rate")),
        )
        for name, entry in data.items()
    }


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
