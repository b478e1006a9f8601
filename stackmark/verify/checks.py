"""The pure check of one HTTP response against the contract: status, headers, framing, body.

The body part depends on the endpoint's kind and is looked up in
``bodies.BODY_CHECKS``; everything here holds for every endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping

from apps.contract import Endpoint, Variant, media_type

from .bodies import Exchange, Expected, check_body
from .findings import Finding, placed, problem, request_line


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
    hdrs = {k.lower(): v for k, v in headers.items()}
    status_ok = status == variant.status
    found: list[Finding] = []
    if status_ok:
        found += _check_content_type(endpoint, variant, hdrs.get("content-type"))
    else:
        found.append(problem("status", str(variant.status), str(status) + (" (server error)" if status >= 500 else "")))
    found += _check_framing(endpoint, variant, hdrs, body)
    if status_ok:
        found += check_body(Exchange(endpoint, variant, body, expect or Expected(), elapsed_s))
    return placed(found, endpoint, request_line(endpoint, variant))


def _check_content_type(endpoint: Endpoint, variant: Variant, ctype: str | None) -> list[Finding]:
    """The media type (JSON for a rejected request); /fortunes must also say UTF-8."""
    want = "application/json" if variant.error is not None else endpoint.content_type
    if want and ctype is None:
        return [problem("content-type", want, "(missing)")]
    if want and media_type(ctype or "") != media_type(want):
        return [problem("content-type", want, ctype or "")]
    if endpoint.kind == "fortunes" and ctype is not None:
        charset = ctype.lower().partition("charset=")[2].strip().strip('"')
        if charset and charset != "utf-8":
            return [problem("content-type", "text/html; charset=utf-8", ctype)]
        if not charset:
            return [problem("content-type", "text/html; charset=utf-8", ctype, "warn")]
    return []


def _check_framing(endpoint: Endpoint, variant: Variant, hdrs: Mapping[str, str], body: bytes) -> list[Finding]:
    """Required headers, and a body framed by a matching Content-Length or by chunks where allowed."""
    found: list[Finding] = []
    chunked = "chunked" in hdrs.get("transfer-encoding", "").lower()
    for name in endpoint.required_headers:
        if name == "content-length" and chunked:
            # Chunked framing instead of Content-Length: one framing finding.
            found.append(problem("content-length", f"Content-Length: {len(body)}", "Transfer-Encoding: chunked"))
        elif name not in hdrs:
            found.append(problem(f"header:{name}", "present", "(missing)"))
    must_length = "content-length" in endpoint.required_headers
    if not must_length and endpoint.kind != "ws" and not chunked and "content-length" not in hdrs:
        found.append(problem("content-length", "Content-Length or chunked framing",
                             "neither (body ends at connection close)"))
    declared = hdrs.get("content-length")
    if declared is not None and not chunked and (variant.method or endpoint.method) != "HEAD":
        try:
            ok = int(declared.strip()) == len(body)
        except ValueError:
            ok = False
        if not ok:
            found.append(problem("content-length", f"{len(body)} (body length)", declared))
    return found
