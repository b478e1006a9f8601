"""WebSocket echo load: each simulated user keeps one WebSocket open and sends
the next message as soon as the echo of the previous one arrives (closed
model, concurrency = users). ASGI stacks only.

A plain locustfile; by hand, against a stack started with `stackmark serve`:

    locust -f scenarios/ws.py --host http://127.0.0.1:8000 --endpoint /ws

(add `,scenarios/phases.py` to -f for stackmark's primer/warm-up/measure phases).
Each round trip is reported to Locust as a request of type "WS" named after
the path, so latency, errors and per-user accounting work as for HTTP.
"""
from __future__ import annotations

import time

import websocket  # websocket-client: plain sockets, made cooperative by Locust's gevent patching
from locust import User, constant, events, task

MESSAGE = "stackmark websocket echo " + "x" * 38  # 64 bytes


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--endpoint", default="/ws", help="WebSocket path (default /ws)")


class WebSocketEchoUser(User):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.path = self.environment.parsed_options.endpoint
        self.url = "ws" + (self.host or "http://127.0.0.1:8000").removeprefix("http") + self.path
        self.ws: websocket.WebSocket | None = None

    def on_stop(self) -> None:
        if self.ws is not None:
            self.ws.close()

    @task
    def round_trip(self) -> None:
        start = time.perf_counter()
        length, error = 0, None
        try:
            if self.ws is None:
                self.ws = websocket.create_connection(self.url, timeout=10)
            self.ws.send(MESSAGE)
            reply = self.ws.recv()
            length = len(reply)
            if reply != MESSAGE:
                raise ValueError(f"echo differs: {reply[:40]!r}")
        except Exception as exc:  # noqa: BLE001 - any failure is a failed request, and a fresh connection
            error = exc
            if self.ws is not None:
                self.ws.close()
            self.ws = None
        self.environment.events.request.fire(
            request_type="WS", name=self.path, response_time=(time.perf_counter() - start) * 1000,
            response_length=length, exception=error, context={},
        )
