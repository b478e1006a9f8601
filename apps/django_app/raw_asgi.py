"""The raw-ASGI edge both Django ASGI entry points share (asgi.py: sync views, asgi_async.py: async views).

Plain Django speaks only HTTP over ASGI: WebSockets need Channels, which
this benchmark does not add.  So the websocket scope for ``/ws`` is routed
here, before Django, to a tiny raw-ASGI echo handler; every HTTP request
goes to Django, and any other websocket path is refused (close before
accept: HTTP 403).  Django does not speak the lifespan protocol either; it is
acknowledged here so servers do not log a lifespan error at start-up.
"""


async def websocket_echo(scope, receive, send):
    """Echo every text or binary message until the client closes."""
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event["text"]})
            else:
                await send({"type": "websocket.send", "bytes": event.get("bytes") or b""})
        elif event["type"] == "websocket.disconnect":
            return


async def lifespan(scope, receive, send):
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            return await send({"type": "lifespan.shutdown.complete"})


def with_websocket_and_lifespan(django_application):
    """The ASGI application a server runs: lifespan and /ws answered here, every HTTP request by Django."""

    async def application(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(scope, receive, send)
        if scope["type"] == "websocket":
            if scope["path"] == "/ws":
                return await websocket_echo(scope, receive, send)
            await receive()  # websocket.connect
            return await send({"type": "websocket.close", "code": 1000})
        return await django_application(scope, receive, send)

    return application
