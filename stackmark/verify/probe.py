"""Talking to a running stack: HTTP requests, the WebSocket echo, database reads, the Date probe.

Everything that touches the network or the database is here, so the checks
stay pure.  Requests go to loopback hosts only (``require_loopback``), one
fresh ``http.client`` connection each, so one broken response cannot spoil
the next.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import ipaddress
import time
from dataclasses import dataclass
from typing import Any, Protocol

from apps.contract import Endpoint, Variant

from .findings import Finding, placed, problem, request_line

DATE_WAIT_S = 1.1  # a second Date is fetched this long after the first one
_DATE_BUDGET_S = 1.2  # at most this much extra sleeping per stack for it
_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


def require_loopback(host: str) -> str:
    """Only local stacks are benchmarked; refuse to send requests anywhere else.

    Returns the host without IPv6 brackets, as http.client wants it.
    """
    bare = host.strip().strip("[]")
    if bare.lower() in _LOOPBACK_NAMES:
        return bare
    try:
        if ipaddress.ip_address(bare).is_loopback:
            return bare
    except ValueError:
        pass
    raise ValueError(
        f"refusing to verify {host!r}: only loopback hosts (127.0.0.0/8, localhost, ::1) are allowed"
    )


def describe_error(exc: BaseException) -> str:
    """``TimeoutError: timed out``, or just the type when the error has no text."""
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")


@dataclass
class Reply:
    """One HTTP response; repeated headers are joined with ", " under a lower-case name."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float
    at: float  # time.monotonic() when the response headers arrived


def fetch(host: str, port: int, ep: Endpoint, variant: Variant, timeout: float) -> Reply:
    """One request on a fresh connection; raises OSError or HTTPException."""
    method = variant.method or ep.method
    path = variant.path or ep.path
    target = f"{path}?{variant.query}" if variant.query else path
    headers = {"Accept": "*/*"}
    if variant.content_type is not None:
        headers["Content-Type"] = variant.content_type
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        t0 = time.monotonic()
        conn.request(method, target, body=variant.body, headers=headers)
        resp = conn.getresponse()
        at = time.monotonic()
        body = resp.read()
        elapsed = time.monotonic() - t0
        merged: dict[str, str] = {}
        for name, value in resp.getheaders():
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return Reply(resp.status, merged, body, elapsed, at)
    finally:
        conn.close()


def check_ws(host: str, port: int, ep: Endpoint, timeout: float) -> list[Finding]:
    """Echo of one text and one binary message over a WebSocket, bounded by ``timeout``."""
    return placed(_ws_problems(host, port, ep, timeout), ep, f"ws {ep.path}")


def _ws_problems(host: str, port: int, ep: Endpoint, timeout: float) -> list[Finding]:
    try:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect
    except ImportError as exc:
        return [problem("websocket", "the websockets package", f"not installed: {exc}")]
    url_host = f"[{host}]" if ":" in host else host
    text, data = "hello stackmark \u2713", bytes(range(256))
    try:
        with connect(f"ws://{url_host}:{port}{ep.path}", open_timeout=timeout, close_timeout=1.0,
                     proxy=None, compression=None, ping_interval=None) as ws:
            ws.send(text)
            got_text = ws.recv(timeout=timeout)
            ws.send(data)
            got_data = ws.recv(timeout=timeout)
    except (OSError, TimeoutError, WebSocketException) as exc:
        return [problem("websocket", "an echoing WebSocket", describe_error(exc))]
    found: list[Finding] = []
    if got_text != text:
        found.append(problem("websocket", f"text echo {text!r}", repr(got_text)))
    if got_data != data:
        found.append(problem("websocket", "binary echo of 256 bytes", repr(got_data)))
    return found


class _Cursor(Protocol):
    def fetchall(self) -> list[Any]: ...  # DB-API rows: untyped tuples from sqlite3 or psycopg


class _Connection(Protocol):
    def execute(self, query: str) -> _Cursor: ...

    def close(self) -> None: ...


class Database:
    """Reads the expected rows for the verifier; one connection, opened on first use, closed at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: _Connection | None = None

    def _connection(self) -> _Connection:
        if self.conn is None:
            from stackmark.database import connect  # autocommit: no idle transaction holding locks

            self.conn = connect(self.url)
        return self.conn

    def world(self) -> dict[int, int]:
        rows = self._connection().execute("SELECT id, randomnumber FROM world").fetchall()
        return {wid: number for wid, number in rows}

    def fortunes(self) -> list[tuple[int, str]]:
        rows = self._connection().execute("SELECT id, message FROM fortune").fetchall()
        return [(fid, message) for fid, message in rows]

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                self.conn.close()
            self.conn = None


def check_date_changes(host: str, port: int, ep: Endpoint, timeout: float,
                       first: tuple[float, str], wait_s: float) -> list[Finding]:
    """Fetch ``ep`` again >1 s after ``first`` (when, Date); its Date must be valid and different."""
    return placed(_date_problems(host, port, ep, timeout, first, wait_s), ep, request_line(ep))


def _date_problems(host: str, port: int, ep: Endpoint, timeout: float,
                   first: tuple[float, str], wait_s: float) -> list[Finding]:
    at, date = first
    if _http_date(date) is None:
        return [problem("date", "an HTTP date (RFC 9110)", repr(date), "warn")]
    # Servers that cache their Date (uvicorn refreshes it on a 1 s tick, later
    # when its loop was busy) get polled every 0.1 s within the sleep budget.
    start = time.monotonic()
    give_up = start + _DATE_BUDGET_S  # bounded: never more than the budget past this point
    next_try = max(at + wait_s, start)
    while True:
        time.sleep(max(0.0, next_try - time.monotonic()))
        try:
            reply = fetch(host, port, ep, ep.requests()[0], timeout)
        except (OSError, http.client.HTTPException):
            return []  # the request itself was already checked; nothing to add
        if reply.headers.get("date", "") != date:
            return []
        next_try = time.monotonic() + 0.1
        if next_try > give_up:
            break
    return [problem("date", f"a Date that changes after {wait_s:.1f} s", f"still {date!r}", "warn")]


def _http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
