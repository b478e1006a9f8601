"""The run folder: where raw results go, laid out as results/README.md says."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackmark import atomic
from stackmark.errors import UserError

SCHEMA_VERSION = 1


def cell_id(scenario: str, concurrency: int, repeat: int) -> str:
    return f"{scenario}-c{concurrency}-r{repeat}"


@dataclass
class RunDir:
    path: Path

    @classmethod
    def create(cls, parent: Path, meta: dict[str, Any]) -> RunDir:
        """A new, empty run folder; fails early (before any load) if it cannot be written."""
        run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = parent / run_id
        n = 1
        while path.exists():
            n += 1
            path = parent / f"{run_id}-{n}"
        try:
            path.mkdir(parents=True)
            probe = path / ".write-test"
            probe.write_bytes(b"x" * 65536)
            probe.unlink()
        except OSError as exc:
            raise UserError(f"cannot write results to {parent}: {exc.strerror}; pass a writable folder with --out") from None
        run = cls(path)
        run.write_meta({"schema_version": SCHEMA_VERSION, "run_id": path.name, **meta, "finished_at": None})
        return run

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing run folder, for --resume; refuses what it cannot continue."""
        meta_path = path / "run.json"
        if not meta_path.is_file():
            raise UserError(f"{path}: not a stackmark run folder (no run.json); pass a folder made by `stackmark bench`")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"{meta_path}: unreadable ({exc}); it cannot be resumed") from None
        version = meta.get("schema_version")
        if version != SCHEMA_VERSION:
            raise UserError(f"{path}: schema_version {version} is not {SCHEMA_VERSION}; resume it with the "
                            "stackmark version that started it")
        return cls(path)

    @property
    def meta_path(self) -> Path:
        return self.path / "run.json"

    def read_meta(self) -> dict[str, Any]:
        return json.loads(self.meta_path.read_text())

    def write_meta(self, meta: dict[str, Any]) -> None:
        atomic.write_json(self.meta_path, meta)

    def finish(self) -> None:
        meta = self.read_meta()
        meta["finished_at"] = time.time()
        self.write_meta(meta)

    def mark_resumed(self, git: dict[str, Any]) -> None:
        meta = self.read_meta()
        meta.setdefault("resumed", []).append({"at": time.time(), "git": git})
        meta["finished_at"] = None
        self.write_meta(meta)

    def stack_dir(self, stack_id: str) -> Path:
        d = self.path / "stacks" / stack_id
        d.mkdir(parents=True, exist_ok=True)
        return d

    def cell_dir(self, stack_id: str, scenario: str, concurrency: int, repeat: int) -> Path:
        return self.stack_dir(stack_id) / cell_id(scenario, concurrency, repeat)

    def cell_done(self, stack_id: str, scenario: str, concurrency: int, repeat: int) -> bool:
        """A cell is done when its cell.json says ok; failed or unfinished cells run again on resume."""
        path = self.path / "stacks" / stack_id / cell_id(scenario, concurrency, repeat) / "cell.json"
        try:
            return json.loads(path.read_text()).get("status") == "ok"
        except (OSError, ValueError):
            return False

    def fresh_cell_dir(self, stack_id: str, scenario: str, concurrency: int, repeat: int) -> Path:
        """An empty folder for a cell; what an earlier, failed or interrupted attempt left is kept aside."""
        d = self.cell_dir(stack_id, scenario, concurrency, repeat)
        if d.exists():
            attempts = d.parent / "attempts"  # holds no cell.json at its top, so analysis skips it
            attempts.mkdir(exist_ok=True)
            n = 1
            while (attempts / f"{d.name}.{n}").exists():
                n += 1
            d.rename(attempts / f"{d.name}.{n}")
        d.mkdir(parents=True)
        return d

    def write_stack(self, stack_id: str, data: dict[str, Any]) -> None:
        atomic.write_json(self.stack_dir(stack_id) / "stack.json", data)

    def write_cell(self, cell_dir: Path, data: dict[str, Any]) -> None:
        """cell.json is written last: its presence marks the cell finished."""
        atomic.write_json(cell_dir / "cell.json", data)
