"""Tests for the contract and stackmark.verify: pure checks, then real HTTP against stdlib servers.

The real-server half runs a complete stdlib implementation of the contract
(``ContractHandler``, backed by a seeded SQLite file) and subclasses that
break it one way each; every break must be caught, and only where it is.
"""

from __future__ import annotations

import html
import json
import random
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from apps.contract import (
    ADDITIONAL_FORTUNE,
    BARE_ENDPOINTS,
    ECHO_MAX_BYTES,
    ENDPOINTS,
    REQUIRED_HEADERS,
    Endpoint,
    Variant,
    clamp_param,
    cpu_work,
    endpoint_for,
    for_interface,
    select,
)
from stackmark.database import FORTUNES, ensure_sqlite, sqlite_path
from stackmark.verify import (
    Finding,
    VerifyResult,
    check_fortunes,
    check_response,
    check_rows,
    check_updates_written,
    check_world,
    expected_fortunes,
    format_findings,
    verify_stack,
)

PLAIN = ENDPOINTS["plaintext"]
JSON = ENDPOINTS["json"]
WSGI_NAMES = [e.name for e in for_interface("wsgi")]


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


def json_headers(body: bytes, ctype: str = "application/json") -> dict[str, str]:
    return {"Server": "t", "Date": "Sun, 06 Nov 1994 08:49:37 GMT", "Content-Type": ctype,
            "Content-Length": str(len(body))}


# --- contract ---------------------------------------------------------------


def test_contract_has_required_endpoints() -> None:
    assert PLAIN.path == "/plaintext" and PLAIN.body_text == "Hello, World!"
    assert JSON.path == "/json" and JSON.body_json == {"message": "Hello, World!"}
    assert REQUIRED_HEADERS == ("server", "date", "content-length")
    assert select(["json"]) == [JSON]
    with pytest.raises(KeyError, match="nope"):
        select(["nope"])


def test_contract_names_paths_and_default_requests() -> None:
    targets = {e.name: (e.method, e.target) for e in ENDPOINTS.values()}
    assert targets == {
        "plaintext": ("GET", "/plaintext"),
        "json": ("GET", "/json"),
        "db": ("GET", "/db"),
        "queries": ("GET", "/queries?queries=20"),
        "fortunes": ("GET", "/fortunes"),
        "updates": ("GET", "/updates?queries=20"),
        "io": ("GET", "/io?ms=50"),
        "cpu": ("GET", "/cpu?n=10000"),
        "echo": ("POST", "/echo"),
        "stream": ("GET", "/stream?kb=64"),
        "ws": ("GET", "/ws"),
        "errors": ("GET", "/no-such-path"),
    }
    assert endpoint_for("/queries?queries=5") is ENDPOINTS["queries"]
    with pytest.raises(KeyError):
        endpoint_for("/nope")


def test_interfaces_and_bare_endpoints() -> None:
    assert "ws" not in WSGI_NAMES and len(WSGI_NAMES) == len(ENDPOINTS) - 1
    assert [e.name for e in for_interface("asgi")] == list(ENDPOINTS)
    assert [e.name for e in for_interface("asgi", BARE_ENDPOINTS)] == list(BARE_ENDPOINTS)
    assert not any(ENDPOINTS[n].database for n in BARE_ENDPOINTS)
    with pytest.raises(ValueError):
        for_interface("rsgi")


@pytest.mark.parametrize(
    ("raw", "lo", "hi", "want"),
    [(None, 1, 500, 1), ("", 1, 500, 1), ("abc", 1, 500, 1), ("0", 1, 500, 1), ("-5", 1, 500, 1),
     ("20", 1, 500, 20), ("501", 1, 500, 500), ("2.5", 1, 500, 1), ("abc", 0, 10, 0)],
)
def test_clamp_param(raw: str | None, lo: int, hi: int, want: int) -> None:
    assert clamp_param(raw, lo, hi) == want


