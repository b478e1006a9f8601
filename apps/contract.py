"""The endpoint contract every app under test must meet.

Benchmark numbers are only comparable if every stack answers the same
requests with the same responses.  This module states those responses as
plain data, so the verifier (``stackmark.verify``) can check a running stack
before load is sent.  The apps themselves never import it: each one
hard-codes its responses the way its framework's docs would, and this
contract is the independent check that they agree.

Adding an endpoint (db, queries, fortunes, POST /echo, /stream, ...) means
adding an ``Endpoint`` to ``ENDPOINTS``; no code changes are needed unless it
needs a new kind of check.  Stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Headers every response must carry.  Server and Date show a real HTTP
#: server answered; Content-Length keeps framing (and bytes on the wire)
#: the same across stacks instead of some of them chunking.
REQUIRED_HEADERS: tuple[str, ...] = ("server", "date", "content-length")


@dataclass(frozen=True)
class Endpoint:
    """One request and the response it must get.

    ``content_type`` is a media type only; parameters such as ``charset``
    are ignored when comparing.  ``body_text`` is compared exactly after
    decoding, ``body_json`` as a JSON value (spacing and trailing newlines
    differ between frameworks).  Leave both ``None`` for bodies that vary
    (e.g. random db rows); those need their own check later.
    ``request_body`` is sent as-is (for POST endpoints such as /echo), and
    ``required_headers`` can be narrowed for endpoints that legitimately
    stream without Content-Length.
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


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint(
            name="plaintext",
            path="/plaintext",
            content_type="text/plain",
            body_text="Hello, World!",
        ),
        Endpoint(
            name="json",
            path="/json",
            content_type="application/json",
            body_json={"message": "Hello, World!"},
        ),
    )
}


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
