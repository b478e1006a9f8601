"""history.jsonl: one line per benchmark run, appended, so a metric can be followed across commits.

Each line is one JSON object (a HistoryEntry): the run's per-cell medians,
its commit, machine and package versions. A line is appended with a single
O_APPEND write of the whole line, then fsynced: two benches appending at
once never interleave, and a crash leaves the whole line or none of it.
A line cut short anyway (a full disk, a file copied mid-write) is not JSON;
readers skip it with a warning naming its line, rather than lose the
history around it. A line that is JSON but of an unknown version or shape
is refused, with the line and the fix.

Versions (bump HISTORY_VERSION whenever a reader of the previous version
would misread a line; readers must refuse versions above theirs):

1. 2026-11-23: the first format: HistoryEntry below (README, "History").
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

from runformat.errors import RunDirError
from runformat.records import _check_record

HISTORY_VERSION = 1
HISTORY_FILE = "history.jsonl"  # beside the run folders: results/history.jsonl
METRICS = ("rps", "cpu_us_per_req", "p99_ms", "error_pct")  # the numbers a cell keeps: HistoryCell's


class HistoryCell(TypedDict):
    """One stack x scenario x concurrency of a run: medians over its ok repeats (null when unknown)."""

    stack: str
    scenario: str
    endpoint: str
    concurrency: int
    n: int  # ok repeats the medians were taken over
    rps: float | None
    cpu_us_per_req: float | None
    p99_ms: float | None
    error_pct: float | None
    flags: list[str]  # analysis.flags names raised (generator-bound, noisy, ...): the number may not be the stack's


class HistoryHost(TypedDict):
    cpu_model: str | None
    cpu_count: int | None
    python: str | None


class HistoryEntry(TypedDict):
    history_version: int
    run_id: str
    time: float  # unix time the run started
    git_sha: str | None
    git_dirty: bool | None
    host: HistoryHost
    packages: dict[str, str | None]
    cells: list[HistoryCell]


def encode_line(entry: HistoryEntry) -> bytes:
    """The entry as one line of UTF-8 JSON; NaN is refused (write null), as JSON has no NaN."""
    return (json.dumps(entry, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8")


def append_entry(path: Path, entry: HistoryEntry) -> Path:
    """Append one entry as a single O_APPEND write of the whole line, fsynced; creates the file if needed."""
    path = Path(path)
    line = encode_line(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # end a cut-short last line first, so this entry stays a line of its own
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(28, f"wrote {written} of {len(line)} bytes", str(path))
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)  # the new file's name survives a crash too
    return path


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class History:
    """The readable entries of a history file, in file (time) order, and what was skipped and why."""

    path: Path
    entries: list[HistoryEntry]
    skipped: list[str] = field(default_factory=list)  # one warning per damaged line


def parse_line(text: str, where: str) -> HistoryEntry | None:
    """One line as an entry; None if it is not JSON (cut short); RunDirError if it is JSON stackmark cannot read."""
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError:
        return None
    version = value.get("history_version") if isinstance(value, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        raise RunDirError(f"{where}: not a stackmark history line (no history_version); remove that line or "
                          "pass a history.jsonl written by `stackmark bench` with --file")
    if version > HISTORY_VERSION:
        raise RunDirError(f"{where}: history_version {version} is newer than this stackmark understands "
                          f"({HISTORY_VERSION}); upgrade stackmark")
    problem = _check_record(value, HistoryEntry, "")
    if problem:
        raise RunDirError(f"{where}: {problem}; the line is damaged or not from stackmark: remove it")
    return cast(HistoryEntry, value)


def read_history(path: Path) -> History:
    """Every entry of a history file; lines that are not JSON (a write cut short) are skipped with a warning."""
    path = Path(path)
    if not path.is_file():
        raise RunDirError(f"{path}: no such history file; every `stackmark bench` appends to "
                          f"results/{HISTORY_FILE}, or pass another with --file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: not UTF-8 text, so not a stackmark history file") from None
    entries: list[HistoryEntry] = []
    skipped: list[str] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        entry = parse_line(text, f"{path}:{number}")
        if entry is None:
            last = number == len(lines)
            skipped.append(f"{path}:{number}: skipped a damaged {'last ' if last else ''}line (not complete JSON; "
                           "a write was cut short)")
            continue
        entries.append(entry)
    return History(path, entries, skipped)
