from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# The Ctrl-C tests send SIGINT to stackmark as a terminal would. A shell without job control starts a
# background job (`make test &`, a CI runner's script) with SIGINT ignored, and an ignored signal stays
# ignored across exec, so every stackmark the tests start would ignore it too and those tests would fail
# for a reason that is not stackmark's. A handler (unlike SIG_IGN) is reset to the default on exec.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def stackmark_cmd() -> list[str]:
    """The installed console script, as a user runs it."""
    script = BIN / "stackmark"
    return [str(script)] if script.exists() else [sys.executable, "-m", "stackmark.cli"]


@pytest.fixture(scope="session")
def two_cpus() -> bool:
    return len(os.sched_getaffinity(0)) >= 2


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real, throwaway PostgreSQL (tests/pg_server.py) for the session: its URL, password included.

    Skips (with the reason) where no PostgreSQL binaries are installed; see
    scripts/setup-postgres.sh. Stopped and removed at the end of the session.
    """
    from pg_server import postgres_server

    with postgres_server() as server:
        yield server.url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A seeded SQLite database (stackmark.database) shared by the session: its sqlite:/// URL."""
    from stackmark.database import ensure_sqlite

    return ensure_sqlite(tmp_path_factory.mktemp("db") / "bench.sqlite3")
