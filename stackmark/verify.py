"""Prove a running stack meets the endpoint contract before load is sent.

A benchmark of a stack that answers wrongly (a 500, a different body, chunked
instead of Content-Length, an /updates that writes nothing) measures the wrong
thing, so every run verifies first.

The checks are pure functions over one response (``check_response`` and the
per-kind checks it calls: rows, fortunes, echo, ...); ``verify_stack`` makes
the real requests (``http.client``, one fresh connection each; the
``websockets`` sync client for ``/ws``), reads the expected rows from the
database when it has its URL, and never raises for network or database
trouble: it reports it.  Every finding is a ``fail`` (that endpoint is not
measured) or a ``warn`` (measured, flagged).
"""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from apps.contract import (
    ADDITIONAL_FORTUNE,
    ENDPOINTS,
    WORLD_ROWS,
    Endpoint,
    Variant,
    cpu_work,
    for_interface,
    media_type,
)

_MAX = 80  # longest expected/actual string shown
DATE_WAIT_S = 1.1  # a second Date is fetched this long after the first one
_DATE_BUDGET_S = 1.2  # at most this much extra sleeping per stack for it
_SAFE_PROBES = ("static", "errors", "cpu", "db", "queries", "fortunes", "stream", "io")


@dataclass(frozen=True)
class Finding:
    """One way a response differs from the contract.

    ``path`` is the endpoint's path (``/queries``); ``request`` what was sent
    (``GET /queries?queries=501``) and, for a named variant, its name.
    """

    endpoint: str
    level: str  # "fail" | "warn"
    check: str  # "status", "content-type", "body", "header:server", "content-length", "date", ...
    expected: str
    actual: str
    path: str = ""
    request: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class VerifyResult:
    """All findings for one stack; ``status`` is the worst level seen."""

    status: str  # "ok" | "warn" | "fail"
    findings: list[Finding]
    endpoints: list[str] = field(default_factory=list)  # names checked

    @property
    def failed_endpoints(self) -> list[str]:
        """Names of endpoints with at least one "fail", in order, no repeats."""
        return list(dict.fromkeys(f.endpoint for f in self.findings if f.level == "fail"))

    @property
    def warned_endpoints(self) -> list[str]:
        """Names of endpoints with a "warn" and no "fail"."""
        failed = set(self.failed_endpoints)
        return list(dict.fromkeys(f.endpoint for f in self.findings if f.level == "warn" and f.endpoint not in failed))

    def endpoint_status(self, name: str) -> str:
        """"ok", "warn" or "fail" for one endpoint."""
        levels = {f.level for f in self.findings if f.endpoint == name}
        return "fail" if "fail" in levels else "warn" if "warn" in levels else "ok"

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "endpoints": list(self.endpoints),
            "failed_endpoints": self.failed_endpoints,
            "warned_endpoints": self.warned_endpoints,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class Expected:
    """What the database holds, when known: fortune rows and the world table."""

    fortunes: Sequence[tuple[int, str]] | None = None
    world: Mapping[int, int] | None = None


