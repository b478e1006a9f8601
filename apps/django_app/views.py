"""Plain function views; responses are hard-coded on purpose.

Database views are sync views on the ORM (under ASGI Django runs them in a
thread).  ``/io`` is the one async view: under ASGI the wait is awaited on
the event loop; under WSGI Django runs the coroutine to completion in the
worker thread (``async_to_sync``), so the worker is blocked for the wait,
exactly like ``time.sleep`` in the Flask app.
"""

import asyncio
import json
import random

from django.core.handlers.asgi import ASGIRequest
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from .models import Fortune, World

ADDITIONAL_FORTUNE = "Additional fortune added at request time."
ECHO_MAX_BYTES = 64 * 1024
STREAM_CHUNK = 16 * 1024


def query_param(request: HttpRequest, name: str, lo: int, hi: int) -> int:
    """Missing or non-numeric -> lo, else clamped to lo..hi."""
    try:
        value = int(request.GET.get(name, ""))
    except ValueError:
        return lo
    return max(lo, min(hi, value))


def random_world() -> World:
    return World.objects.get(id=random.randint(1, 10000))


def as_json(world: World) -> dict:
    return {"id": world.id, "randomNumber": world.randomnumber}


# ---- the classic six --------------------------------------------------------


@require_GET
def plaintext(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello, World!", content_type="text/plain")


@require_GET
def json_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"message": "Hello, World!"})


@require_GET
def db(request: HttpRequest) -> JsonResponse:
    return JsonResponse(as_json(random_world()))


@require_GET
def queries(request: HttpRequest) -> JsonResponse:
    n = query_param(request, "queries", 1, 500)
    return JsonResponse([as_json(random_world()) for _ in range(n)], safe=False)


@require_GET
def fortunes(request: HttpRequest) -> HttpResponse:
    rows = list(Fortune.objects.all())
    rows.append(Fortune(id=0, message=ADDITIONAL_FORTUNE))
    rows.sort(key=lambda f: f.message)
    return render(request, "fortunes.html", {"fortunes": rows})


@require_GET
def updates(request: HttpRequest) -> JsonResponse:
    worlds = [random_world() for _ in range(query_param(request, "queries", 1, 500))]
    for world in worlds:
        world.randomnumber = random.randint(1, 10000)
    write_worlds(worlds)
    return JsonResponse([as_json(w) for w in worlds], safe=False)


def write_worlds(worlds: list[World]) -> None:
    """One transaction, one UPDATE statement, rows in id order (async_views.py calls it through sync_to_async:
    atomic() has no async form)."""
    with transaction.atomic():
        World.objects.bulk_update(sorted(worlds, key=lambda w: w.id), ["randomnumber"])


# ---- beyond them ---------------------------------------------------------------


@require_GET
async def io(request: HttpRequest) -> JsonResponse:
    ms = query_param(request, "ms", 0, 10_000)
    await asyncio.sleep(ms / 1000)
    return JsonResponse({"waited_ms": ms})


@require_GET
def cpu(request: HttpRequest) -> JsonResponse:
    return cpu_response(request)


def cpu_response(request: HttpRequest) -> JsonResponse:
    """The work of /cpu, in whatever thread or event loop the view runs it."""
    n = query_param(request, "n", 1, 1_000_000)
    x = 0
    for i in range(n):
        x = (x * 1664525 + 1013904223 + i) & 0xFFFFFFFF
    return JsonResponse({"n": n, "result": x})


def error(status: int, code: str) -> JsonResponse:
    return JsonResponse({"error": code}, status=status)


def valid_echo(body: object) -> bool:
    """{"name": str 1..100, "count": int 0..1000 (not bool), "tags": <= 10 str}, nothing else."""
    return (
        type(body) is dict
        and body.keys() == {"name", "count", "tags"}
        and type(body["name"]) is str
        and 1 <= len(body["name"]) <= 100
        and type(body["count"]) is int
        and 0 <= body["count"] <= 1000
        and type(body["tags"]) is list
        and len(body["tags"]) <= 10
        and all(type(tag) is str for tag in body["tags"])
    )


@require_POST
def echo(request: HttpRequest) -> JsonResponse:
    return echo_response(request)


def echo_response(request: HttpRequest) -> JsonResponse:
    """/echo's checks and answer. Under ASGI Django has read the body before any view runs, so an async view
    calls this without I/O on the loop."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > ECHO_MAX_BYTES:
        return error(413, "too_large")  # decided by Content-Length, before request.body
    if (request.content_type or "").lower() != "application/json":
        return error(415, "unsupported_media_type")
    raw = request.body
    if len(raw) > ECHO_MAX_BYTES:
        return error(413, "too_large")
    try:
        body = json.loads(raw)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return error(400, "malformed_json")
    if not valid_echo(body):
        return error(422, "invalid_body")
    return JsonResponse(body)


def _chunks(size: int):
    full, rest = divmod(size, STREAM_CHUNK)
    chunk = b"x" * STREAM_CHUNK
    for _ in range(full):
        yield chunk
    if rest:
        yield chunk[:rest]


async def _achunks(size: int):
    for chunk in _chunks(size):
        yield chunk


@require_GET
def stream(request: HttpRequest) -> StreamingHttpResponse:
    return stream_response(request)


def stream_response(request: HttpRequest) -> StreamingHttpResponse:
    size = query_param(request, "kb", 1, 10_240) * 1024
    # Django serves a sync iterator under WSGI and an async one under ASGI
    # (given the other kind it warns and buffers the whole body first).
    content = _achunks(size) if isinstance(request, ASGIRequest) else _chunks(size)
    response = StreamingHttpResponse(content, content_type="application/octet-stream")
    response["Content-Length"] = str(size)  # known up front; CommonMiddleware skips streams
    return response
