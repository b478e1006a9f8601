"""Tests for stackmark.verify: pure checks, then real HTTP against stdlib servers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.contract import ENDPOINTS, REQUIRED_HEADERS, Endpoint, select
from stackmark.verify import (
    Finding,
    VerifyResult,
    check_response,
    format_findings,
    verify_stack,
)

PLAIN = ENDPOINTS["plaintext"]
JSON = ENDPOINTS["json"]


def good(ep: Endpoint) -> tuple[int, dict[str, str], bytes]:
    """A response that meets the contract, as (status, headers, body)."""
    if ep is PLAIN:
        ctype, body = "text/plain; charset=utf-8", b"Hello, World!"
    else:
        ctype, body = "application/json", b'{"message":"Hello, World!"}'
    headers = {
        "Server": "test",
        "Date": "Sun, 06 Nov 1994 08:49:37 GMT",
        "Content-Type": ctype,
        "Content-Length": str(len(body)),
    }
    return 200, headers, body


def checks(findings: list[Finding]) -> list[str]:
    return [f.check for f in findings]


# --- contract ---------------------------------------------------------------


def test_contract_has_required_endpoints() -> None:
    assert PLAIN.path == "/plaintext" and PLAIN.body_text == "Hello, World!"
    assert JSON.path == "/json" and JSON.body_json == {"message": "Hello, World!"}
    assert REQUIRED_HEADERS == ("server", "date", "content-length")
    assert select(["json"]) == [JSON]
    with pytest.raises(KeyError, match="nope"):
        select(["nope"])


# --- check_response (pure) ----------------------------------------------------


@pytest.mark.parametrize("ep", [PLAIN, JSON], ids=lambda e: e.name)
def test_good_response_passes(ep: Endpoint) -> None:
    assert check_response(ep, *good(ep)) == []


def test_header_names_are_case_insensitive() -> None:
    status, headers, body = good(PLAIN)
    lower = {k.lower(): v for k, v in headers.items()}
    upper = {k.upper(): v for k, v in headers.items()}
    assert check_response(PLAIN, status, lower, body) == []
    assert check_response(PLAIN, status, upper, body) == []


def test_json_spacing_and_trailing_newline_pass() -> None:
    body = b'{\n  "message" :  "Hello, World!"\n}\n'
    status, headers, _ = good(JSON)
    headers["Content-Length"] = str(len(body))
    assert check_response(JSON, status, headers, body) == []


def test_wrong_text_body_is_caught() -> None:
    status, headers, _ = good(PLAIN)
    found = check_response(PLAIN, status, headers, b"Hello, world!")
    assert checks(found) == ["body"]
    assert found[0].level == "fail"
    assert "Hello, world!" in found[0].actual


def test_text_body_with_trailing_newline_is_caught() -> None:
    body = b"Hello, World!\n"
    status, headers, _ = good(PLAIN)
    headers["Content-Length"] = str(len(body))
    assert checks(check_response(PLAIN, status, headers, body)) == ["body"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"message": "Hello, world!"}',
        b'{"message": "Hello, World!", "extra": 1}',
        b'{"msg": "Hello, World!"}',
        b'["Hello, World!"]',
    ],
)
def test_wrong_json_value_is_caught(body: bytes) -> None:
    status, headers, _ = good(JSON)
    headers["Content-Length"] = str(len(body))
    assert checks(check_response(JSON, status, headers, body)) == ["body"]


def test_json_types_are_strict() -> None:
    ep = Endpoint("n", "/n", content_type="application/json", body_json={"v": 1})
    status, headers, _ = good(JSON)
    for body, ok in [(b'{"v": 1}', True), (b'{"v": 1.0}', True), (b'{"v": true}', False), (b'{"v": "1"}', False)]:
        headers["Content-Length"] = str(len(body))
        assert (check_response(ep, status, headers, body) == []) is ok, body


def test_unparsable_json_is_a_fail() -> None:
    body = b"<html>oops</html>"
    status, headers, _ = good(JSON)
    headers["Content-Length"] = str(len(body))
    found = check_response(JSON, status, headers, body)
    assert checks(found) == ["body"]
    assert found[0].level == "fail" and "unparsable" in found[0].actual


@pytest.mark.parametrize("name", ["Server", "Date", "Content-Length"])
def test_missing_required_header_is_caught(name: str) -> None:
    status, headers, body = good(PLAIN)
    del headers[name]
    found = check_response(PLAIN, status, headers, body)
    assert checks(found) == [f"header:{name.lower()}"]
    assert found[0].actual == "(missing)"


@pytest.mark.parametrize("declared", ["12", "14", "abc"])
def test_wrong_content_length_is_caught(declared: str) -> None:
    status, headers, body = good(PLAIN)
    headers["Content-Length"] = declared
    assert checks(check_response(PLAIN, status, headers, body)) == ["content-length"]


def test_chunked_instead_of_content_length_is_a_fail() -> None:
    status, headers, body = good(JSON)
    del headers["Content-Length"]
    headers["Transfer-Encoding"] = "chunked"
    found = check_response(JSON, status, headers, body)
    assert checks(found) == ["content-length"]
    assert "chunked" in found[0].actual


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "application/json"])
def test_wrong_content_type_is_caught(ctype: str) -> None:
    status, headers, body = good(PLAIN)
    headers["Content-Type"] = ctype
    assert checks(check_response(PLAIN, status, headers, body)) == ["content-type"]


def test_missing_content_type_is_caught() -> None:
    status, headers, body = good(PLAIN)
    del headers["Content-Type"]
    assert checks(check_response(PLAIN, status, headers, body)) == ["content-type"]


def test_content_type_parameters_are_ignored() -> None:
    status, headers, body = good(PLAIN)
    headers["Content-Type"] = "TEXT/PLAIN;charset=ISO-8859-1"
    assert check_response(PLAIN, status, headers, body) == []


@pytest.mark.parametrize("status", [201, 404, 500])
def test_wrong_status_is_caught(status: int) -> None:
    _, headers, body = good(PLAIN)
    found = check_response(PLAIN, status, headers, body)
    assert checks(found) == ["status"]
    assert (found[0].expected, found[0].actual) == ("200", str(status))


def test_long_bodies_are_truncated() -> None:
    body = b"x" * 5000
    status, headers, _ = good(PLAIN)
    headers["Content-Length"] = str(len(body))
    (finding,) = check_response(PLAIN, status, headers, body)
    assert len(finding.actual) <= 80


# --- real servers --------------------------------------------------------------


class ContractHandler(BaseHTTPRequestHandler):
    """Serves the contract correctly; subclasses break it one way each."""

    protocol_version = "HTTP/1.1"
    server_version = "ContractTest/1.0"
    status = 200
    responses = {
        "/plaintext": ("text/plain; charset=utf-8", b"Hello, World!"),
        "/json": ("application/json", b'{"message": "Hello, World!"}\n'),
    }

    def do_GET(self) -> None:
        ctype, body = self.responses.get(self.path, ("text/plain", b"not found"))
        self.send_response(self.status if self.path in self.responses else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


class WrongBodyHandler(ContractHandler):
    responses = {**ContractHandler.responses, "/plaintext": ("text/plain", b"Hello, world!")}


class NoDateHandler(ContractHandler):
    def send_response(self, code: int, message: str | None = None) -> None:
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())  # but no Date


class ServerErrorHandler(ContractHandler):
    status = 500


class ChunkedJsonHandler(ContractHandler):
    def do_GET(self) -> None:
        if self.path != "/json":
            return super().do_GET()
        body = b'{"message": "Hello, World!"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Callable[[type[BaseHTTPRequestHandler]], int]:
    """Start a ThreadingHTTPServer on 127.0.0.1:0 with a handler; return its port."""

    def start(handler: type[BaseHTTPRequestHandler]) -> int:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
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


def test_correct_server_passes(serve: Callable[..., int]) -> None:
    port = serve(ContractHandler)
    result = verify_stack("127.0.0.1", port)
    assert result.status == "ok", format_findings("contract", result)
    assert result.findings == [] and result.failed_endpoints == []
    assert result.endpoints == list(ENDPOINTS)
    assert "ok" in format_findings("contract", result)


def test_localhost_name_is_allowed(serve: Callable[..., int]) -> None:
    port = serve(ContractHandler)
    assert verify_stack("localhost", port).status == "ok"


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (WrongBodyHandler, {("plaintext", "body")}),
        (NoDateHandler, {("plaintext", "header:date"), ("json", "header:date")}),
        (ServerErrorHandler, {("plaintext", "status"), ("json", "status")}),
        (ChunkedJsonHandler, {("json", "content-length")}),
    ],
    ids=["wrong-body", "no-date", "status-500", "chunked"],
)
def test_broken_server_is_caught(
    serve: Callable[..., int], handler: type, expected: set[tuple[str, str]]
) -> None:
    port = serve(handler)
    result = verify_stack("127.0.0.1", port)
    assert result.status == "fail"
    assert {(f.endpoint, f.check) for f in result.findings} == expected
    assert all(f.level == "fail" for f in result.findings)
    assert result.failed_endpoints == [n for n in ENDPOINTS if any(n == e for e, _ in expected)]


def test_format_findings_reads_like_a_diff(serve: Callable[..., int]) -> None:
    result = verify_stack("127.0.0.1", serve(WrongBodyHandler))
    text = format_findings("flask-gunicorn", result)
    assert text.splitlines()[0].startswith("flask-gunicorn: FAIL")
    assert "  /plaintext  body: expected 'Hello, World!'  got 'Hello, world!'" in text


def test_to_dict_round_trips_findings(serve: Callable[..., int]) -> None:
    result = verify_stack("127.0.0.1", serve(ServerErrorHandler), endpoints=select(["json"]))
    d = result.to_dict()
    assert d["status"] == "fail" and d["failed_endpoints"] == ["json"]
    assert d["findings"][0]["check"] == "status" and d["findings"][0]["actual"] == "500"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that is bound but not listening, so connects are refused (no race)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_closed_port_is_a_connection_fail(closed_port: int) -> None:
    result = verify_stack("127.0.0.1", closed_port, timeout=2.0)
    assert result.status == "fail"
    assert [(f.endpoint, f.check) for f in result.findings] == [
        ("plaintext", "connection"),
        ("json", "connection"),
    ]
    assert "Refused" in result.findings[0].actual


def test_silent_server_is_a_connection_fail() -> None:
    """Accepts (via the backlog) but never answers: a timeout, not an exception."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = verify_stack("127.0.0.1", sock.getsockname()[1], select(["plaintext"]), timeout=0.2)
    assert checks(result.findings) == ["connection"]


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


def test_result_status_reflects_warnings() -> None:
    warn = Finding("json", "warn", "content-type", "a", "b")
    assert VerifyResult("warn", [warn]).failed_endpoints == []
    assert "[warn]" in format_findings("s", VerifyResult("warn", [warn]))
