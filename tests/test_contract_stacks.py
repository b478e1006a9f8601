"""Every stack, started for real, meets the whole endpoint contract.

For each stack of the default matrix (by default the quick profile's and one per app and server
variant beyond it: tests/stack_sets.py; `make test-all-stacks` checks all) (and the two framework-free apps, built
from matrix stacks until the matrix lists them): launch it with
``DATABASE_URL`` pointing at its own seeded SQLite file, run
``verify_stack(..., database_url=url, interface=stack.interface)`` on every
endpoint its interface serves (``ws`` on ASGI only), and send a burst of
concurrent ``/updates`` to show writers queue instead of failing.  Then the
same on PostgreSQL for at least one stack per framework (skipped when
PostgreSQL is not installed: see tests/pg_server.py).

Stacks are checked in parallel (three at a time, SQLite stacks each on their
own file; the PostgreSQL ones one after another, as they share a database and
/updates is checked by diffing it) by one module fixture; each stack is
still its own test.
"""

from __future__ import annotations

import http.client
import os
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from apps.contract import BARE_ENDPOINTS, for_interface
from servers.launcher import LaunchError, launch
from servers.matrix import Stack, load_matrix
from stack_sets import ALL_STACKS_ENV, default_stack_ids
from stackmark.database import ensure_sqlite, seed
from stackmark.verify import VerifyResult, format_findings, verify_stack

pytestmark = pytest.mark.integration

MATRIX = load_matrix().stacks
# The framework-free apps, built from matrix stacks where the matrix does not list them yet.
_HAS_BARE = any(s.target.startswith("apps.bare_") for s in MATRIX.values())
BARE: dict[str, tuple[Stack, tuple[str, ...]]] = {} if _HAS_BARE else {
    "bare-wsgi-gunicorn-sync": (
        replace(MATRIX["flask-gunicorn-sync"], target="apps.bare_wsgi.app:app", app="bare-wsgi",
                framework="none", id="bare-wsgi-gunicorn-sync"),
        BARE_ENDPOINTS,
    ),
    "bare-asgi-uvicorn": (
        replace(MATRIX["fastapi-uvicorn"], target="apps.bare_asgi.app:app", app="bare-asgi",
                framework="none", id="bare-asgi-uvicorn"),
        BARE_ENDPOINTS,
    ),
}
SQLITE_STACKS = [*default_stack_ids(), *BARE]
# One stack per app with a database (Django: WSGI, ASGI with sync views, ASGI with async views), on server
# families that differ, Gunicorn's own ASGI worker among them.
POSTGRES_STACKS = ["flask-gunicorn-gthread", "django-wsgi-gunicorn-sync", "django-asgi-uvicorn",
                   "django-asgi-async-gunicorn-asgi", "fastapi-uvicorn"]
PARALLEL = 3
BURST = 12  # concurrent /updates?queries=20 after verification


@dataclass
class Outcome:
    result: VerifyResult | None = None
    error: str | None = None  # the stack did not start, or the check itself crashed
    names: list[str] = field(default_factory=list)
    burst: list[int | str] = field(default_factory=list)  # statuses (or errors) of the /updates burst
    log_tail: str = ""


def _stack(stack_id: str) -> tuple[Stack, tuple[str, ...] | None]:
    """The stack and the contract endpoints its app serves (None: all its interface's)."""
    if stack_id in BARE:
        return BARE[stack_id]
    stack = MATRIX[stack_id]
    served = getattr(stack, "endpoints", None)  # matrix.toml: [apps.X] endpoints = [...]
    return stack, tuple(served) if served is not None else None


def _burst(host: str, port: int) -> list[int | str]:
    """BURST concurrent writers on fresh connections, each bounded by a 15 s timeout."""

    def one(_: int) -> int | str:
        conn = http.client.HTTPConnection(host, port, timeout=15)
        try:
            conn.request("GET", "/updates?queries=20")
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException) as exc:
            return type(exc).__name__
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return list(pool.map(one, range(BURST)))


