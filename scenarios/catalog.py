"""Read scenarios/catalog.toml: scenario name -> locustfile, contract endpoint, request.

A scenario with a `rate` is open-model (scenarios/open.py): requests arrive at
that many per second whatever the server does, and the harness's concurrency
level is the most requests allowed in flight (--max-inflight), not users.
"""
from __future__ import annotations

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
    endpoint: str  # the contract endpoint's name (apps/contract.py), verified before load
    path: str  # what is requested, with its query string
    method: str = "GET"
    body: str = ""
    description: str = ""
    rate: float | None = None  # open model: offered requests per second (None: closed model)

    @property
    def is_open(self) -> bool:
        return self.rate is not None

    def locust_args(self) -> list[str]:
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


def _rate(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{CATALOG_FILE.name}: [{name}] rate must be a positive number of requests per second, "
                         f"got {value!r}")
    return float(value)
