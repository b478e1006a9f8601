"""The run folder's schema version, what each version changed, and migrations on load.

History (bump SCHEMA_VERSION and add a migration whenever a reader of the
previous version would misread the new files):

1. 2026-11-22: the first format (results/README.md). Later additions that old
   readers could ignore stayed version 1: latency.json `users` (then its
   `counts`), `open`, per-worker latency-w<pid>.json, settings
   `loadgen_processes`, `database`, `target`.
2. 2026-11-23: run.json `settings` always carries `loadgen_processes`,
   `database` and `target` (a resume runs exactly these); `workers` is a
   list. latency.json may carry `timeline` (completions per slot of the
   window, to find stalls) and `run_token` (a worker file must carry its
   cell's token). Version-1 folders are migrated on load by `update_to_2`.
   Later additions that old readers can ignore stay version 2: run.json
   `runtime` (an A/B base's python and checkout), settings `locustfiles`,
   settings `configuration` and stack.json `configuration` and `config_hash`
   (2026-11-23: "default" or "tuned"; absent means default), settings `argv`
   (the command's arguments as given, URLs redacted: what reproduces the run),
   settings `loadgen_workers`, `master_bind_host`, `remote_workers` and
   latency.json `workers` (2026-11-23: Locust's distributed mode; the master
   writes the merged histograms and each worker's share); 2026-11-24 (issue
   13's scenarios): settings `worker_counts` (--workers 1,2,...), latency.json
   `series` (every cell: completions, failures, p50 and p99 per slot of at
   least 1 s), `shape` (ramp, spike, soak: each stage's users, times and
   histogram; a ramp's SLO and why it stopped) and `open.corrected` (the
   open model's latency from each request's scheduled start: coordinated
   omission corrected).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from runformat.errors import RunDirError

SCHEMA_VERSION = 2
SQLITE_PER_RUN = "sqlite (per run)"  # settings.database of a run on its own seeded SQLite file


def update_to_2(meta: dict[str, Any]) -> dict[str, Any]:
    """Version 1 -> 2: fill the settings a version-1 run left implicit with the values it ran with."""
    if not isinstance(meta.get("settings"), dict):
        return {**meta, "schema_version": 2}  # nothing to fill in; the shape check names the bad field
    settings = dict(meta["settings"])
    settings.setdefault("loadgen_processes", 1)
    settings.setdefault("database", SQLITE_PER_RUN)
    settings.setdefault("target", None)
    workers = settings.get("workers", [1])
    settings["workers"] = [workers] if isinstance(workers, int) and not isinstance(workers, bool) else workers
    return {**meta, "settings": settings, "schema_version": 2}


# version -> the function that lifts run.json from that version to the next
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: update_to_2}


def check_version(meta: Any, source: Path) -> int:
    """The schema version of a run.json, or a RunDirError saying why it cannot be read."""
    if not isinstance(meta, dict):
        raise RunDirError(f"{source}: not a stackmark run.json (expected a JSON object); "
                          "pass a folder made by `stackmark bench`")
    version = meta.get("schema_version")
    if version is None:
        raise RunDirError(f"{source}: no schema_version, so not a stackmark run file; "
                          "pass a folder made by `stackmark bench`")
    if isinstance(version, bool) or not isinstance(version, int):
        raise RunDirError(f"{source}: schema_version {version!r} is not a whole number; the file is not from stackmark")
    if version > SCHEMA_VERSION:
        raise RunDirError(f"{source}: schema_version {version} is newer than this stackmark understands "
                          f"({SCHEMA_VERSION}); upgrade stackmark")
    if version < 1:
        raise RunDirError(f"{source}: schema_version {version} is unknown (this stackmark reads 1 to "
                          f"{SCHEMA_VERSION}); re-run `stackmark bench` to get a readable folder")
    return version


def migrate(meta: dict[str, Any], source: Path) -> dict[str, Any]:
    """run.json lifted to SCHEMA_VERSION, one migration at a time (asv's update_to_N, pyperf's history)."""
    version = check_version(meta, source)
    while version < SCHEMA_VERSION:
        meta = MIGRATIONS[version](meta)
        version = meta["schema_version"]
    return meta
