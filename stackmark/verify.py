"""Prove a running stack meets the endpoint contract before load is sent.

A benchmark of a stack that answers wrongly (a 500, a different body, chunked
instead of Content-Length) measures the wrong thing, so every run verifies
first.  ``check_response`` is a pure function over one response;
``verify_stack`` makes real HTTP/1.1 requests with ``http.client`` and never
raises for network trouble, it reports it.  Stdlib only.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from apps.contract import ENDPOINTS, Endpoint, media_type

_MAX = 80  # longest expected/actual string shown


@dataclass(frozen=True)
class Finding:
    """One way a response differs from the contract."""

    endpoint: str
    level: str  # "fail" | "warn"
    check: str  # "status", "content-type", "body", "header:server", "content-length", "connection"
    expected: str
    actual: str
    path: str = ""

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

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "endpoints": list(self.endpoints),
            "failed_endpoints": self.failed_endpoints,
            "findings": [f.to_dict() for f in self.findings],
        }


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


def check_response(
    endpoint: Endpoint, status: int, headers: Mapping[str, str], body: bytes
) -> list[Finding]:
    """Compare one response with ``endpoint``; return the differences (empty = ok).

    Header names are case-insensitive.  Content-Type is compared by media type
    only, text bodies exactly, JSON bodies as values.
    """
    found: list[Finding] = []

    def fail(check: str, expected: str, actual: str) -> None:
        found.append(
            Finding(endpoint.name, "fail", check, _short(expected), _short(actual), endpoint.path)
        )

    hdrs = {k.lower(): v for k, v in headers.items()}

    if status != endpoint.status:
        fail("status", str(endpoint.status), str(status))

    ctype = hdrs.get("content-type")
    if ctype is None:
        fail("content-type", endpoint.content_type, "(missing)")
    elif media_type(ctype) != media_type(endpoint.content_type):
        fail("content-type", endpoint.content_type, ctype)

    if endpoint.body_text is not None:
        text = body.decode("utf-8", errors="replace")
        if text != endpoint.body_text:
            fail("body", repr(endpoint.body_text), repr(text))
    if endpoint.body_json is not None:
        want = _dumps(endpoint.body_json)
        try:
            got = json.loads(body)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            fail("body", want, "unparsable JSON: " + repr(body.decode("utf-8", errors="replace")))
        else:
            if not _json_equal(got, endpoint.body_json):
                fail("body", want, _dumps(got))

    chunked = "chunked" in hdrs.get("transfer-encoding", "").lower()
    for name in endpoint.required_headers:
        if name == "content-length" and chunked:
            # Chunked framing instead of Content-Length: one framing finding.
            fail("content-length", f"Content-Length: {len(body)}", "Transfer-Encoding: chunked")
        elif name not in hdrs:
            fail(f"header:{name}", "present", "(missing)")

    declared = hdrs.get("content-length")
    if declared is not None and not chunked and endpoint.method != "HEAD":
        try:
            ok = int(declared.strip()) == len(body)
        except ValueError:
            ok = False
        if not ok:
            fail("content-length", f"{len(body)} (body length)", declared)

    return found


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


def _fetch(host: str, port: int, ep: Endpoint, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection; returns (status, headers, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(ep.method, ep.path, body=ep.request_body, headers={"Accept": "*/*"})
        resp = conn.getresponse()
        body = resp.read()
        headers: dict[str, str] = {}
        for name, value in resp.getheaders():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return resp.status, headers, body
    finally:
        conn.close()


def verify_stack(
    host: str,
    port: int,
    endpoints: Iterable[Endpoint] | None = None,
    timeout: float = 5.0,
) -> VerifyResult:
    """Request every endpoint from host:port and check it against the contract.

    Raises ValueError only for a non-loopback host; refused connections,
    timeouts and protocol errors become "connection" findings.
    """
    host = _require_loopback(host)
    eps = list(ENDPOINTS.values() if endpoints is None else endpoints)
    findings: list[Finding] = []
    for ep in eps:
        try:
            status, headers, body = _fetch(host, port, ep, timeout)
        except (OSError, http.client.HTTPException) as exc:
            actual = type(exc).__name__ + (f": {exc}" if str(exc) else "")
            findings.append(
                Finding(ep.name, "fail", "connection", "HTTP response", _short(actual), ep.path)
            )
            continue
        findings.extend(check_response(ep, status, headers, body))
    levels = {f.level for f in findings}
    overall = "fail" if "fail" in levels else "warn" if "warn" in levels else "ok"
    return VerifyResult(overall, findings, [ep.name for ep in eps])


def format_findings(stack_id: str, result: VerifyResult) -> str:
    """Readable report: one header line, then one line per finding."""
    if not result.findings:
        return f"{stack_id}: ok ({len(result.endpoints)} endpoints match the contract)"
    lines = [f"{stack_id}: {result.status.upper()} ({len(result.findings)} findings)"]
    for f in result.findings:
        where = f.path or f.endpoint
        tag = "" if f.level == "fail" else f" [{f.level}]"
        lines.append(f"  {where}  {f.check}{tag}: expected {f.expected}  got {f.actual}")
    return "\n".join(lines)
