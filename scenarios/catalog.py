"""Read scenarios/catalog.toml: scenario name -> locustfile, contract endpoint, request."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

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

    def locust_args(self) -> list[str]:
        args = ["--endpoint", self.path, "--method", self.method]
        return args + (["--body", self.body] if self.body else [])


def load_scenarios(path: Path = CATALOG_FILE) -> dict[str, Scenario]:
    data = tomllib.loads(path.read_text())
    return {
        name: Scenario(
            name=name,
            locustfile=HERE / entry["locustfile"],
            endpoint=entry["endpoint"],
            path=entry.get("path", "/" + entry["endpoint"]),
            method=entry.get("method", "GET"),
            body=entry.get("body", ""),
            description=entry.get("description", ""),
        )
        for name, entry in data.items()
    }
