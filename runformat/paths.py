"""Where each file of a run folder lives, and the names that become paths.

Every name that turns into a folder or file name (run ids, stack ids, target
names, scenario names) passes `safe_name`, so no user input can write outside
the run folder.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

RUN_JSON = "run.json"
STACKS_DIR = "stacks"
STACK_JSON = "stack.json"
SERVER_LOG = "server.log"
CELL_JSON = "cell.json"  # written last: its presence marks a cell finished
PHASES_JSON = "phases.json"
LATENCY_JSON = "latency.json"
SAMPLES_CSV = "samples.csv"
LOCUST_CSV_PREFIX = "locust"  # locust_stats.csv, locust_stats_history.csv, ...
LOCUST_LOG = "locust.log"
LOCUST_OUT = "locust.out"
ATTEMPTS_DIR = "attempts"  # earlier attempts of re-run cells; no cell.json at its top, so never read as a cell
SQLITE_FILE = "db.sqlite3"
SUMMARY_CSV = "summary.csv"
AGGREGATE_CSV = "aggregate.csv"
SATURATION_CSV = "saturation.csv"
REPORT_DIR = "report"

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def safe_name(kind: str, name: str) -> str:
    """`name` unchanged if it can be one path component; otherwise a one-line error naming the fix."""
    if not _SAFE.fullmatch(name) or ".." in name:
        raise ValueError(f"{kind} {name!r} cannot name a folder: use 1-100 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit, and no '..'")
    return name


def new_run_id(now: float | None = None) -> str:
    """`YYYYmmdd-HHMMSS`, UTC: sorts by time."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))


def cell_id(scenario: str, concurrency: int, repeat: int) -> str:
    return f"{scenario}-c{concurrency}-r{repeat}"


def stack_dir(run_dir: Path, stack_id: str) -> Path:
    return Path(run_dir) / STACKS_DIR / safe_name("stack id", stack_id)


def cell_dir(run_dir: Path, stack_id: str, scenario: str, concurrency: int, repeat: int) -> Path:
    return stack_dir(run_dir, stack_id) / cell_id(safe_name("scenario", scenario), concurrency, repeat)


def worker_latency_name(pid: int) -> str:
    """latency-w<pid>.json: the histogram of one Locust worker process of a multi-process cell."""
    return f"latency-w{pid}.json"


def worker_latency_paths(cell: Path) -> list[Path]:
    """The per-worker latency-w<pid>.json files of a multi-process cell, in name order."""
    return sorted(p for p in Path(cell).glob("latency-w*.json") if p.is_file())


def latency_paths(cell: Path) -> list[Path]:
    """latency.json (if any) first, then the per-worker files."""
    main = Path(cell) / LATENCY_JSON
    return ([main] if main.is_file() else []) + worker_latency_paths(cell)


def stack_dirs(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / STACKS_DIR
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def cell_dirs(stack: Path) -> list[Path]:
    """Cell folders of one stack folder, finished or not, in name order (attempts/ excluded)."""
    return sorted(p for p in stack.iterdir() if p.is_dir() and p.name != ATTEMPTS_DIR)
