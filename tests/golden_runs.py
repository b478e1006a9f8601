"""The stored run folders the analysis tests read (made by tests/data/make_golden.py), and small helpers.

Tests never write into tests/data: anything that edits or writes a run works on a copy.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from analysis import flags

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "run-golden"  # json at concurrency 8, up to 3 repeats: one stack per case to tell apart
SWEEP = DATA / "run-sweep"  # json swept over 8/16/32, open-json, a multi-process cell
EXPECTED = DATA / "expected"  # the tables the code before the analysis split produced from those two
CLEAN = "fastapi-hypercorn"  # 3 steady repeats, all users served, Little holds, Locust at 50 %: no flag
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The busy-machine threshold the stored runs were built around (and tests/data/expected/ computed with): their
# "quiet" cells record 6-22% other load, under the 25% of then, over the measured 5% of now (analysis/flags.py).
GOLDEN_OTHER_LOAD_PCT = 25.0


@pytest.fixture(scope="module", autouse=True)
def golden_thresholds() -> Iterator[None]:
    """Judge the stored runs by the thresholds they were built for (import this into a test module to apply it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flags, "OTHER_LOAD_PCT", GOLDEN_OTHER_LOAD_PCT)
        yield


def copy_run(source: Path, tmp_path: Path) -> Path:
    """A writable copy of a stored run."""
    dst = tmp_path / source.name
    shutil.copytree(source, dst)
    return dst


def row(df: pd.DataFrame, stack: str, repeat: int) -> pd.Series:
    """The one row of `stack` at `repeat` (the golden run has one scenario and one concurrency)."""
    match = df[(df["stack"] == stack) & (df["repeat"] == repeat)]
    assert len(match) == 1
    return match.iloc[0]


def cell_row(df: pd.DataFrame, stack: str, scenario: str, concurrency: int) -> pd.Series:
    """The one row of a (stack, scenario, concurrency) cell (the sweep has one repeat)."""
    match = df[(df["stack"] == stack) & (df["scenario"] == scenario) & (df["concurrency"] == concurrency)]
    assert len(match) == 1
    return match.iloc[0]
