"""Async views, one for every endpoint of views.py, written as Django's async docs show.

Served under ASGI only (asgi_async.py).  Every view is a coroutine function,
so Django calls it on the server's event loop instead of in a thread, and
CommonMiddleware (sync and async capable) keeps the whole chain async.  The
ORM is reached through its async API: ``aget`` for a row, ``async for`` over
a queryset.  Django's async ORM still runs each query in a thread (one per
request, thread-sensitive ``sync_to_async``), because its database drivers
are sync.  Transactions have no async form yet, so ``/updates`` writes in
one sync function under ``transaction.atomic()`` called through
``sync_to_async``, as Django's docs advise.  Request parsing, validation
and the responses are views.py's, so both apps answer byte for byte alike.
"""

import asyncio
import random

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from .models import Fortune, World
from .views import (
    ADDITIONAL_FORTUNE,
    as_json,
    cpu_response,
    echo_response,
    query_param,
    stream_response,
    write_worlds,
)


async def random_world() -> World:
    return await World.objects.aget(id=random.randint(1, 10000))


# ---- the classic six --------------------------------------------------------


@require_GET
async def plaintext(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello, World!", content_type="text/plain")


@require_GET
async def json_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"message": "Hello, World!"})


@require_GET
async def db(request: HttpRequest) -> JsonResponse:
    return JsonResponse(as_json(await random_world()))


@require_GET
async def queries(request: HttpRequest) -> JsonResponse:
    n = query_param(request, "queries", 1, 500)
    return JsonResponse([as_json(await random_world()) for _ in range(n)], safe=False)


@require_GET
async def fortunes(request: HttpRequest) -> HttpResponse:
    rows = [fortune async for fortune in Fortune.objects.all()]
    rows.append(Fortune(id=0, message=ADDITIONAL_FORTUNE))
    rows.sort(key=lambda f: f.message)
    return render(request, "fortunes.html", {"fortunes": rows})  # no query left: the rows are in memory


@require_GET
async def updates(request: HttpRequest) -> JsonResponse:
    worlds = [await random_world() for _ in range(query_param(request, "queries", 1, 500))]
    for world in worlds:
        world.randomnumber = random.randint(1, 10000)
    await sync_to_async(write_worlds)(worlds)
    return JsonResponse([as_json(w) for w in worlds], safe=False)


# ---- beyond them ---------------------------------------------------------------


@require_GET
async def io(request: HttpRequest) -> JsonResponse:
    ms = query_param(request, "ms", 0, 10_000)
    await asyncio.sleep(ms / 1000)
    return JsonResponse({"waited_ms": ms})


@require_GET
async def cpu(request: HttpRequest) -> JsonResponse:
    """CPU work on the event loop, which is what CPU work in an async view does."""
    return cpu_response(request)


@require_POST
async def echo(request: HttpRequest) -> JsonResponse:
    return echo_response(request)  # the body is already read: no I/O on the loop


@require_GET
async def stream(request: HttpRequest) -> StreamingHttpResponse:
    return stream_response(request)  # an ASGI request: the async chunk iterator
