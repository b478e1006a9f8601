"""Responses that meet the contract, for the verify tests."""

from __future__ import annotations

from apps.contract import (
    ENDPOINTS,
    Endpoint,
    for_interface,
)
from stackmark.verify import (
    Finding,
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
