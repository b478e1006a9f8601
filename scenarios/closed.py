"""Closed-model load on one endpoint: each simulated user sends its next request
as soon as the previous response arrives, so concurrency = number of users.

A plain locustfile; by hand, against a stack started with `stackmark serve`:

    locust -f scenarios/closed.py --host http://127.0.0.1:8000 --endpoint /json
    locust -f scenarios/closed.py --host http://127.0.0.1:8000 --endpoint /echo \\
        --method POST --body '{"name": "a", "count": 1, "tags": []}'

(add `,scenarios/phases.py` to -f for stackmark's primer/warm-up/measure phases).
"""
from __future__ import annotations

from locust import FastHttpUser, constant, events, task


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--endpoint", default="/json", help="path (and query) every user requests (default /json)")
    parser.add_argument("--method", default="GET", choices=["GET", "POST"], help="HTTP method (default GET)")
    parser.add_argument("--body", default="", help="request body for POST")
    parser.add_argument("--content-type", default="application/json", help="Content-Type of the body")


class EndpointUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        self.path = opts.endpoint
        self.method = opts.method
        self.body = opts.body.encode() if opts.body else None
        self.headers = {"Content-Type": opts.content_type} if self.body is not None else None

    @task
    def request_endpoint(self) -> None:  # not named `json`: that breaks Locust's web UI
        self.client.request(self.method, self.path, data=self.body, headers=self.headers, name=self.path)