def test_cpu_oracle_is_pinned() -> None:
    """Changing the algorithm must be deliberate: every app copies these lines."""
    assert cpu_work(1) == 1013904223
    assert cpu_work(10_000) == 941122120
    assert all(0 <= cpu_work(n) < 2**32 for n in (1, 2, 3, 777))


def test_clamping_variants_cover_the_issue() -> None:
    q = {v.name: v.value for v in ENDPOINTS["queries"].requests()}
    assert q == {"default": 20, "queries missing": 1, "queries=": 1, "queries=0": 1, "queries=-5": 1,
                 "queries=abc": 1, "queries=3": 3, "queries=501": 500}
    assert {v.name: v.value for v in ENDPOINTS["updates"].requests()} == q
    assert {v.value for v in ENDPOINTS["stream"].requests()} == {64, 1, 3, 10_240}
    assert {v.value for v in ENDPOINTS["cpu"].requests()} == {10_000, 1, 777, 1_000_000}


def test_echo_variants_cover_every_error() -> None:
    variants = ENDPOINTS["echo"].requests()
    by_status: dict[int, set[str | None]] = {}
    for v in variants:
        by_status.setdefault(v.status, set()).add(v.error)
    assert by_status == {200: {None}, 400: {"malformed_json"}, 413: {"too_large"},
                         415: {"unsupported_media_type"}, 422: {"invalid_body"}}
    (big,) = [v for v in variants if v.status == 413]
    assert big.body is not None and len(big.body) == ECHO_MAX_BYTES + 1
    assert json.loads(big.body) == ENDPOINTS["echo"].body_json  # only the size is wrong
    assert all(v.echo is not None for v in variants if v.status == 200)


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


def test_stream_may_chunk_but_not_end_at_close() -> None:
    ep = ENDPOINTS["stream"]
    body = b"x" * 64 * 1024
    headers = json_headers(body, "application/octet-stream")
    assert check_response(ep, 200, headers, body) == []
    del headers["Content-Length"]
    assert check_response(ep, 200, {**headers, "Transfer-Encoding": "chunked"}, body) == []
    assert checks(check_response(ep, 200, headers, body)) == ["content-length"]  # close-delimited
    short = b"x" * 1000
    assert checks(check_response(ep, 200, json_headers(short, "application/octet-stream"), short)) == ["body"]
    odd = b"x" * 65535 + b"y"
    assert checks(check_response(ep, 200, json_headers(odd, "application/octet-stream"), odd)) == ["body"]


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
    assert found[0].expected == "200" and found[0].actual.startswith(str(status))


def test_long_bodies_are_truncated() -> None:
    body = b"x" * 5000
    status, headers, _ = good(PLAIN)
    headers["Content-Length"] = str(len(body))
    (finding,) = check_response(PLAIN, status, headers, body)
    assert len(finding.actual) <= 80


# --- database rows, fortunes, updates (pure) ----------------------------------------


def test_check_world() -> None:
    assert check_world({"id": 1, "randomNumber": 10_000}) is None
    assert check_world({"id": 5, "randomNumber": 7}, {5: 7}) is None
    assert "database has" in (check_world({"id": 5, "randomNumber": 8}, {5: 7}) or "")
    for bad in ({"id": 0, "randomNumber": 1}, {"id": 1, "randomNumber": 10_001}, {"id": True, "randomNumber": 1},
                {"id": 1, "randomnumber": 1}, {"id": "1", "randomNumber": 1}, [1, 2],
                {"id": 1, "randomNumber": 1, "x": 0}):
        assert check_world(bad) is not None, bad


def test_check_rows_counts_and_shapes() -> None:
    rows = [{"id": i, "randomNumber": i} for i in range(1, 21)]
    assert check_rows(rows, 20) == []
    assert [p[1] for p in check_rows(rows, 500)] == ["rows"]
    assert [p[1] for p in check_rows([*rows[:19], {"id": 1}], 20)] == ["body"]
    assert [p[1] for p in check_rows({"id": 1, "randomNumber": 1}, 1)] == ["body"]  # an object, not a list


