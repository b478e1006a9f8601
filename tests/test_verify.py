"""stackmark.verify over real HTTP: a complete stdlib implementation of the contract
(``ContractHandler``, backed by a seeded SQLite file) and subclasses that break it one way each;
every break must be caught, and only where it is. Then WebSocket and network trouble.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from apps.contract import (
    ENDPOINTS,
    Variant,
    select,
)
from contract_server import (
    ChunkedJsonHandler,
    ContractHandler,
    DbWithoutContentLength,
    EchoCrashes,
    ErrorsAre500,
    FrozenDateHandler,
    NoDateHandler,
    ServerErrorHandler,
    UnclampedQueries,
    UnescapedFortunes,
    UpdatesDoNotWrite,
    WrongBodyHandler,
    WrongCpu,
)
from stackmark.database import ensure_sqlite, sqlite_path
from stackmark.verify import (
    Finding,
    VerifyResult,
    format_findings,
    verify_stack,
)
from verify_helpers import WSGI_NAMES, checks

# --- a complete stdlib implementation of the contract, and broken ones ----------------


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A seeded SQLite file of this module's own (the /updates tests write to it)."""
    return ensure_sqlite(tmp_path_factory.mktemp("verify-db") / "world.sqlite3")


@pytest.fixture
def serve(request: pytest.FixtureRequest, db_url: str) -> Callable[[type[BaseHTTPRequestHandler]], int]:
    """Start a ThreadingHTTPServer on 127.0.0.1:0 with a handler; return its port."""

    def start(handler: type[BaseHTTPRequestHandler]) -> int:
        bound = type(handler.__name__, (handler,), {"db_path": str(sqlite_path(db_url))})
        server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        thread.start()

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join()

        request.addfinalizer(stop)
        return server.server_address[1]

    return start


def test_correct_server_passes(serve: Callable[..., int], db_url: str) -> None:
    port = serve(ContractHandler)
    t0 = time.monotonic()
    result = verify_stack("127.0.0.1", port, database_url=db_url, date_wait_s=0)
    assert result.status == "ok", format_findings("contract", result)
    assert result.findings == [] and result.failed_endpoints == []
    assert result.endpoints == WSGI_NAMES
    assert "ok" in format_findings("contract", result)
    assert time.monotonic() - t0 < 3.0  # verification stays fast


def test_default_endpoints_depend_on_interface_and_database(serve: Callable[..., int], db_url: str) -> None:
    port = serve(ContractHandler)
    no_db = verify_stack("127.0.0.1", port, date_wait_s=0)
    assert no_db.status == "ok" and no_db.endpoints == [n for n in WSGI_NAMES if not ENDPOINTS[n].database]
    assert "db" not in no_db.endpoints and "cpu" in no_db.endpoints


def test_without_database_url_updates_is_a_warn(serve: Callable[..., int]) -> None:
    result = verify_stack("127.0.0.1", serve(ContractHandler), ["db", "fortunes", "updates"], date_wait_s=0)
    assert result.status == "warn"
    assert [(f.endpoint, f.level, f.check) for f in result.findings] == [("updates", "warn", "database")]
    assert result.warned_endpoints == ["updates"] and result.failed_endpoints == []


def test_localhost_name_is_allowed(serve: Callable[..., int]) -> None:
    port = serve(ContractHandler)
    assert verify_stack("localhost", port, ["plaintext", "json"], date_wait_s=0).status == "ok"


