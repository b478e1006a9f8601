"""Closed-model load on one endpoint: each simulated user sends its next request
as soon as the previous response arrives, so concurrency = number of users.

A plain locustfile; by hand, against a stack started with `stackmark serve`:

    locust -f scenarios/closed.py --host http://127.0.0.1:8000 --endpoint /json

(add `,scenarios/phases.py` to -f for stackmark's primer/warm-up/measure phases).
"""
from __future__ import annotations

from locust import FastHttpUser, constant, events, task


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--endpoint", default="/json", help="path every user requests (default /json)")


class EndpointUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def request_endpoint(self) -> None:  # not named `json`: that breaks Locust's web UI
        path = self.environment.parsed_options.endpoint
        self.client.get(path, name=path)