def fortunes_page(rows: list[tuple[int, str]], escape: Callable[[str], str] = html.escape) -> bytes:
    cells = "".join(f"<tr><td>{i}</td><td>{escape(m)}</td></tr>" for i, m in rows)
    return ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
            f"<tr><th>id</th><th>message</th></tr>{cells}</table></body></html>").encode()


def test_fortunes_good_page_passes_with_either_escaping_style() -> None:
    want = expected_fortunes(FORTUNES)
    assert want[0][0] == 11 and (0, ADDITIONAL_FORTUNE) in want and len(want) == 13
    assert check_fortunes(fortunes_page(want), FORTUNES) == []
    django_style = fortunes_page(want, lambda m: html.escape(m).replace("&#x27;", "&#x27;").replace("&quot;", "&quot;"))
    assert check_fortunes(django_style, FORTUNES) == []
    spaced = fortunes_page(want).replace(b"<tr>", b"\n  <tr>").replace(b"</table>", b"\n</table>\n")
    assert check_fortunes(spaced, FORTUNES) == []


def test_fortunes_problems_are_caught() -> None:
    want = expected_fortunes(FORTUNES)
    unescaped = check_fortunes(fortunes_page(want, escape=lambda m: m), FORTUNES)
    assert "escaping" in [p[1] for p in unescaped]
    unsorted = check_fortunes(fortunes_page(sorted(want)), FORTUNES)
    assert {p[1] for p in unsorted} == {"body"} and len(unsorted) <= 4
    missing = check_fortunes(fortunes_page([r for r in want if r[0] != 0]), FORTUNES)
    assert "rows" in [p[1] for p in missing]
    no_doctype = check_fortunes(fortunes_page(want)[len(b"<!DOCTYPE html>"):], FORTUNES)
    assert [p[1] for p in no_doctype] == ["html"]
    retitled = check_fortunes(fortunes_page(want).replace(b"Fortunes</title>", b"Fortune</title>"), FORTUNES)
    assert [p[1] for p in retitled] == ["html"]


def test_fortunes_compare_with_the_rows_given() -> None:
    stored = [(1, "b"), (2, "a")]
    assert check_fortunes(fortunes_page(expected_fortunes(stored)), stored) == []
    assert check_fortunes(fortunes_page(expected_fortunes(FORTUNES)), stored) != []


def test_fortunes_charset() -> None:
    ep = ENDPOINTS["fortunes"]
    body = fortunes_page(expected_fortunes(FORTUNES))
    assert check_response(ep, 200, json_headers(body, "text/html; charset=utf-8"), body) == []
    (warn,) = check_response(ep, 200, json_headers(body, "text/html"), body)
    assert warn.level == "warn"
    (fail,) = check_response(ep, 200, json_headers(body, "text/html; charset=latin-1"), body)
    assert fail.level == "fail"


def test_updates_written() -> None:
    before = {1: 10, 2: 20, 3: 30}
    rows = [{"id": 1, "randomNumber": 11}, {"id": 2, "randomNumber": 21}]
    assert check_updates_written(rows, before, {1: 11, 2: 21, 3: 30}) == []
    (not_written,) = check_updates_written(rows, before, before)
    assert not_written[1] == "database" and "holds 10" in not_written[3]
    # returned the old values and wrote nothing: nothing changed
    (unchanged,) = check_updates_written([{"id": 1, "randomNumber": 10}, {"id": 2, "randomNumber": 20}],
                                         before, before)
    assert "no row changed" in unchanged[3]
    (stray,) = check_updates_written(rows, before, {1: 11, 2: 21, 3: 31})
    assert "other rows changed" in stray[3]
    # a duplicate id: either value may have won
    dup = [{"id": 1, "randomNumber": 11}, {"id": 1, "randomNumber": 12}, {"id": 2, "randomNumber": 21}]
    assert check_updates_written(dup, before, {1: 12, 2: 21, 3: 30}) == []
    # one row that randomly kept its value is not a failure
    assert check_updates_written([{"id": 3, "randomNumber": 30}], before, before) == []