@pytest.mark.parametrize(
    ("handler", "endpoint", "expected"),
    [
        (UnescapedFortunes, "fortunes", {"escaping", "html", "body"}),
        (UnclampedQueries, ["queries", "updates"], {"rows"}),
        (EchoCrashes, "echo", {"status"}),
        (DbWithoutContentLength, "db", {"header:content-length"}),
        (WrongCpu, "cpu", {"body"}),
        (UpdatesDoNotWrite, "updates", {"database"}),
        (NoDateHandler, None, {"header:date"}),
        (ServerErrorHandler, None, {"status"}),
        (WrongBodyHandler, "plaintext", {"body"}),
        (ChunkedJsonHandler, "json", {"content-length"}),
        (ErrorsAre500, "errors", {"status"}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_broken_server_is_caught(
    serve: Callable[..., int], db_url: str, handler: type, endpoint: str | list[str] | None, expected: set[str]
) -> None:
    result = verify_stack("127.0.0.1", serve(handler), database_url=db_url, date_wait_s=0)
    assert result.status == "fail"
    assert {f.check for f in result.findings} == expected, format_findings(handler.__name__, result)
    assert all(f.level == "fail" for f in result.findings)
    if endpoint is not None:  # caught there and only there
        assert result.failed_endpoints == ([endpoint] if isinstance(endpoint, str) else endpoint)
    text = format_findings(handler.__name__, result)
    assert text.splitlines()[0].startswith(f"{handler.__name__}: FAIL")


def test_unclamped_queries_report_reads_like_a_diff(serve: Callable[..., int], db_url: str) -> None:
    result = verify_stack("127.0.0.1", serve(UnclampedQueries), ["queries"], database_url=db_url, date_wait_s=0)
    text = format_findings("s", result)
    assert "    /queries?queries=501  rows: expected 500 rows  got 501 rows" in text


def test_echo_500_names_each_bad_input(serve: Callable[..., int], db_url: str) -> None:
    result = verify_stack("127.0.0.1", serve(EchoCrashes), ["echo"], date_wait_s=0)
    requests = {f.request for f in result.findings}
    assert "POST /echo [count bool]" in requests and "POST /echo [extra key]" in requests
    assert all("server error" in f.actual for f in result.findings)
    text = format_findings("s", result)
    assert "(and " in text and "more requests)" in text  # the same 500 is one line


def test_format_findings_reads_like_a_diff(serve: Callable[..., int]) -> None:
    result = verify_stack("127.0.0.1", serve(WrongBodyHandler), ["plaintext"], date_wait_s=0)
    text = format_findings("flask-gunicorn", result)
    assert text.splitlines()[0].startswith("flask-gunicorn: FAIL")
    assert "  plaintext\n    /plaintext  body: expected 'Hello, World!'  got 'Hello, world!'" in text


def test_to_dict_round_trips_findings(serve: Callable[..., int]) -> None:
    result = verify_stack("127.0.0.1", serve(ServerErrorHandler), endpoints=select(["json"]), date_wait_s=0)
    d: Any = result.to_dict()
    assert d["status"] == "fail" and d["failed_endpoints"] == ["json"]
    assert d["findings"][0]["check"] == "status" and d["findings"][0]["actual"].startswith("500")


def test_endpoints_by_name_and_positional_use(serve: Callable[..., int]) -> None:
    port = serve(ContractHandler)
    assert verify_stack("127.0.0.1", port, select(["plaintext"]), 2.0, date_wait_s=0).endpoints == ["plaintext"]
    assert verify_stack("127.0.0.1", port, ["cpu", "io"], date_wait_s=0).status == "ok"


def test_date_that_changes_passes(serve: Callable[..., int]) -> None:
    t0 = time.monotonic()
    result = verify_stack("127.0.0.1", serve(ContractHandler), ["plaintext"])
    assert result.status == "ok", format_findings("s", result)
    assert 1.0 < time.monotonic() - t0 < 2.6


def test_frozen_date_is_a_warn_within_budget(serve: Callable[..., int]) -> None:
    t0 = time.monotonic()
    result = verify_stack("127.0.0.1", serve(FrozenDateHandler), ["plaintext", "json"])
    assert time.monotonic() - t0 < 2.8  # 1.1 s wait, polled up to the 1.2 s budget
    assert [(f.endpoint, f.level, f.check) for f in result.findings] == [("plaintext", "warn", "date")]
    assert result.status == "warn" and result.failed_endpoints == []


# --- WebSocket -------------------------------------------------------------------


@pytest.fixture
def ws_server(request: pytest.FixtureRequest) -> Callable[[Callable[[str | bytes], str | bytes]], int]:
    from websockets.sync.server import serve as ws_serve

    def start(transform: Callable[[str | bytes], str | bytes]) -> int:
        def handler(conn) -> None:  # type: ignore[no-untyped-def]
            for message in conn:
                conn.send(transform(message))

        server = ws_serve(handler, "127.0.0.1", 0, compression=None)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()

        def stop() -> None:
            server.shutdown()
            thread.join(timeout=5)

        request.addfinalizer(stop)
        return server.socket.getsockname()[1]

    return start


def test_websocket_echo_passes_and_broken_echo_fails(ws_server: Callable[..., int]) -> None:
    ok = verify_stack("127.0.0.1", ws_server(lambda m: m), ["ws"], timeout=2.0)
    assert ok.status == "ok", format_findings("ws", ok)
    upper = verify_stack("127.0.0.1", ws_server(lambda m: m.upper()), ["ws"], timeout=2.0)
    assert [(f.endpoint, f.check) for f in upper.findings] == [("ws", "websocket"), ("ws", "websocket")]


def test_websocket_refused_is_a_fail(serve: Callable[..., int]) -> None:
    """An HTTP server without /ws: the handshake gets a 404, reported, not raised."""
    result = verify_stack("127.0.0.1", serve(ContractHandler), ["ws"], timeout=2.0, date_wait_s=0)
    assert [(f.endpoint, f.check, f.level) for f in result.findings] == [("ws", "websocket", "fail")]


# --- network trouble -----------------------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that is bound but not listening, so connects are refused (no race)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_closed_port_is_a_connection_fail(closed_port: int) -> None:
    result = verify_stack("127.0.0.1", closed_port, ["plaintext", "json"], timeout=2.0)
    assert result.status == "fail"
    assert [(f.endpoint, f.check) for f in result.findings] == [
        ("plaintext", "connection"),
        ("json", "connection"),
    ]
    assert "Refused" in result.findings[0].actual


def test_closed_port_with_every_endpoint_is_quick(closed_port: int) -> None:
    t0 = time.monotonic()
    result = verify_stack("127.0.0.1", closed_port, interface="asgi", timeout=2.0, database_url="sqlite:////nope")
    assert time.monotonic() - t0 < 5.0
    assert result.failed_endpoints == list(ENDPOINTS)


def test_silent_server_is_a_connection_fail() -> None:
    """Accepts (via the backlog) but never answers: a timeout, not an exception."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = verify_stack("127.0.0.1", sock.getsockname()[1], select(["plaintext"]), timeout=0.2)
    assert checks(result.findings) == ["connection"]


def test_silent_server_gives_up_after_two_timeouts() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        t0 = time.monotonic()
        result = verify_stack("127.0.0.1", sock.getsockname()[1], timeout=0.2, database_url="sqlite:////nope")
        elapsed = time.monotonic() - t0
    assert elapsed < 2.0
    assert result.failed_endpoints == WSGI_NAMES
    assert "stopped answering" in result.findings[-1].actual


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"])
def test_loopback_spellings_are_accepted(host: str, closed_port: int) -> None:
    """Accepted means a finding, not ValueError (nothing listens on ::1 here)."""
    result = verify_stack(host, closed_port, select(["plaintext"]), timeout=2.0)
    assert checks(result.findings) == ["connection"]
    assert "gaierror" not in result.findings[0].actual


@pytest.mark.parametrize("host", ["10.0.0.1", "0.0.0.0", "example.com", "192.168.1.1", "::"])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        verify_stack(host, 80)


def test_unreadable_database_is_a_warn(serve: Callable[..., int], tmp_path: Path) -> None:
    missing = "sqlite:///" + str(tmp_path / "missing.sqlite3")
    result = verify_stack("127.0.0.1", serve(ContractHandler), ["db"], database_url=missing, date_wait_s=0)
    assert [(f.level, f.check) for f in result.findings] == [("warn", "database")]


def test_result_status_reflects_warnings() -> None:
    warn = Finding("json", "warn", "content-type", "a", "b")
    assert VerifyResult("warn", [warn]).failed_endpoints == []
    assert VerifyResult("warn", [warn]).warned_endpoints == ["json"]
    assert VerifyResult("warn", [warn]).endpoint_status("json") == "warn"
    assert "[warn]" in format_findings("s", VerifyResult("warn", [warn]))


def test_variant_request_lines() -> None:
    from stackmark.verify import request_line

    q = ENDPOINTS["queries"]
    assert request_line(q) == "/queries?queries=20"
    assert request_line(q, Variant("queries missing", query="")) == "/queries"
    echo = ENDPOINTS["echo"]
    assert request_line(echo, echo.requests()[3]) == f"POST /echo [{echo.requests()[3].name}]"
