"""The body check of each endpoint kind, as a table: ``BODY_CHECKS[kind](exchange)``.

A new ``kind`` in ``apps.contract`` is one more function and one more row
here.  Every check is pure: it sees the request's variant, the body that
came back, how long it took and what the database holds (``Expected``), and
returns findings not yet placed at a request (``problem``).  A rejected
request (``variant.error``) is checked for the error shape instead, whatever
the kind; ``check_response`` calls ``check_body`` only for the right status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from apps.contract import Endpoint, Variant, cpu_work

from .findings import Finding, problem
from .fortunes import check_fortunes
from .rows import check_rows, check_world
from .values import dumps, json_equal, parse_json


@dataclass(frozen=True)
class Expected:
    """What the database holds, when known: fortune rows and the world table."""

    fortunes: Sequence[tuple[int, str]] | None = None
    world: Mapping[int, int] | None = None


@dataclass(frozen=True)
class Exchange:
    """One request and its response, as much of it as a body check needs."""

    endpoint: Endpoint
    variant: Variant
    body: bytes
    expect: Expected
    elapsed_s: float | None  # None: timing not known, not checked


BodyCheck = Callable[[Exchange], list[Finding]]
JsonCheck = Callable[[Exchange, object], list[Finding]]


def _json_body(check: JsonCheck) -> BodyCheck:
    """``check`` given the parsed body; a body that is not JSON is the one finding."""

    def parsed(ex: Exchange) -> list[Finding]:
        value, error = parse_json(ex.body)
        return [problem("body", "JSON", error)] if error is not None else check(ex, value)

    return parsed


def _equals(value: object, want: object) -> list[Finding]:
    """A body finding unless ``value`` is the JSON value ``want``."""
    return [] if json_equal(value, want) else [problem("body", dumps(want), dumps(value))]


def _check_static(ex: Exchange) -> list[Finding]:
    """The fixed body of plaintext/json: text exactly, JSON as a value."""
    ep = ex.endpoint
    found: list[Finding] = []
    if ep.body_text is not None:
        text = ex.body.decode("utf-8", errors="replace")
        if text != ep.body_text:
            found.append(problem("body", repr(ep.body_text), repr(text)))
    if ep.body_json is not None:
        value, error = parse_json(ex.body)
        found += [problem("body", dumps(ep.body_json), error)] if error is not None else _equals(value, ep.body_json)
    return found


def _check_db(ex: Exchange, value: object) -> list[Finding]:
    msg = check_world(value, ex.expect.world)
    return [problem("body", '{"id": 1..10000, "randomNumber": 1..10000}', msg)] if msg else []


def _check_queries(ex: Exchange, value: object) -> list[Finding]:
    return check_rows(value, ex.variant.value or 0, ex.expect.world)


def _check_updates(ex: Exchange, value: object) -> list[Finding]:
    # Rows as written, not as read before: the database check is the prober's.
    return check_rows(value, ex.variant.value or 0)


def _check_io(ex: Exchange, value: object) -> list[Finding]:
    """The wait echoed back, and not answered sooner than it says it waited."""
    ms = ex.variant.value
    found = _equals(value, {"waited_ms": ms})
    if ex.elapsed_s is not None and ms and ex.elapsed_s * 1000 < ms:
        found.append(problem("timing", f">= {ms} ms", f"answered in {ex.elapsed_s * 1000:.1f} ms"))
    return found


@lru_cache(maxsize=16)
def _cpu_oracle(n: int) -> int:
    return cpu_work(n)


def _check_cpu(ex: Exchange, value: object) -> list[Finding]:
    return _equals(value, {"n": ex.variant.value, "result": _cpu_oracle(ex.variant.value or 0)})


def _check_echo(ex: Exchange, value: object) -> list[Finding]:
    return _equals(value, ex.variant.echo)


def _default_fortunes() -> Sequence[tuple[int, str]] | None:
    try:
        from stackmark.database import FORTUNES
    except ImportError:
        return None
    return FORTUNES


def _check_fortunes(ex: Exchange) -> list[Finding]:
    """The page against the rows read from the database, else the seeded ones."""
    stored = ex.expect.fortunes if ex.expect.fortunes is not None else _default_fortunes()
    if stored is None:
        return [problem("body", "rows compared", "not checked: stackmark.database.FORTUNES unavailable", "warn")]
    return check_fortunes(ex.body, stored)


def _check_stream(ex: Exchange) -> list[Finding]:
    size = (ex.variant.value or 0) * 1024
    if len(ex.body) != size:
        return [problem("body", f"{size} bytes", f"{len(ex.body)} bytes")]
    if ex.body.strip(b"x"):
        return [problem("body", "only b'x'", repr(ex.body.replace(b"x", b"")[:20]))]
    return []


def _status_only(ex: Exchange) -> list[Finding]:
    return []


BODY_CHECKS: dict[str, BodyCheck] = {
    "static": _check_static,
    "db": _json_body(_check_db),
    "queries": _json_body(_check_queries),
    "updates": _json_body(_check_updates),
    "io": _json_body(_check_io),
    "cpu": _json_body(_check_cpu),
    "echo": _json_body(_check_echo),
    "fortunes": _check_fortunes,
    "stream": _check_stream,
    "errors": _status_only,  # the 404/405 status is the whole check
    "ws": _status_only,  # the WebSocket echo is probed apart
}

_check_error = _json_body(lambda ex, value: _equals(value, {"error": ex.variant.error}))


def check_body(ex: Exchange) -> list[Finding]:
    """A rejected request's ``{"error": ...}`` shape, else its kind's check (none for an unknown kind)."""
    if ex.variant.error is not None:
        return _check_error(ex)
    return BODY_CHECKS.get(ex.endpoint.kind, _status_only)(ex)