def test_echo_error_shape_and_io_timing() -> None:
    ep = ENDPOINTS["echo"]
    bad = next(v for v in ep.requests() if v.name == "count bool")
    body = b'{"error": "invalid_body"}'
    assert check_response(ep, 422, json_headers(body), body, bad) == []
    other = b'{"detail": [{"msg": "bad"}]}'
    assert checks(check_response(ep, 422, json_headers(other), other, bad)) == ["body"]
    assert "500" in check_response(ep, 500, json_headers(body), body, bad)[0].actual
    io = ENDPOINTS["io"]
    body = b'{"waited_ms": 50}'
    assert check_response(io, 200, json_headers(body), body, elapsed_s=0.051) == []
    assert checks(check_response(io, 200, json_headers(body), body, elapsed_s=0.002)) == ["timing"]


# --- a complete stdlib implementation of the contract, and broken ones ----------------


class ContractHandler(BaseHTTPRequestHandler):
    """Serves the whole contract (but /ws) correctly; subclasses break it one way each."""

    protocol_version = "HTTP/1.1"
    server_version = "ContractTest/1.0"
    db_path = ""  # set by the fixture
    routes = {
        "/plaintext": "GET", "/json": "GET", "/db": "GET", "/queries": "GET", "/fortunes": "GET",
        "/updates": "GET", "/io": "GET", "/cpu": "GET", "/echo": "POST", "/stream": "GET",
    }

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    # -- plumbing
    def dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        want = self.routes.get(url.path)
        if want is None:
            return self.reply(404, "text/plain", b"not found")
        if want != method:
            self.drain()
            return self.reply(405, "text/plain", b"method not allowed")
        getattr(self, "h_" + url.path.strip("/"))()

    def drain(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, value: object, status: int = 200) -> None:
        self.reply(status, "application/json", json.dumps(value).encode())

    def param(self, name: str, lo: int, hi: int) -> int:
        return clamp_param(self.query.get(name), lo, hi)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.db_path, timeout=15, isolation_level=None)

    def worlds(self, conn: sqlite3.Connection, n: int) -> list[dict[str, int]]:
        out = []
        for _ in range(n):
            wid, number = conn.execute("SELECT id, randomnumber FROM world WHERE id = ?",
                                       (random.randint(1, 10_000),)).fetchone()
            out.append({"id": wid, "randomNumber": number})
        return out

    def queries_n(self) -> int:
        return self.param("queries", 1, 500)

    # -- endpoints
    def h_plaintext(self) -> None:
        self.reply(200, "text/plain; charset=utf-8", b"Hello, World!")

    def h_json(self) -> None:
        self.reply_json({"message": "Hello, World!"})

    def h_db(self) -> None:
        with self.db() as conn:
            self.reply_json(self.worlds(conn, 1)[0])

    def h_queries(self) -> None:
        with self.db() as conn:
            self.reply_json(self.worlds(conn, self.queries_n()))

    def render_fortune(self, message: str) -> str:
        return html.escape(message)

    def h_fortunes(self) -> None:
        with self.db() as conn:
            rows = conn.execute("SELECT id, message FROM fortune").fetchall()
        rows.append((0, ADDITIONAL_FORTUNE))
        rows.sort(key=lambda r: r[1])
        cells = "".join(f"<tr><td>{i}</td><td>{self.render_fortune(m)}</td></tr>" for i, m in rows)
        page = ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                f"<tr><th>id</th><th>message</th></tr>{cells}</table></body></html>")
        self.reply(200, "text/html; charset=utf-8", page.encode())

    def write(self, conn: sqlite3.Connection, rows: list[dict[str, int]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE world SET randomnumber = ? WHERE id = ?",
                         [(r["randomNumber"], r["id"]) for r in rows])
        conn.execute("COMMIT")

    def h_updates(self) -> None:
        conn = self.db()
        try:
            rows = self.worlds(conn, self.queries_n())
            for r in rows:
                r["randomNumber"] = random.randint(1, 10_000)
            self.write(conn, rows)
        finally:
            conn.close()
        self.reply_json(rows)

    def h_io(self) -> None:
        ms = self.param("ms", 0, 10_000)
        time.sleep(ms / 1000)
        self.reply_json({"waited_ms": ms})

    def cpu_result(self, n: int) -> int:
        return cpu_work(n)

    def h_cpu(self) -> None:
        n = self.param("n", 1, 1_000_000)
        self.reply_json({"n": n, "result": self.cpu_result(n)})

    def reject(self, status: int, code: str) -> None:
        self.reply_json({"error": code}, status)

    def h_echo(self) -> None:
        if int(self.headers.get("Content-Length") or 0) > ECHO_MAX_BYTES:
            self.close_connection = True
            return self.reject(413, "too_large")
        raw = self.drain()
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            return self.reject(415, "unsupported_media_type")
        try:
            body = json.loads(raw)
        except ValueError:
            return self.reject(400, "malformed_json")
        ok = (type(body) is dict and body.keys() == {"name", "count", "tags"}
              and type(body["name"]) is str and 1 <= len(body["name"]) <= 100
              and type(body["count"]) is int and 0 <= body["count"] <= 1000
              and type(body["tags"]) is list and len(body["tags"]) <= 10
              and all(type(t) is str for t in body["tags"]))
        if not ok:
            return self.reject(422, "invalid_body")
        self.reply_json(body)

    def h_stream(self) -> None:
        size = self.param("kb", 1, 10_240) * 1024
        self.send_response(200)  # chunked: allowed for /stream
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, size, 16_384):
            chunk = b"x" * min(16_384, size - start)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


