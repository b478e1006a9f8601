"""A team's own service, for stackmark's tests: plain WSGI in its own folder, importable only through its
matrix table's `source` (tests/data/team_matrix.toml). `broken` is the same service with a bug on one path."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _reply(start_response: StartResponse, status: str, body: bytes, content_type: str) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/health":
        return _reply(start_response, "200 OK", b"ok", "text/plain")
    if path == "/orders":
        orders = [{"id": 1, "item": "tea", "qty": 2}, {"id": 2, "item": "cake", "qty": 1}]
        return _reply(start_response, "200 OK", json.dumps(orders).encode(), "application/json")
    return _reply(start_response, "404 Not Found", b"not found", "text/plain")


def broken(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """The service after a bad change: /orders answers 500, everything else as before."""
    if environ.get("PATH_INFO") == "/orders":
        return _reply(start_response, "500 Internal Server Error", b"boom", "text/plain")
    return app(environ, start_response)
