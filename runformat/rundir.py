"""The writer's side of a run folder: create or reopen it, write its records atomically."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runformat import atomic, paths
from runformat.errors import RunDirError
from runformat.read import cell_is_ok, read_json, read_run_meta
from runformat.records import CellRecord, RunMeta, StackRecord
from runformat.schema import SCHEMA_VERSION


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def create(cls, parent: Path, meta: dict[str, Any], name: str | None = None) -> RunDir:
        """A new, empty run folder (named by the time, or `name`); fails early, before any load, if it
        cannot be written."""
        run_id = paths.safe_name("run name", name) if name else paths.new_run_id()
        path = Path(parent) / run_id
        n = 1
        while path.exists():
            n += 1
            path = Path(parent) / f"{run_id}-{n}"
        try:
            path.mkdir(parents=True)
            probe = path / ".write-test"
            probe.write_bytes(b"x" * 65536)
            probe.unlink()
        except OSError as exc:
            raise RunDirError(f"cannot write results to {parent}: {exc.strerror}; pass a writable folder "
                              "with --out") from None
        run = cls(path)
        record = {"schema_version": SCHEMA_VERSION, "run_id": path.name, **meta, "finished_at": None}
        run.write_meta(record)  # type: ignore[arg-type]
        return run

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing run folder of this schema version, to resume; refuses what it cannot continue."""
        read_run_meta(path)  # refuses what is not a readable run folder, with the reason
        on_disk = read_json(Path(path) / paths.RUN_JSON).get("schema_version")
        if on_disk != SCHEMA_VERSION:
            raise RunDirError(f"{path}: schema_version {on_disk} is not {SCHEMA_VERSION}; resume it with the "
                              "stackmark version that started it, or start a new run")
        return cls(Path(path))

    @property
    def meta_path(self) -> Path:
        return self.path / paths.RUN_JSON

    def read_meta(self) -> RunMeta:
        return read_run_meta(self.path)

    def write_meta(self, meta: RunMeta) -> None:
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
        d = paths.stack_dir(self.path, stack_id)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def cell_dir(self, stack_id: str, scenario: str, concurrency: int, repeat: int) -> Path:
        return paths.cell_dir(self.path, stack_id, scenario, concurrency, repeat)

    def cell_done(self, stack_id: str, scenario: str, concurrency: int, repeat: int) -> bool:
        """A cell is done when its cell.json says ok; failed or unfinished cells run again on resume."""
        return cell_is_ok(self.cell_dir(stack_id, scenario, concurrency, repeat))

    def fresh_cell_dir(self, stack_id: str, scenario: str, concurrency: int, repeat: int) -> Path:
        """An empty folder for a cell; what an earlier, failed or interrupted attempt left is kept aside."""
        d = self.cell_dir(stack_id, scenario, concurrency, repeat)
        if d.exists():
            attempts = d.parent / paths.ATTEMPTS_DIR
            attempts.mkdir(exist_ok=True)
            n = 1
            while (attempts / f"{d.name}.{n}").exists():
                n += 1
            os.replace(d, attempts / f"{d.name}.{n}")
        d.mkdir(parents=True)
        return d

    def write_stack(self, stack_id: str, record: StackRecord) -> None:
        atomic.write_json(self.stack_dir(stack_id) / paths.STACK_JSON, record)

    def write_cell(self, cell_dir: Path, record: CellRecord) -> None:
        """cell.json is written last: its presence marks the cell finished."""
        atomic.write_json(cell_dir / paths.CELL_JSON, record)