def _short(text: str, limit: int = _MAX) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_equal(a: object, b: object) -> bool:
    """JSON value equality that, unlike ``==``, keeps true != 1 and 1 != "1"."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)  # type: ignore[union-attr]
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_json_equal, a, b))  # type: ignore[arg-type]
    return a == b


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _is_int(value: object) -> bool:
    return type(value) is int  # not bool


def request_line(endpoint: Endpoint, variant: Variant | None = None) -> str:
    """What a request looks like in a report: ``/queries?queries=0``, ``POST /echo [count bool]``."""
    v = variant
    method = (v.method if v and v.method else None) or endpoint.method
    path = (v.path if v and v.path else None) or endpoint.path
    query = endpoint.query if v is None or v.query is None else v.query
    target = f"{path}?{query}" if query else path
    line = target if method == "GET" else f"{method} {target}"
    if v is not None and v.name != "default" and endpoint.kind in ("echo", "errors"):
        line += f" [{v.name}]"
    return line


# ---- pure checks ------------------------------------------------------------------

Problem = tuple[str, str, str, str]  # (level, check, expected, actual)


def _parse_json(body: bytes) -> tuple[object, Problem | None]:
    try:
        return json.loads(body), None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None, ("fail", "body", "JSON", "unparsable JSON: " + repr(body.decode("utf-8", errors="replace")))


def check_world(obj: object, world: Mapping[int, int] | None = None) -> str | None:
    """What is wrong with one ``{"id": .., "randomNumber": ..}`` row, or None."""
    if not isinstance(obj, dict) or obj.keys() != {"id", "randomNumber"}:
        return f"row {_dumps(obj)} is not {{id, randomNumber}}"
    wid, number = obj["id"], obj["randomNumber"]
    if not (_is_int(wid) and _is_int(number)):
        return f"row {_dumps(obj)}: id and randomNumber must be integers"
    if not (1 <= wid <= WORLD_ROWS and 1 <= number <= WORLD_ROWS):
        return f"row {_dumps(obj)}: out of 1..{WORLD_ROWS}"
    if world is not None and world.get(wid) != number:
        return f"row {_dumps(obj)}: database has randomNumber {world.get(wid)}"
    return None


def check_rows(value: object, count: int, world: Mapping[int, int] | None = None) -> list[Problem]:
    """A JSON list of exactly ``count`` valid world rows (values as in ``world`` when given)."""
    if not isinstance(value, list):
        return [("fail", "body", f"a JSON list of {count} rows", _short(_dumps(value)))]
    problems: list[Problem] = []
    if len(value) != count:
        problems.append(("fail", "rows", f"{count} rows", f"{len(value)} rows"))
    bad = [msg for msg in (check_world(row, world) for row in value) if msg]
    if bad:
        problems.append(("fail", "body", "valid world rows", f"{len(bad)} bad, first: {bad[0]}"))
    return problems


class _FortunesParser(HTMLParser):
    """Collects the doctype, the tag sequence, the title and the table's cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doctype: str | None = None
        self.tags: list[str] = []
        self.title = ""
        self.rows: list[list[str]] = []
        self.stray: list[str] = []
        self._cell: list[str] | None = None
        self._in_title = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)
        if tag in ("td", "th") and self._cell is not None:
            if self.rows:
                self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_title:
            self.title += data
        elif data.strip():
            self.stray.append(data.strip())


