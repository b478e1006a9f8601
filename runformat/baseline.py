"""Saved baselines (results/baselines/NAME.json) and the comparison's JSON: two small versioned files.

A baseline is what `stackmark compare` needs of a run, kept small enough to
commit: per cell the per-repeat values of the compared metrics (not only
medians: the test needs the spread), the failed repeats with their reasons,
the cell's flags, and the run's host, settings, packages, git state and the
stacks' command lines. Like run.json it carries a version and a history
(pyperf's _bench.py, asv's api_version); an unknown or newer version is
refused with one line, never half-read.

baseline_version history:

1. 2026-11-24: the first format (this module's `Baseline`).

compare_version history (the `--json` file of `stackmark compare` and `stackmark ab`):

1. 2026-11-24: the first format (analysis/compare_render.py writes it).
"""
# no `from __future__ import annotations` here: TypedDict reads NotRequired from real annotations

import json
from pathlib import Path
from typing import Any, TypedDict, cast

from runformat import atomic, paths
from runformat.errors import RunDirError
from runformat.records import Number, Settings, conform

BASELINE_VERSION = 1
COMPARE_VERSION = 1
BASELINES_DIR = Path("results") / "baselines"  # where NAME resolves, relative to the working folder
SUFFIX = ".json"


class FailedRepeat(TypedDict):
    repeat: int
    reason: str


class BaselineCell(TypedDict):
    """One (stack, scenario, endpoint, concurrency) over its repeats."""

    stack: str
    scenario: str
    endpoint: str
    concurrency: int
    values: dict[str, list[Number]]  # metric -> its finite values over the ok repeats, in repeat order
    failed: list[FailedRepeat]
    flags: list[str]  # analysis.flags.FLAG_RULES names raised over the repeats


class Baseline(TypedDict):
    baseline_version: int
    name: str
    saved_at: Number
    source: str  # the run folder it was saved from, as given
    run_id: str
    git: dict[str, Any]
    host: dict[str, Any]
    packages: dict[str, str | None]
    settings: Settings
    stacks: list[str]  # the stacks the run meant to measure
    commands: dict[str, list[str]]  # stack -> its server command line (port and paths normalised)
    stack_problems: dict[str, str]  # stack -> why it was not measured (did not start, failed verification)
    cells: list[BaselineCell]


def baseline_path(out_dir: Path, name: str) -> Path:
    """out_dir/NAME.json; a NAME that cannot be one file name is a ValueError naming the fix."""
    return Path(out_dir) / f"{paths.safe_name('baseline name', name)}{SUFFIX}"


def find_baseline(spec: str, baselines_dir: Path = BASELINES_DIR) -> Path | None:
    """A baseline file given as a path, or NAME as baselines_dir/NAME.json; None if `spec` names neither."""
    given = Path(spec)
    if given.is_file():
        return given
    try:
        named = baseline_path(baselines_dir, spec)
    except ValueError:
        return None
    return named if named.is_file() else None


def write_baseline(path: Path, record: Baseline) -> Path:
    return atomic.write_json(path, record)


def _check_version(data: Any, source: Path) -> None:
    if not isinstance(data, dict) or "baseline_version" not in data:
        raise RunDirError(f"{source}: not a stackmark baseline (no baseline_version); save one with "
                          "`stackmark baseline save RUN_DIR NAME`")
    version = data["baseline_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RunDirError(f"{source}: baseline_version {version!r} is unknown (this stackmark reads 1 to "
                          f"{BASELINE_VERSION}); save the baseline again with `stackmark baseline save`")
    if version > BASELINE_VERSION:
        raise RunDirError(f"{source}: baseline_version {version} is newer than this stackmark understands "
                          f"({BASELINE_VERSION}); upgrade stackmark")


def read_baseline(path: Path) -> Baseline:
    """A baseline file, version- and shape-checked; anything else is one RunDirError line."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read it ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{path}: not valid JSON, so not a readable baseline; save it again with "
                          "`stackmark baseline save RUN_DIR NAME`") from None
    _check_version(data, path)
    return cast(Baseline, conform(data, Baseline, path))
