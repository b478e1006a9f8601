"""Read scenarios/catalog.toml: scenario name -> locustfile and its arguments."""
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
    endpoint: str
    description: str


def load_scenarios(path: Path = CATALOG_FILE) -> dict[str, Scenario]:
    data = tomllib.loads(path.read_text())
    return {
        name: Scenario(name, HERE / entry["locustfile"], entry["endpoint"], entry.get("description", ""))
        for name, entry in data.items()
    }
