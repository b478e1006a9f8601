"""The endpoint contract every app under test must meet.

Benchmark numbers are only comparable if every stack answers the same
requests with the same responses.  This module states those responses as
plain data, so the verifier (``stackmark.verify``) can check a running stack
before load is sent.  The apps themselves never import it: each one
hard-codes its responses the way its framework's docs would, and this
contract is the independent check that they agree.

Each :class:`Endpoint` is one route: its default request (``path`` plus
``query``, the request a benchmark scenario sends) and the response it must
get; ``variants`` are further requests to the same route that pin down edge
cases (clamping of ``?queries=``, every bad-input case of ``POST /echo``...).
``kind`` names the family of body check the verifier applies.  Adding a
plain endpoint is adding an ``Endpoint`` to ``ENDPOINTS``; a new ``kind``
needs a check in ``stackmark.verify``.  Stdlib only.

The database behind ``db``, ``queries``, ``fortunes`` and ``updates`` is
TechEmpower's: ``world(id, randomnumber)`` with 10,000 rows and
``fortune(id, message)`` with 12 rows, named by ``DATABASE_URL`` in each
server's environment (``stackmark.database`` creates and seeds it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

#: Headers every response must carry.  Server and Date show a real HTTP
#: server answered; Content-Length keeps framing (and bytes on the wire)
#: the same across stacks instead of some of them chunking.
REQUIRED_HEADERS: tuple[str, ...] = ("server", "date", "content-length")

#: For responses that may stream: Content-Length *or* chunked framing.
STREAM_HEADERS: tuple[str, ...] = ("server", "date")

# ---- numbers the apps hard-code too -----------------------------------------

QUERIES_MIN, QUERIES_MAX = 1, 500  # /queries and /updates ?queries=N
IO_MS_MIN, IO_MS_MAX = 0, 10_000  # /io?ms=N
CPU_N_MIN, CPU_N_MAX = 1, 1_000_000  # /cpu?n=N
STREAM_KB_MIN, STREAM_KB_MAX = 1, 10_240  # /stream?kb=N
STREAM_CHUNK = 16 * 1024  # /stream sends b"x" in chunks of this size (the last may be shorter)
ECHO_MAX_BYTES = 64 * 1024  # larger /echo bodies get 413
WORLD_ROWS = 10_000  # ids 1..10000, randomnumber 1..10000
ADDITIONAL_FORTUNE = "Additional fortune added at request time."  # id 0, added per request

FORTUNES_HTML_HEAD = (
    "<!DOCTYPE html><html><head><title>Fortunes</title></head><body>"
    "<table><tr><th>id</th><th>message</th></tr>"
)
FORTUNES_HTML_ROW = "<tr><td>{id}</td><td>{message}</td></tr>"
FORTUNES_HTML_TAIL = "</table></body></html>"


def clamp_param(raw: str | None, lo: int, hi: int) -> int:
    """The rule every numeric query parameter follows.

    Missing, empty or not an integer -> ``lo``; otherwise clamped to lo..hi.
    (TechEmpower's rule for ``?queries=``, applied to ms, n and kb too.)
    """
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return lo
    return max(lo, min(hi, value))


def cpu_work(n: int) -> int:
    """The oracle of ``GET /cpu?n=N``: a 32-bit LCG folded with the loop index.

    Every app implements these same few lines itself (it must not import this
    module); the verifier compares their result with this one.
    """
    x = 0
    for i in range(n):
        x = (x * 1664525 + 1013904223 + i) & 0xFFFFFFFF
    return x


# ---- the data model ------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One more request to an endpoint and what its response must be.

    ``query`` replaces the endpoint's query string; ``path``/``method``
    override the endpoint's (``errors`` uses that); ``body`` and
    ``content_type`` are the request's.  ``status`` is the expected status;
    ``error`` the expected ``{"error": ...}`` code of a rejected request;
    ``value`` the parameter value after clamping (rows for queries/updates,
    ms for io, n for cpu, KiB for stream); ``echo`` the JSON value /echo must
    return (for 200s).
    """

    name: str
    query: str | None = None
    path: str | None = None
    method: str | None = None
    body: bytes | None = None
    content_type: str | None = None
    status: int = 200
    error: str | None = None
    value: int | None = None
    echo: object | None = None


@dataclass(frozen=True)
class Endpoint:
    """One route, its default request and the response it must get.

    ``content_type`` is a media type only; parameters such as ``charset``
    are ignored when comparing (an empty string: any).  ``body_text`` is
    compared exactly after decoding, ``body_json`` as a JSON value (spacing
    and trailing newlines differ between frameworks).  Leave both ``None``
    for bodies that vary (e.g. random db rows): ``kind`` selects their check.
    ``request_body`` (with ``request_content_type``) is sent as-is (POST
    /echo).  ``required_headers`` lists headers that must be present;
    without ``content-length`` in it, Content-Length *or* chunked framing is
    accepted.  ``query`` is the default query string (no ``?``): the request
    a benchmark scenario should send, see :attr:`target`.  ``value`` is what
    that default request's parameter means after clamping.  ``interfaces``:
    which kinds of app serve it; ``database``: needs ``DATABASE_URL``.
    """

    name: str
    path: str
    method: str = "GET"
    status: int = 200
    content_type: str = "text/plain"
    body_text: str | None = None
    body_json: object | None = None
    request_body: bytes | None = None
    required_headers: tuple[str, ...] = REQUIRED_HEADERS
    kind: str = "static"
    query: str = ""
    request_content_type: str | None = None
    value: int | None = None
    variants: tuple[Variant, ...] = ()
    interfaces: tuple[str, ...] = ("wsgi", "asgi")
    database: bool = False
    description: str = ""

    @property
    def target(self) -> str:
        """Path plus default query string: ``/queries?queries=20``."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def requests(self) -> list[Variant]:
        """The default request (as a Variant named "default") then every variant."""
        default = Variant(
            name="default",
            query=self.query,
            body=self.request_body,
            content_type=self.request_content_type,
            status=self.status,
            value=self.value,
            echo=self.body_json if self.kind == "echo" else None,
        )
        return [default, *self.variants]


def _clamp_variants(param: str, lo: int, hi: int, good: int, over: int | None) -> tuple[Variant, ...]:
    """missing / empty / 0 / negative / non-numeric -> lo; over the top -> hi; one in range."""
    cases = [
        Variant(f"{param} missing", query="", value=lo),
        Variant(f"{param}=", query=f"{param}=", value=lo),
        Variant(f"{param}=0", query=f"{param}=0", value=max(lo, 0)),
        Variant(f"{param}=-5", query=f"{param}=-5", value=lo),
        Variant(f"{param}=abc", query=f"{param}=abc", value=lo),
        Variant(f"{param}={good}", query=f"{param}={good}", value=good),
    ]
    if over is not None:
        cases.append(Variant(f"{param}={over}", query=f"{param}={over}", value=hi))
    return tuple(cases)


ECHO_GOOD: dict[str, object] = {"name": "stackmark", "count": 3, "tags": ["bench", "web"]}
_J = "application/json"


def _echo_bad(name: str, body: bytes, status: int, error: str, ctype: str | None = _J) -> Variant:
    return Variant(name, body=body, content_type=ctype, status=status, error=error)


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _padded(value: object, size: int) -> bytes:
    """``value`` as JSON, padded with spaces inside the object to exactly ``size`` bytes."""
    raw = _json(value)
    return raw[:-1] + b" " * (size - len(raw)) + raw[-1:]


#: Request variants of POST /echo: (name, body, content type, status, error).
ECHO_VARIANTS: tuple[Variant, ...] = (
    # accepted: boundaries and content-type parameters
    Variant("minimal", body=_json({"name": "x", "count": 0, "tags": []}), content_type=_J,
            echo={"name": "x", "count": 0, "tags": []}),
    Variant("limits", body=_json({"name": "\u00e9" * 100, "count": 1000, "tags": ["t"] * 10}),
            content_type="application/json; charset=utf-8",
            echo={"name": "\u00e9" * 100, "count": 1000, "tags": ["t"] * 10}),
    # 400: not JSON at all
    _echo_bad("truncated json", b'{"name": "x", "count": ', 400, "malformed_json"),
    _echo_bad("empty body", b"", 400, "malformed_json"),
    _echo_bad("not utf-8", b'{"name": "\xff\xfe", "count": 1, "tags": []}', 400, "malformed_json"),
    # 422: JSON, but not the schema
    _echo_bad("array", b"[1, 2]", 422, "invalid_body"),
    _echo_bad("null", b"null", 422, "invalid_body"),
    _echo_bad("missing tags", _json({"name": "x", "count": 1}), 422, "invalid_body"),
    _echo_bad("extra key", _json({**ECHO_GOOD, "admin": True}), 422, "invalid_body"),
    _echo_bad("name empty", _json({**ECHO_GOOD, "name": ""}), 422, "invalid_body"),
    _echo_bad("name 101 chars", _json({**ECHO_GOOD, "name": "n" * 101}), 422, "invalid_body"),
    _echo_bad("name number", _json({**ECHO_GOOD, "name": 7}), 422, "invalid_body"),
    _echo_bad("count string", _json({**ECHO_GOOD, "count": "3"}), 422, "invalid_body"),
    _echo_bad("count bool", _json({**ECHO_GOOD, "count": True}), 422, "invalid_body"),
    _echo_bad("count float", _json({**ECHO_GOOD, "count": 3.0}), 422, "invalid_body"),
    _echo_bad("count 1001", _json({**ECHO_GOOD, "count": 1001}), 422, "invalid_body"),
    _echo_bad("count -1", _json({**ECHO_GOOD, "count": -1}), 422, "invalid_body"),
    _echo_bad("tags string", _json({**ECHO_GOOD, "tags": "bench"}), 422, "invalid_body"),
    _echo_bad("tags 11", _json({**ECHO_GOOD, "tags": ["t"] * 11}), 422, "invalid_body"),
    _echo_bad("tag number", _json({**ECHO_GOOD, "tags": ["t", 1]}), 422, "invalid_body"),
    # 413: decided by Content-Length (64 KiB + 1 byte of otherwise valid JSON)
    _echo_bad("65537 bytes", _padded(ECHO_GOOD, ECHO_MAX_BYTES + 1), 413, "too_large"),
    # 415: not application/json
    _echo_bad("text/plain", _json(ECHO_GOOD), 415, "unsupported_media_type", "text/plain"),
    _echo_bad("form", b"name=x&count=1", 415, "unsupported_media_type", "application/x-www-form-urlencoded"),
    _echo_bad("no content type", _json(ECHO_GOOD), 415, "unsupported_media_type", None),
)


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint(
            name="plaintext",
            path="/plaintext",
            content_type="text/plain",
            body_text="Hello, World!",
            description="TechEmpower plaintext: 13 bytes",
        ),
        Endpoint(
            name="json",
            path="/json",
            content_type="application/json",
            body_json={"message": "Hello, World!"},
            description="TechEmpower JSON serialization",
        ),
        Endpoint(
            name="db",
            path="/db",
            content_type="application/json",
            kind="db",
            database=True,
            description='one random world row: {"id": .., "randomNumber": ..}',
        ),
        Endpoint(
            name="queries",
            path="/queries",
            query="queries=20",
            value=20,
            content_type="application/json",
            kind="queries",
            database=True,
            variants=_clamp_variants("queries", QUERIES_MIN, QUERIES_MAX, 3, 501),
            description="N random world rows, one query each; N clamped to 1..500",
        ),
        Endpoint(
            name="fortunes",
            path="/fortunes",
            content_type="text/html",
            kind="fortunes",
            database=True,
            description="all fortune rows + one added at request time, sorted, as an escaped HTML table",
        ),
        Endpoint(
            name="updates",
            path="/updates",
            query="queries=20",
            value=20,
            content_type="application/json",
            kind="updates",
            database=True,
            variants=_clamp_variants("queries", QUERIES_MIN, QUERIES_MAX, 3, 501),
            description="N rows read, each given a new randomNumber, written back in one transaction",
        ),
        Endpoint(
            name="io",
            path="/io",
            query="ms=50",
            value=50,
            content_type="application/json",
            kind="io",
            # no upper-clamp variant: it would wait 10 s
            variants=(
                Variant("ms missing", query="", value=0),
                Variant("ms=abc", query="ms=abc", value=0),
                Variant("ms=-5", query="ms=-5", value=0),
                Variant("ms=1", query="ms=1", value=1),
            ),
            description="waits N ms like an upstream call: awaited in ASGI apps, blocking in WSGI apps",
        ),
        Endpoint(
            name="cpu",
            path="/cpu",
            query="n=10000",
            value=10_000,
            content_type="application/json",
            kind="cpu",
            variants=_clamp_variants("n", CPU_N_MIN, CPU_N_MAX, 777, 2_000_000),
            description="deterministic CPU work (contract.cpu_work), n clamped to 1..1,000,000",
        ),
        Endpoint(
            name="echo",
            path="/echo",
            method="POST",
            content_type="application/json",
            kind="echo",
            body_json=ECHO_GOOD,
            request_body=_json(ECHO_GOOD),
            request_content_type=_J,
            variants=ECHO_VARIANTS,
            description="a validated JSON body returned as-is; bad input gets 400/413/415/422",
        ),
        Endpoint(
            name="stream",
            path="/stream",
            query="kb=64",
            value=64,
            content_type="application/octet-stream",
            kind="stream",
            required_headers=STREAM_HEADERS,
            variants=_clamp_variants("kb", STREAM_KB_MIN, STREAM_KB_MAX, 3, 20_000),
            description="N KiB of b'x' streamed in 16 KiB chunks (Content-Length or chunked)",
        ),
        Endpoint(
            name="ws",
            path="/ws",
            content_type="",
            kind="ws",
            required_headers=(),
            interfaces=("asgi",),
            description="WebSocket echo of text and binary messages (ASGI apps only)",
        ),
        Endpoint(
            name="errors",
            path="/no-such-path",
            status=404,
            content_type="",
            kind="errors",
            required_headers=STREAM_HEADERS,
            variants=(
                Variant("POST /plaintext", path="/plaintext", method="POST", body=b"", status=405),
                Variant("DELETE /json", path="/json", method="DELETE", status=405),
            ),
            description="unknown paths get 404, wrong methods 405, never a 500",
        ),
    )
}

#: What the framework-free apps (apps/bare_wsgi, apps/bare_asgi) serve.
BARE_ENDPOINTS: tuple[str, ...] = ("plaintext", "json", "io", "cpu", "errors")


def media_type(content_type: str) -> str:
    """``"text/plain; charset=utf-8"`` -> ``"text/plain"`` (lower-cased)."""
    return content_type.split(";", 1)[0].strip().lower()


def select(names: list[str] | tuple[str, ...] | None = None) -> list[Endpoint]:
    """Endpoints by name, in the given order; all of them if ``names`` is None.

    Raises KeyError naming the unknown endpoint, so a typo in a scenario
    fails loudly instead of silently checking less.
    """
    if names is None:
        return list(ENDPOINTS.values())
    unknown = [n for n in names if n not in ENDPOINTS]
    if unknown:
        raise KeyError(f"unknown endpoint(s): {', '.join(unknown)}; known: {', '.join(ENDPOINTS)}")
    return [ENDPOINTS[n] for n in names]


def for_interface(interface: str, names: list[str] | tuple[str, ...] | None = None) -> list[Endpoint]:
    """The endpoints an app of ``interface`` ("wsgi"/"asgi") serves, optionally narrowed by name.

    ``for_interface("wsgi")`` is every endpoint but ``ws``;
    ``for_interface("asgi", BARE_ENDPOINTS)`` is what the bare ASGI app serves.
    """
    if interface not in ("wsgi", "asgi"):
        raise ValueError(f"interface must be 'wsgi' or 'asgi', not {interface!r}")
    return [e for e in select(names) if interface in e.interfaces]


def endpoint_for(target: str) -> Endpoint:
    """The endpoint a request target belongs to: ``"/queries?queries=5"`` -> queries.

    For scenarios that name a path with a query string.  KeyError if none.
    """
    path = target.split("?", 1)[0]
    for e in ENDPOINTS.values():
        if e.path == path:
            return e
    raise KeyError(f"no contract endpoint has path {path!r}; known: {', '.join(e.path for e in ENDPOINTS.values())}")