class UnescapedFortunes(ContractHandler):
    def render_fortune(self, message: str) -> str:
        return message


class UnclampedQueries(ContractHandler):
    def queries_n(self) -> int:
        try:
            return max(1, int(self.query.get("queries", "")))  # no upper bound
        except ValueError:
            return 1


class EchoCrashes(ContractHandler):
    def reject(self, status: int, code: str) -> None:
        if status == 422:  # as if validation raised
            return self.reply(500, "text/html", b"<h1>Internal Server Error</h1>")
        super().reject(status, code)


class DbWithoutContentLength(ContractHandler):
    def reply(self, status: int, ctype: str, body: bytes) -> None:
        if not self.path.startswith("/db"):
            return super().reply(status, ctype, body)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


class WrongCpu(ContractHandler):
    def cpu_result(self, n: int) -> int:
        return cpu_work(n) + 1


class UpdatesDoNotWrite(ContractHandler):
    def write(self, conn: sqlite3.Connection, rows: list[dict[str, int]]) -> None:
        pass


class NoDateHandler(ContractHandler):
    def send_response(self, code: int, message: str | None = None) -> None:
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())  # but no Date


class FrozenDateHandler(ContractHandler):
    def date_time_string(self, timestamp: float | None = None) -> str:
        return "Sun, 06 Nov 1994 08:49:37 GMT"


class ServerErrorHandler(ContractHandler):
    def reply(self, status: int, ctype: str, body: bytes) -> None:
        super().reply(500 if self.path in ("/plaintext", "/json") else status, ctype, body)


class WrongBodyHandler(ContractHandler):
    def h_plaintext(self) -> None:
        self.reply(200, "text/plain", b"Hello, world!")


class ChunkedJsonHandler(ContractHandler):
    def h_json(self) -> None:
        body = b'{"message": "Hello, World!"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))


class ErrorsAre500(ContractHandler):
    def dispatch(self, method: str) -> None:
        if urlsplit(self.path).path not in self.routes:
            return self.reply(500, "text/plain", b"boom")
        super().dispatch(method)


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
    d = result.to_dict()
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
