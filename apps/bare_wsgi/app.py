"""A framework-free WSGI app (entry point ``apps.bare_wsgi.app:app``).

It shows what the server alone costs: no routing library, no request object,
no JSON provider, just the WSGI callable.  It serves /plaintext, /json, /io
(blocking: ``time.sleep``, as any WSGI app) and /cpu, answers other paths
with 404 and other methods with 405, and always sends Content-Length.
Nothing from the harness is imported.
"""

import json
import time
from urllib.parse import parse_qs

PLAINTEXT = b"Hello, World!"
JSON_BODY = json.dumps({"message": "Hello, World!"}).encode()


def query_param(environ: dict, name: str, lo: int, hi: int) -> int:
    """Missing or non-numeric -> lo, else clamped to lo..hi."""
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    try:
        value = int(values[0]) if values else lo
    except ValueError:
        return lo
    return max(lo, min(hi, value))


def respond(start_response, status: str, content_type: str, body: bytes, extra=()) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra])
    return [body]


def io(environ: dict) -> bytes:
    ms = query_param(environ, "ms", 0, 10_000)
    time.sleep(ms / 1000)
    return json.dumps({"waited_ms": ms}).encode()


def cpu(environ: dict) -> bytes:
    n = query_param(environ, "n", 1, 1_000_000)
    x = 0
    for i in range(n):
        x = (x * 1664525 + 1013904223 + i) & 0xFFFFFFFF
    return json.dumps({"n": n, "result": x}).encode()


ROUTES = {
    "/plaintext": ("text/plain", lambda environ: PLAINTEXT),
    "/json": ("application/json", lambda environ: JSON_BODY),
    "/io": ("application/json", io),
    "/cpu": ("application/json", cpu),
}


def app(environ: dict, start_response) -> list[bytes]:
    route = ROUTES.get(environ.get("PATH_INFO", ""))
    if route is None:
        return respond(start_response, "404 Not Found", "text/plain", b"Not Found")
    if environ["REQUEST_METHOD"] != "GET":
        return respond(start_response, "405 Method Not Allowed", "text/plain", b"Method Not Allowed",
                       [("Allow", "GET")])
    content_type, handler = route
    return respond(start_response, "200 OK", content_type, handler(environ))
