"""The endpoint contract itself: names, paths, default requests, clamping, variants."""

from __future__ import annotations

import json

import pytest

from apps.contract import (
    BARE_ENDPOINTS,
    ECHO_MAX_BYTES,
    ENDPOINTS,
    REQUIRED_HEADERS,
    clamp_param,
    cpu_work,
    endpoint_for,
    for_interface,
    select,
)
from verify_helpers import JSON, PLAIN, WSGI_NAMES

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
