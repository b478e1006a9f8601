"""Read a raw run folder (results/README.md, schema_version 1) into memory.

Only reads files: never imports the harness, never starts anything, so old
runs can be re-analysed long after the code that made them has changed.
Finished cells are those with a cell.json (it is written last); other cell
folders are leftovers of an interrupted run and are skipped.

A cell measured with several Locust processes has one latency file per worker
(latency-w<pid>.json) beside the master's latency.json; load_cell merges them
into one latency dict (merge_latency), so the rest of analysis sees one cell.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.errors import RunDirError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Cell:
    """One finished (stack, scenario, concurrency, repeat) measurement; optional files may be None."""

    path: Path
    meta: dict[str, Any]
    phases: dict[str, Any] | None = None
    latency: dict[str, Any] | None = None  # merged over latency.json and any latency-w*.json
    samples: pd.DataFrame | None = None
    latency_files: int = 0  # how many latency files were merged into `latency`

    @property
    def stack(self) -> str:
        return str(self.meta.get("stack") or self.path.parent.name)


@dataclass(frozen=True)
class Run:
    """A run folder: run.json, the stack.json of every stack folder, and the finished cells."""

    path: Path
    meta: dict[str, Any]
    stacks: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)


def read_json(path: Path) -> Any:
    """Parse one JSON file, turning damage into a RunDirError that names the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RunDirError(f"{path}: not valid JSON ({e.msg}, line {e.lineno}); the file is damaged, "
                          "delete that folder and measure it again") from None
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: not UTF-8 text; the file is damaged, delete that folder and measure it again") from None


def _optional_json(path: Path) -> Any | None:
    return read_json(path) if path.is_file() else None


def load_run_meta(run_dir: Path) -> dict[str, Any]:
    """Read run.json and refuse folders that are not schema-1 stackmark runs."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such folder; pass a run folder made by `stackmark bench` (results/<run-id>)")
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise RunDirError(f"{run_dir}: not a stackmark run folder (no run.json); pass a folder made by `stackmark bench`")
    meta = read_json(run_json)
    if not isinstance(meta, dict):
        raise RunDirError(f"{run_json}: not a stackmark run.json (expected a JSON object); pass a folder made by `stackmark bench`")
    version = meta.get("schema_version")
    if version is None:
        raise RunDirError(f"{run_json}: no schema_version, so not a stackmark run file; pass a folder made by `stackmark bench`")
    if isinstance(version, bool) or not isinstance(version, int):
        raise RunDirError(f"{run_json}: schema_version {version!r} is not a whole number; the file is not from stackmark")
    if version > SCHEMA_VERSION:
        raise RunDirError(f"{run_dir}: schema_version {version} is newer than this stackmark understands "
                          f"({SCHEMA_VERSION}); upgrade stackmark")
    if version != SCHEMA_VERSION:
        raise RunDirError(f"{run_dir}: schema_version {version} is unknown (this stackmark reads {SCHEMA_VERSION}); "
                          "re-run `stackmark bench` to get a readable folder")
    return meta


def read_samples(path: Path) -> pd.DataFrame | None:
    """samples.csv as numbers sorted by time; None when absent or empty (a cell that died early)."""
    if not path.is_file():
        return None
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
    except pd.errors.ParserError as e:
        raise RunDirError(f"{path}: not a readable CSV ({e}); the file is damaged, delete that folder and measure it again") from None
    for col in df.columns:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    if "t" not in df.columns:
        raise RunDirError(f"{path}: no `t` column, so not a stackmark samples.csv; delete that folder and measure it again")
    return df.dropna(subset=["t"]).sort_values("t", kind="stable").reset_index(drop=True)


def _merge_users(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-user accounting over several processes: exact when every block carries its `counts`."""
    expected = max((b.get("expected") for b in blocks if b.get("expected") is not None), default=None)
    if all(isinstance(b.get("counts"), list) for b in blocks):
        counts = sorted(int(c) for b in blocks for c in b["counts"])
        return {"expected": expected, "seen": len(counts), "starved": sum(1 for c in counts if c == 0),
                "min": counts[0] if counts else None,
                "median": statistics.median(counts) if counts else None,
                "max": counts[-1] if counts else None, "counts": counts}
    # some block without counts (not written by this stackmark): sums are exact, the median is not knowable
    seen = [b for b in blocks if b.get("seen")]
    return {"expected": expected, "seen": sum(int(b.get("seen") or 0) for b in blocks),
            "starved": sum(int(b.get("starved") or 0) for b in blocks),
            "min": min((b["min"] for b in seen if b.get("min") is not None), default=None),
            "median": seen[0].get("median") if len(seen) == 1 else None,
            "max": max((b["max"] for b in seen if b.get("max") is not None), default=None)}