def _check(stack_id: str, url: str, log_dir: Path) -> Outcome:
    stack, names = _stack(stack_id)
    endpoints = for_interface(stack.interface, names)
    out = Outcome(names=[e.name for e in endpoints])
    log_path = log_dir / f"{stack_id}.log"
    try:
        with launch(stack, log_path, env={"DATABASE_URL": url}) as server:
            out.result = verify_stack(server.host, server.port, endpoints, database_url=url,
                                      interface=stack.interface)
            if any(e.database for e in endpoints):
                out.burst = _burst(server.host, server.port)
            out.log_tail = server.log_tail(30)
    except LaunchError as exc:
        out.error = f"did not start: {exc.reason}\n{exc.log_tail}"
    except Exception:  # noqa: BLE001 - reported by the stack's own test
        out.error = traceback.format_exc()
    return out


def _selected(request: pytest.FixtureRequest, test_name: str) -> list[str]:
    """Stack ids of this module's collected tests named ``test_name`` (respects -k)."""
    ids = []
    items: list[Any] = request.session.items  # pytest.Function has module, originalname and callspec
    for item in items:
        if item.module is request.module and item.originalname == test_name:
            ids.append(item.callspec.params["stack_id"])
    return ids


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Outcome]:
    """Run every selected stack once; keyed by (database kind, stack id)."""
    base = tmp_path_factory.mktemp("contract-stacks")
    sqlite_ids = _selected(request, "test_stack_meets_contract_on_sqlite")
    pg_ids = _selected(request, "test_stack_meets_contract_on_postgres")
    pg_url: str | None = None
    if pg_ids:
        try:
            pg_url = request.getfixturevalue("postgres_url")
        except pytest.skip.Exception:
            pg_url = None  # those tests skip themselves with the reason
    results: dict[tuple[str, str], Outcome] = {}

    def sqlite_job(stack_id: str) -> None:
        url = ensure_sqlite(base / f"{stack_id}.sqlite3")
        results[("sqlite", stack_id)] = _check(stack_id, url, base)

    def postgres_job() -> None:
        assert pg_url is not None
        seed(pg_url)
        for stack_id in pg_ids:  # one at a time: they share the database
            results[("postgres", stack_id)] = _check(stack_id, pg_url, base / "pg")

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = [pool.submit(postgres_job)] if pg_url and pg_ids else []
        futures += [pool.submit(sqlite_job, s) for s in sqlite_ids]
        for f in futures:
            f.result()
    return results


def _assert_meets_contract(out: Outcome, stack_id: str) -> None:
    assert out.error is None, out.error
    assert out.result is not None
    report = format_findings(stack_id, out.result) + "\n--- server log ---\n" + out.log_tail
    assert out.result.endpoints == out.names
    # Everything must pass.  A Date that did not change within the 1.2 s
    # budget is the one tolerated warn: on a loaded 2-core machine it is timing.
    blocking = [f for f in out.result.findings if not (f.level == "warn" and f.check == "date")]
    assert blocking == [], report
    assert all(status == 200 for status in out.burst), f"concurrent /updates: {out.burst}\n{out.log_tail}"


@pytest.mark.parametrize("stack_id", SQLITE_STACKS)
def test_stack_meets_contract_on_sqlite(stack_id: str, outcomes: dict[tuple[str, str], Outcome]) -> None:
    _assert_meets_contract(outcomes[("sqlite", stack_id)], stack_id)


@pytest.mark.parametrize("stack_id", POSTGRES_STACKS)
def test_stack_meets_contract_on_postgres(stack_id: str, outcomes: dict[tuple[str, str], Outcome],
                                          request: pytest.FixtureRequest) -> None:
    if ("postgres", stack_id) not in outcomes:
        request.getfixturevalue("postgres_url")  # skips with pg_server's reason
        pytest.fail("PostgreSQL is available but this stack was not checked")
    _assert_meets_contract(outcomes[("postgres", stack_id)], stack_id)


def test_matrix_is_covered() -> None:
    """Every app and server variant of the matrix is started on SQLite (every stack with
    STACKMARK_ALL_STACKS=1); every app with a database has a PostgreSQL stack."""
    checked = [MATRIX[s] for s in SQLITE_STACKS if s in MATRIX]
    assert {s.app for s in checked} == {s.app for s in MATRIX.values()}
    assert {s.variant for s in checked} == {s.variant for s in MATRIX.values()}
    if os.environ.get(ALL_STACKS_ENV) == "1":
        assert set(MATRIX) <= set(SQLITE_STACKS)
    with_db = {s.app for s in MATRIX.values()
               if any(e.database for e in for_interface(s.interface, _stack(s.id)[1]))}
    assert {MATRIX[s].app for s in POSTGRES_STACKS} == with_db
