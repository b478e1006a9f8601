"""Verify one running stack: every endpoint, every variant, then the Date probe.

``verify_stack`` never raises for network or database trouble (only for a
non-loopback host): a stack that answers badly is a result to report, and
the benchmark run goes on without it.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterable
from typing import TypeVar

from apps.contract import ENDPOINTS, Endpoint, Variant, for_interface

from .bodies import Expected
from .checks import check_response
from .findings import Finding, VerifyResult, placed, problem, request_line, worst
from .probe import (
    DATE_WAIT_S,
    Database,
    check_date_changes,
    check_ws,
    describe_error,
    fetch,
    require_loopback,
)
from .rows import check_updates_written

_T = TypeVar("_T")
_SAFE_PROBES = ("static", "errors", "cpu", "db", "queries", "fortunes", "stream", "io")
_MAX_TIMEOUTS = 2  # after this many timed-out requests the stack is taken for stopped


def verify_stack(
    host: str,
    port: int,
    endpoints: Iterable[Endpoint | str] | None = None,
    timeout: float = 5.0,
    *,
    database_url: str | None = None,
    interface: str = "wsgi",
    date_wait_s: float = DATE_WAIT_S,
    allow_remote: bool = False,
) -> VerifyResult:
    """Request every endpoint (and each of its variants) from host:port and check it.

    ``endpoints``: Endpoint objects or names; None means every endpoint an
    app of ``interface`` serves (``ws`` only for "asgi"), less the database
    ones when no ``database_url`` is given.  ``database_url``: the stack's
    database, to compare rows with and to see that /updates wrote; without
    it, database endpoints selected explicitly are still checked: /fortunes
    against ``stackmark.database.FORTUNES``, /updates with a warn that its
    writes could not be seen.  ``date_wait_s``: the Date header is fetched
    again this long after the first response and must have changed (a warn
    if not; 0 skips it).  Raises ValueError only for a non-loopback host;
    refused connections, timeouts and protocol errors become "connection"
    findings and database trouble a "database" warn.
    """
    host = host if allow_remote else require_loopback(host)
    eps = _resolve(endpoints, interface, database_url)
    session = _Session(host, port, timeout, Database(database_url) if database_url else None, _date_probe(eps))
    try:
        for ep in eps:
            session.check_endpoint(ep)
        if date_wait_s > 0:
            session.check_date(date_wait_s)
    finally:
        session.close()
    return VerifyResult(worst(f.level for f in session.findings), session.findings, [ep.name for ep in eps])


def _resolve(endpoints: Iterable[Endpoint | str] | None, interface: str, database_url: str | None) -> list[Endpoint]:
    if endpoints is None:
        # Without a database URL the stack may well have no database (e.g. started
        # without DATABASE_URL): by default only what needs none is checked.
        return [e for e in for_interface(interface) if database_url or not e.database]
    return [ENDPOINTS[e] if isinstance(e, str) else e for e in endpoints]


def _date_probe(eps: list[Endpoint]) -> Endpoint | None:
    """The endpoint whose Date is fetched twice: a static one, else one safe to repeat."""
    return next((e for e in eps if e.kind == "static"), None) or next(
        (e for e in eps if e.method == "GET" and e.kind in _SAFE_PROBES), None)


class _Session:
    """One stack's verification in progress: its findings, the rows read, the timeouts, the first Date."""

    def __init__(self, host: str, port: int, timeout: float, db: Database | None, probe: Endpoint | None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.db = db
        self.db_broken = False
        self.probe = probe
        self.findings: list[Finding] = []
        self.world: dict[int, int] | None = None
        self.fortunes: list[tuple[int, str]] | None = None
        self.timeouts = 0
        self.first_date: tuple[float, str] | None = None  # (time.monotonic(), Date) of the probe's reply

    def check_endpoint(self, ep: Endpoint) -> None:
        """Every request of ``ep``, with the database rows its checks need read first."""
        if self.timeouts >= _MAX_TIMEOUTS:
            self._add([problem("connection", "HTTP response",
                               f"not checked: the stack stopped answering ({_MAX_TIMEOUTS} timeouts)")], ep, "")
            return
        if ep.kind == "ws":
            self.findings += check_ws(self.host, self.port, ep, self.timeout)
            return
        if ep.kind in ("db", "queries", "updates") and self.world is None:
            self.world = self._read(ep, "world rows", Database.world)
        if ep.kind == "fortunes" and self.fortunes is None:
            self.fortunes = self._read(ep, "fortune rows", Database.fortunes)
        if ep.kind == "updates" and self.db is None:
            self._add([problem("database", "rows written", "not checked: no database_url given", "warn")],
                      ep, request_line(ep))
        for variant in ep.requests():
            if not self._check_request(ep, variant):
                break  # the rest of this endpoint would only repeat it

    def _check_request(self, ep: Endpoint, variant: Variant) -> bool:
        """One request and its checks; False when the next requests would only repeat its failure."""
        try:
            reply = fetch(self.host, self.port, ep, variant, self.timeout)
        except (OSError, http.client.HTTPException) as exc:
            self._add([problem("connection", "HTTP response", describe_error(exc))], ep, request_line(ep, variant))
            if isinstance(exc, TimeoutError):
                self.timeouts += 1
            return not isinstance(exc, (TimeoutError, ConnectionRefusedError))
        if ep is self.probe and self.first_date is None and "date" in reply.headers:
            self.first_date = (reply.at, reply.headers["date"])
        expect = Expected(fortunes=self.fortunes, world=self.world)
        self.findings += check_response(ep, reply.status, reply.headers, reply.body, variant,
                                        expect=expect, elapsed_s=reply.elapsed_s)
        if ep.kind == "updates" and self.world is not None and reply.status == 200:
            self._check_written(ep, variant, reply.body, self.world)
        return True

    def _check_written(self, ep: Endpoint, variant: Variant, body: bytes, before: dict[int, int]) -> None:
        """Diff the world table around one /updates request; the new table is the next request's before."""
        after = self._read(ep, "world rows", Database.world)
        if after is None:
            return
        try:
            rows: object = json.loads(body)
        except ValueError:
            rows = None
        self._add(check_updates_written(rows, before, after), ep, request_line(ep, variant))
        self.world = after

    def check_date(self, wait_s: float) -> None:
        """The Date probe, when a probe endpoint answered with a Date and the stack still answers."""
        if self.probe is not None and self.first_date is not None and self.timeouts < _MAX_TIMEOUTS:
            self.findings += check_date_changes(self.host, self.port, self.probe, self.timeout,
                                                self.first_date, wait_s)

    def _read(self, ep: Endpoint, what: str, reader: Callable[[Database], _T]) -> _T | None:
        """Rows from the database, or None without one; the first error is a warn and ends reading."""
        if self.db is None or self.db_broken:
            return None
        try:
            return reader(self.db)
        except Exception as exc:  # noqa: BLE001 - any driver error is a finding, not a crash
            self.db_broken = True
            self._add([problem("database", f"{what} read from the database", f"{type(exc).__name__}: {exc}",
                               "warn")], ep, "database")
            return None

    def _add(self, found: list[Finding], ep: Endpoint, request: str) -> None:
        self.findings += placed(found, ep, request)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