def merge_latency(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One latency dict from the latency files of one cell (the first is latency.json, if present).

    A single file is returned as it is. Several (a multi-process cell): histograms, counts, failures
    and bytes add per request name; `users` are merged from the per-user `counts` (expected = the
    configured total every file carries); `open` blocks add sent/missed/late and keep offered_rate
    (the total rate, the same in every file); bucket_ms, window and processes come from the first
    file that has them (all processes share the master's window).
    """
    parts = [p for p in parts if isinstance(p, dict)]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, Any] = {}
    for key in ("bucket_ms", "window", "processes"):
        value = next((p[key] for p in parts if p.get(key) is not None), None)
        if value is not None:
            merged[key] = value
    requests: dict[str, dict[str, Any]] = {}
    for part in parts:
        for name, r in (part.get("requests") or {}).items():
            into = requests.setdefault(name, {"count": 0, "failures": 0, "hist": {}})
            into["count"] += int(r.get("count", 0))
            into["failures"] += int(r.get("failures", 0))
            if "bytes" in r:
                into["bytes"] = into.get("bytes", 0) + int(r["bytes"])
            hist = into["hist"]
            for k, v in (r.get("hist") or {}).items():
                hist[str(int(k))] = hist.get(str(int(k)), 0) + int(v)
    merged["requests"] = requests
    users = [p["users"] for p in parts if isinstance(p.get("users"), dict)]
    if users:
        merged["users"] = _merge_users(users)
    opens = [p["open"] for p in parts if isinstance(p.get("open"), dict)]
    if opens:
        merged["open"] = {
            "offered_rate": max((o.get("offered_rate") for o in opens if o.get("offered_rate") is not None),
                                default=None),
            **{k: sum(int(o.get(k) or 0) for o in opens) for k in ("sent", "missed", "late")},
        }
    return merged


def latency_paths(cell_dir: Path) -> list[Path]:
    """latency.json (if any) first, then the per-worker latency-w*.json files in name order."""
    main = cell_dir / "latency.json"
    return ([main] if main.is_file() else []) + sorted(p for p in cell_dir.glob("latency-w*.json") if p.is_file())


def load_cell(cell_dir: Path) -> Cell | None:
    """One cell folder, or None if it is unfinished (no cell.json yet)."""
    cell_json = cell_dir / "cell.json"
    if not cell_json.is_file():
        return None
    meta = read_json(cell_json)
    if not isinstance(meta, dict):
        raise RunDirError(f"{cell_json}: expected a JSON object; the file is damaged, delete that folder and measure it again")
    paths = latency_paths(cell_dir)
    return Cell(
        path=cell_dir,
        meta=meta,
        phases=_optional_json(cell_dir / "phases.json"),
        latency=merge_latency([read_json(p) for p in paths]),
        samples=read_samples(cell_dir / "samples.csv"),
        latency_files=len(paths),
    )


def _stack_dirs(run_dir: Path) -> list[Path]:
    stacks_dir = run_dir / "stacks"
    if not stacks_dir.is_dir():
        return []
    return sorted(p for p in stacks_dir.iterdir() if p.is_dir())


def load_stacks(run_dir: Path) -> dict[str, dict[str, Any] | None]:
    """stack id -> stack.json contents (None if the stack folder has no stack.json yet)."""
    return {d.name: _optional_json(d / "stack.json") for d in _stack_dirs(Path(run_dir))}


def load_cells(run_dir: Path) -> list[Cell]:
    """All finished cells of all stacks, in folder-name order."""
    cells: list[Cell] = []
    for stack_dir in _stack_dirs(Path(run_dir)):
        for cell_dir in sorted(p for p in stack_dir.iterdir() if p.is_dir()):
            cell = load_cell(cell_dir)
            if cell is not None:
                cells.append(cell)
    return cells


def load_run(run_dir: Path) -> Run:
    """Everything analysis needs from a run folder, validated against schema_version 1."""
    run_dir = Path(run_dir)
    meta = load_run_meta(run_dir)
    return Run(path=run_dir, meta=meta, stacks=load_stacks(run_dir), cells=load_cells(run_dir))
