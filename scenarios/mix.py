"""A realistic mix over the endpoint contract: what one service's latency looks like when most requests are
cheap reads, some query the database, some render a page and a few write.

Each simulated user picks its next request by weight and then thinks (waits between 0.5 and 1.5 times
--think-ms, default 100 ms), so concurrency is users, not requests in flight:

    GET  /json      6   (serialisation)
    GET  /db        3   (one random row)
    GET  /fortunes  1   (all rows rendered by the framework's template engine)
    POST /echo      1   (a JSON body validated and echoed: checked, a wrong answer is a failure)

Request names are the paths, so Locust's stats and stackmark's latency.json `requests` are per endpoint,
and their sum is the overall figure.

A plain locustfile; by hand, against a stack started with `stackmark serve`:

    locust -f scenarios/mix.py --host http://127.0.0.1:8000 --think-ms 100

(add `,scenarios/phases.py` to -f for stackmark's primer/warm-up/measure phases and shapes, e.g. the
soak: `--shape soak`).
"""
from __future__ import annotations

import json
import random

from locust import FastHttpUser, events, task

ECHO_BODY = {"name": "stackmark-mix", "count": 3, "tags": ["a", "b"]}
ECHO_TEXT = json.dumps(ECHO_BODY)
JSON_HEADERS = {"Content-Type": "application/json"}


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--think-ms", type=float, default=100.0,
                        help="mean think time between a user's requests, in ms (uniform 0.5x to 1.5x; default 100)")


@events.test_start.add_listener
def _record_think_time(environment, **_: object) -> None:  # type: ignore[no-untyped-def]
    """latency.json `think_ms` (through phases.py's window, when it is loaded; at test start, after every
    locustfile's init): Little's law for this load is users = throughput x (latency + think time), and
    analysis checks it with that term."""
    window = getattr(environment, "stackmark_window", None)
    if window is not None:
        window.extras["think_ms"] = lambda: max(0.0, float(environment.parsed_options.think_ms))


class MixUser(FastHttpUser):
    def wait_time(self) -> float:
        think_s = max(0.0, float(self.environment.parsed_options.think_ms)) / 1000.0
        return random.uniform(0.5 * think_s, 1.5 * think_s)

    @task(6)
    def read_json(self) -> None:
        self.client.get("/json", name="/json")

    @task(3)
    def read_db(self) -> None:
        self.client.get("/db", name="/db")

    @task(1)
    def render_fortunes(self) -> None:
        self.client.get("/fortunes", name="/fortunes")

    @task(1)
    def write_echo(self) -> None:
        with self.client.post("/echo", data=ECHO_TEXT, headers=JSON_HEADERS, name="/echo",
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            try:
                echoed = json.loads(response.content or b"null")
            except ValueError:
                response.failure("the answer is not JSON")
                return
            if not isinstance(echoed, dict) or echoed.get("name") != ECHO_BODY["name"]:
                response.failure(f"name not echoed: {str(echoed)[:60]}")
            else:
                response.success()
