"""A framework-free ASGI app (entry point ``apps.bare_asgi.app:app``).

It shows what the server alone costs: no routing library, no request object,
just the ASGI callable.  It handles the lifespan protocol, serves
/plaintext, /json, /io (awaited: ``asyncio.sleep``, as any ASGI app) and
/cpu, answers other paths with 404 and other methods with 405, and always
sends Content-Length.  Nothing from the harness is imported.
"""

import asyncio
import json
from urllib.parse import parse_qs

PLAINTEXT = b"Hello, World!"
JSON_BODY = json.dumps({"message": "Hello, World!"}).encode()


def query_param(scope: dict, name: str, lo: int, hi: int) -> int:
    """Missing or non-numeric -> lo, else clamped to lo..hi."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    try:
        value = int(values[0]) if values else lo
    except ValueError:
        return lo
    return max(lo, min(hi, value))


async def respond(send, status: int, content_type: bytes, body: bytes, extra=()) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def io(scope: dict) -> bytes:
    ms = query_param(scope, "ms", 0, 10_000)
    await asyncio.sleep(ms / 1000)
    return json.dumps({"waited_ms": ms}).encode()


async def cpu(scope: dict) -> bytes:
    n = query_param(scope, "n", 1, 1_000_000)
    x = 0
    for i in range(n):
        x = (x * 1664525 + 1013904223 + i) & 0xFFFFFFFF
    return json.dumps({"n": n, "result": x}).encode()


async def plaintext(scope: dict) -> bytes:
    return PLAINTEXT


async def json_(scope: dict) -> bytes:
    return JSON_BODY


ROUTES = {
    "/plaintext": (b"text/plain", plaintext),
    "/json": (b"application/json", json_),
    "/io": (b"application/json", io),
    "/cpu": (b"application/json", cpu),
}


async def lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["type"] != "http":
        return  # no websockets here: the server refuses the handshake
    route = ROUTES.get(scope["path"])
    if route is None:
        return await respond(send, 404, b"text/plain", b"Not Found")
    if scope["method"] != "GET":
        return await respond(send, 405, b"text/plain", b"Method Not Allowed", [(b"allow", b"GET")])
    content_type, handler = route
    await respond(send, 200, content_type, await handler(scope))