def expected_fortunes(stored: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """The rows /fortunes must show: the stored ones plus the additional one, sorted by message."""
    return sorted([*stored, (0, ADDITIONAL_FORTUNE)], key=lambda row: row[1])


def check_fortunes(body: bytes, stored: Iterable[tuple[int, str]]) -> list[Problem]:
    """Parse the page and compare it row by row with ``stored`` + the additional fortune."""
    want = expected_fortunes(stored)
    problems: list[Problem] = []
    if b"<script>" in body:
        problems.append(("fail", "escaping", "&lt;script&gt; (HTML-escaped)", "a raw <script> tag in the page"))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [*problems, ("fail", "body", "UTF-8", f"not UTF-8: {exc}")]
    parser = _FortunesParser()
    parser.feed(text)
    parser.close()
    if not parser.doctype or parser.doctype.strip().lower() != "doctype html":
        problems.append(("fail", "html", "<!DOCTYPE html>", repr(parser.doctype)))
    shape = ["html", "head", "title", "/title", "/head", "body", "table",
             "tr", "th", "/th", "th", "/th", "/tr",
             *(["tr", "td", "/td", "td", "/td", "/tr"] * len(parser.rows[1:])),
             "/table", "/body", "/html"]
    if parser.tags != shape:
        at = next((i for i, (a, b) in enumerate(zip(parser.tags, shape)) if a != b), min(len(shape), len(parser.tags)))
        problems.append(("fail", "html", f"TechEmpower's page: tag {at} is <{shape[at] if at < len(shape) else 'end'}>",
                         f"<{parser.tags[at] if at < len(parser.tags) else 'end'}>"))
    if parser.title != "Fortunes":
        problems.append(("fail", "html", "<title>Fortunes</title>", repr(parser.title)))
    if parser.stray:
        problems.append(("fail", "html", "no text outside cells", repr(parser.stray[0])))
    if not parser.rows or parser.rows[0] != ["id", "message"]:
        problems.append(("fail", "html", "header row id | message", repr(parser.rows[0] if parser.rows else None)))
    got_rows = parser.rows[1:]
    if len(got_rows) != len(want):
        problems.append(("fail", "rows", f"{len(want)} rows", f"{len(got_rows)} rows"))
    shown = 0
    for i, (got, (wid, msg)) in enumerate(zip(got_rows, want)):
        if got != [str(wid), msg]:
            if shown < 3:
                problems.append(("fail", "body", f"row {i + 1}: {wid} | {msg!r}", f"{' | '.join(map(repr, got))}"))
            shown += 1
    if shown > 3:
        problems.append(("fail", "body", "rows as expected", f"{shown - 3} more rows differ"))
    return problems


def check_updates_written(rows: object, before: Mapping[int, int], after: Mapping[int, int]) -> list[Problem]:
    """The rows /updates returned are what the database now holds, and it changed.

    ``before``/``after``: the world table read just before and after the request.
    The same id may come back twice (random picks): the database must hold one
    of the values returned for it.  With two or more distinct ids, at least one
    must have changed (a legitimate no-change is a 1-in-10^8 event).
    """
    if not isinstance(rows, list):
        return []  # the row checks report the shape
    returned: dict[int, set[int]] = {}
    for row in rows:
        if isinstance(row, dict) and _is_int(row.get("id")) and _is_int(row.get("randomNumber")):
            returned.setdefault(row["id"], set()).add(row["randomNumber"])
    problems: list[Problem] = []
    stale = [(wid, values, after.get(wid)) for wid, values in returned.items() if after.get(wid) not in values]
    if stale:
        wid, values, held = stale[0]
        problems.append(("fail", "database", f"world {wid} written as {sorted(values)[0]}",
                         f"database holds {held} ({len(stale)} of {len(returned)} rows not written)"))
    changed = {wid for wid in after if after[wid] != before.get(wid)}
    if not stale and len(returned) >= 2 and not changed & returned.keys():
        problems.append(("fail", "database", "the rows' randomnumber changed", "no row changed in the database"))
    others = sorted(changed - returned.keys())
    if others:
        problems.append(("fail", "database", "only the returned rows changed",
                         f"{len(others)} other rows changed, e.g. world {others[0]}"))
    return problems


def _check_body(endpoint: Endpoint, variant: Variant, body: bytes, expect: Expected,
                elapsed_s: float | None) -> list[Problem]:
    """The kind-specific part of check_response, for a response with the expected status."""
    kind = endpoint.kind
    if variant.error is not None:
        value, bad = _parse_json(body)
        if bad:
            return [bad]
        if not _json_equal(value, {"error": variant.error}):
            return [("fail", "body", _dumps({"error": variant.error}), _short(_dumps(value)))]
        return []
    if kind == "static":
        problems: list[Problem] = []
        if endpoint.body_text is not None:
            text = body.decode("utf-8", errors="replace")
            if text != endpoint.body_text:
                problems.append(("fail", "body", repr(endpoint.body_text), repr(text)))
        if endpoint.body_json is not None:
            value, bad = _parse_json(body)
            if bad:
                problems.append(("fail", "body", _dumps(endpoint.body_json), bad[3]))
            elif not _json_equal(value, endpoint.body_json):
                problems.append(("fail", "body", _dumps(endpoint.body_json), _dumps(value)))
        return problems
    if kind in ("db", "queries", "updates", "io", "cpu", "echo"):
        value, bad = _parse_json(body)
        if bad:
            return [bad]
        if kind == "db":
            msg = check_world(value, expect.world)
            return [("fail", "body", '{"id": 1..10000, "randomNumber": 1..10000}', msg)] if msg else []
        if kind == "queries":
            return check_rows(value, variant.value or 0, expect.world)
        if kind == "updates":
            return check_rows(value, variant.value or 0)  # the database check is separate
        if kind == "io":
            want = {"waited_ms": variant.value}
            problems = [] if _json_equal(value, want) else [("fail", "body", _dumps(want), _short(_dumps(value)))]
            if elapsed_s is not None and variant.value and elapsed_s * 1000 < variant.value:
                problems.append(("fail", "timing", f">= {variant.value} ms", f"answered in {elapsed_s * 1000:.1f} ms"))
            return problems
        if kind == "cpu":
            want = {"n": variant.value, "result": _cpu_oracle(variant.value or 0)}
            return [] if _json_equal(value, want) else [("fail", "body", _dumps(want), _short(_dumps(value)))]
        want = variant.echo
        return [] if _json_equal(value, want) else [("fail", "body", _short(_dumps(want)), _short(_dumps(value)))]
    if kind == "fortunes":
        stored = expect.fortunes if expect.fortunes is not None else _default_fortunes()
        if stored is None:
            return [("warn", "body", "rows compared", "not checked: stackmark.database.FORTUNES unavailable")]
        return check_fortunes(body, stored)
    if kind == "stream":
        size = (variant.value or 0) * 1024
        if len(body) != size:
            return [("fail", "body", f"{size} bytes", f"{len(body)} bytes")]
        if body.strip(b"x"):
            return [("fail", "body", "only b'x'", repr(body.replace(b"x", b"")[:20]))]
        return []
    return []  # errors, ws: status only / checked elsewhere


@lru_cache(maxsize=16)
def _cpu_oracle(n: int) -> int:
    return cpu_work(n)


def _default_fortunes() -> Sequence[tuple[int, str]] | None:
    try:
        from stackmark.database import FORTUNES
    except ImportError:
        return None
    return FORTUNES


def check_response(
    endpoint: Endpoint,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    variant: Variant | None = None,
    *,
    expect: Expected | None = None,
    elapsed_s: float | None = None,
) -> list[Finding]:
    """Compare one response with ``endpoint`` (and ``variant``: default request if None).

    Header names are case-insensitive.  Content-Type is compared by media type
    only, text bodies exactly, JSON bodies as values; the body checks depend
    on the endpoint's ``kind``.  A wrong status skips the body checks (they
    would only repeat it).  Returns the differences (empty = ok).
    """
    variant = variant or endpoint.requests()[0]
    expect = expect or Expected()
    where = request_line(endpoint, variant)
    found: list[Finding] = []

    def add(level: str, check: str, expected: str, actual: str) -> None:
        found.append(Finding(endpoint.name, level, check, _short(expected), _short(actual), endpoint.path, where))

    hdrs = {k.lower(): v for k, v in headers.items()}
    status_ok = status == variant.status
    if not status_ok:
        add("fail", "status", str(variant.status), str(status) + (" (server error)" if status >= 500 else ""))

    if status_ok:
        want_type = "application/json" if variant.error is not None else endpoint.content_type
        ctype = hdrs.get("content-type")
        if want_type and ctype is None:
            add("fail", "content-type", want_type, "(missing)")
        elif want_type and media_type(ctype or "") != media_type(want_type):
            add("fail", "content-type", want_type, ctype or "")
        elif endpoint.kind == "fortunes" and ctype is not None:
            charset = ctype.lower().partition("charset=")[2].strip().strip('"')
            if charset and charset != "utf-8":
                add("fail", "content-type", "text/html; charset=utf-8", ctype)
            elif not charset:
                add("warn", "content-type", "text/html; charset=utf-8", ctype)

    chunked = "chunked" in hdrs.get("transfer-encoding", "").lower()
    must_length = "content-length" in endpoint.required_headers
    for name in endpoint.required_headers:
        if name == "content-length" and chunked:
            # Chunked framing instead of Content-Length: one framing finding.
            add("fail", "content-length", f"Content-Length: {len(body)}", "Transfer-Encoding: chunked")
        elif name not in hdrs:
            add("fail", f"header:{name}", "present", "(missing)")
    if not must_length and endpoint.kind != "ws" and not chunked and "content-length" not in hdrs:
        add("fail", "content-length", "Content-Length or chunked framing", "neither (body ends at connection close)")

    declared = hdrs.get("content-length")
    if declared is not None and not chunked and (variant.method or endpoint.method) != "HEAD":
        try:
            ok = int(declared.strip()) == len(body)
        except ValueError:
            ok = False
        if not ok:
            add("fail", "content-length", f"{len(body)} (body length)", declared)

    if status_ok:
        for level, check, expected, actual in _check_body(endpoint, variant, body, expect, elapsed_s):
            add(level, check, expected, actual)
    return found


# ---- talking to the stack -----------------------------------------------------------

_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


def _require_loopback(host: str) -> str:
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


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float
    at: float  # time.monotonic() when the response headers arrived


def _fetch(host: str, port: int, ep: Endpoint, variant: Variant, timeout: float) -> _Reply:
    """One request on a fresh connection."""
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
        return _Reply(resp.status, merged, body, elapsed, at)
    finally:
        conn.close()


def _check_ws(host: str, port: int, ep: Endpoint, timeout: float) -> list[Finding]:
    """Echo of one text and one binary message over a WebSocket, bounded by ``timeout``."""
    where = f"ws {ep.path}"

    def fail(check: str, expected: str, actual: str) -> list[Finding]:
        return [Finding(ep.name, "fail", check, _short(expected), _short(actual), ep.path, where)]

    try:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect
    except ImportError as exc:
        return fail("websocket", "the websockets package", f"not installed: {exc}")
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
        return fail("websocket", "an echoing WebSocket", type(exc).__name__ + (f": {exc}" if str(exc) else ""))
    found: list[Finding] = []
    if got_text != text:
        found += fail("websocket", f"text echo {text!r}", repr(got_text))
    if got_data != data:
        found += fail("websocket", "binary echo of 256 bytes", _short(repr(got_data)))
    return found


class _Database:
    """Reads the expected rows for the verifier; one connection, closed at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None

    def _connection(self) -> Any:
        if self.conn is None:
            from stackmark.database import connect

            self.conn = connect(self.url)
            if not hasattr(self.conn, "isolation_level"):  # psycopg: no idle transaction
                self.conn.autocommit = True
        return self.conn

    def world(self) -> dict[int, int]:
        return dict(self._connection().execute("SELECT id, randomnumber FROM world").fetchall())

    def fortunes(self) -> list[tuple[int, str]]:
        return [tuple(row) for row in self._connection().execute("SELECT id, message FROM fortune").fetchall()]

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
            self.conn = None


def _resolve(endpoints: Iterable[Endpoint | str] | None, interface: str, database_url: str | None) -> list[Endpoint]:
    if endpoints is None:
        # Without a database URL the stack may well have no database (e.g. started
        # without DATABASE_URL): by default only what needs none is checked.
        return [e for e in for_interface(interface) if database_url or not e.database]
    return [ENDPOINTS[e] if isinstance(e, str) else e for e in endpoints]


def _http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


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
    host = host if allow_remote else _require_loopback(host)
    eps = _resolve(endpoints, interface, database_url)
    findings: list[Finding] = []
    db = _Database(database_url) if database_url else None
    world: dict[int, int] | None = None
    fortunes: list[tuple[int, str]] | None = None
    db_broken = False
    timeouts = 0
    probe = next((e for e in eps if e.kind == "static"), None) or next(
        (e for e in eps if e.method == "GET" and e.kind in _SAFE_PROBES), None)
    first_date: tuple[float, str] | None = None

    def db_read(what: str, reader: Any) -> Any:
        nonlocal db_broken
        if db is None or db_broken:
            return None
        try:
            return reader()
        except Exception as exc:  # noqa: BLE001 - any driver error is a finding, not a crash
            db_broken = True
            findings.append(Finding(ep.name, "warn", "database", f"{what} read from the database",
                                    _short(f"{type(exc).__name__}: {exc}"), ep.path, "database"))
            return None

    try:
        for ep in eps:
            if timeouts >= 2:
                findings.append(Finding(ep.name, "fail", "connection", "HTTP response",
                                        "not checked: the stack stopped answering (2 timeouts)", ep.path))
                continue
            if ep.kind == "ws":
                findings.extend(_check_ws(host, port, ep, timeout))
                continue
            if ep.kind in ("db", "queries", "updates") and world is None:
                world = db_read("world rows", db.world if db else None)
            if ep.kind == "fortunes" and fortunes is None:
                fortunes = db_read("fortune rows", db.fortunes if db else None)
            if ep.kind == "updates" and db is None:
                findings.append(Finding(ep.name, "warn", "database", "rows written",
                                        "not checked: no database_url given", ep.path, request_line(ep)))
            for variant in ep.requests():
                try:
                    reply = _fetch(host, port, ep, variant, timeout)
                except (OSError, http.client.HTTPException) as exc:
                    actual = type(exc).__name__ + (f": {exc}" if str(exc) else "")
                    findings.append(Finding(ep.name, "fail", "connection", "HTTP response", _short(actual),
                                            ep.path, request_line(ep, variant)))
                    if isinstance(exc, TimeoutError):
                        timeouts += 1
                    if isinstance(exc, (TimeoutError, ConnectionRefusedError)):
                        break  # the rest of this endpoint would only repeat it
                    continue
                if ep is probe and first_date is None and "date" in reply.headers:
                    first_date = (reply.at, reply.headers["date"])
                expect = Expected(fortunes=fortunes, world=world)
                findings.extend(check_response(ep, reply.status, reply.headers, reply.body, variant,
                                               expect=expect, elapsed_s=reply.elapsed_s))
                if ep.kind == "updates" and world is not None and reply.status == 200:
                    after = db_read("world rows", db.world if db else None)
                    if after is not None:
                        try:
                            rows = json.loads(reply.body)
                        except ValueError:
                            rows = None
                        for level, check, expected, actual in check_updates_written(rows, world, after):
                            findings.append(Finding(ep.name, level, check, _short(expected), _short(actual),
                                                    ep.path, request_line(ep, variant)))
                        world = after
        if date_wait_s > 0 and probe is not None and first_date is not None and timeouts < 2:
            findings.extend(_check_date_changes(host, port, probe, timeout, first_date, date_wait_s))
    finally:
        if db is not None:
            db.close()
    levels = {f.level for f in findings}
    overall = "fail" if "fail" in levels else "warn" if "warn" in levels else "ok"
    return VerifyResult(overall, findings, [ep.name for ep in eps])


def _check_date_changes(host: str, port: int, ep: Endpoint, timeout: float,
                        first: tuple[float, str], wait_s: float) -> list[Finding]:
    """Fetch ``ep`` again >1 s after ``first``; its Date must be valid and different."""
    at, date = first
    where = request_line(ep)

    def warn(expected: str, actual: str) -> list[Finding]:
        return [Finding(ep.name, "warn", "date", _short(expected), _short(actual), ep.path, where)]

    if _http_date(date) is None:
        return warn("an HTTP date (RFC 9110)", repr(date))
    # Servers that cache their Date (uvicorn refreshes it on a 1 s tick, later
    # when its loop was busy) get polled every 0.1 s within the sleep budget.
    start = time.monotonic()
    give_up = start + _DATE_BUDGET_S  # bounded: never more than the budget past this point
    next_try = max(at + wait_s, start)
    while True:
        time.sleep(max(0.0, next_try - time.monotonic()))
        try:
            reply = _fetch(host, port, ep, ep.requests()[0], timeout)
        except (OSError, http.client.HTTPException):
            return []  # the request itself was already checked; nothing to add
        if reply.headers.get("date", "") != date:
            return []
        next_try = time.monotonic() + 0.1
        if next_try > give_up:
            break
    return warn(f"a Date that changes after {wait_s:.1f} s", f"still {date!r}")


def format_findings(stack_id: str, result: VerifyResult) -> str:
    """Readable report: a header line, then per endpoint what was sent, expected and got."""
    if not result.findings:
        return f"{stack_id}: ok ({len(result.endpoints)} endpoints match the contract)"
    parts = []
    if result.failed_endpoints:
        parts.append("failed: " + ", ".join(result.failed_endpoints))
    if result.warned_endpoints:
        parts.append("warned: " + ", ".join(result.warned_endpoints))
    lines = [f"{stack_id}: {result.status.upper()} ({len(result.findings)} findings; {'; '.join(parts)})"]
    by_endpoint: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_endpoint.setdefault(f.endpoint, []).append(f)
    for name, items in by_endpoint.items():
        tag = "" if result.endpoint_status(name) == "fail" else " [warn]"
        lines.append(f"  {name}{tag}")
        # The same difference on several requests (e.g. every clamping case): one line.
        groups: dict[tuple[str, str, str, str], list[Finding]] = {}
        for f in items:
            groups.setdefault((f.level, f.check, f.expected, f.actual), []).append(f)
        for (level, check, expected, actual), same in groups.items():
            where = same[0].request or same[0].path or same[0].endpoint
            more = f"  (and {len(same) - 1} more requests)" if len(same) > 1 else ""
            mark = "" if level == "fail" else f" [{level}]"
            lines.append(f"    {where}  {check}{mark}: expected {expected}  got {actual}{more}")
    return "\n".join(lines)
