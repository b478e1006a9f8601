"""A complete stdlib implementation of the endpoint contract, backed by a seeded SQLite file,
and subclasses that break it one way each: the verifier's test subjects."""


from __future__ import annotations

import html
import json
import random
import sqlite3
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from apps.contract import (
    ADDITIONAL_FORTUNE,
    ECHO_MAX_BYTES,
    clamp_param,
    cpu_work,
)


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
