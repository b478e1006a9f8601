from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def stackmark_cmd() -> list[str]:
    """The installed console script, as a user runs it."""
    script = BIN / "stackmark"
    return [str(script)] if script.exists() else [sys.executable, "-m", "stackmark.cli"]


@pytest.fixture(scope="session")
def two_cpus() -> bool:
    return len(os.sched_getaffinity(0)) >= 2
