"""A team's own locustfile, for stackmark's tests: the two paths of tests/data/team_app, as a team would
write it (no stackmark arguments; `stackmark bench --locustfile` adds the phases)."""
from __future__ import annotations

from locust import FastHttpUser, constant, task


class TeamUser(FastHttpUser):
    wait_time = constant(0)

    @task(3)
    def orders(self) -> None:
        self.client.get("/orders")

    @task(1)
    def health(self) -> None:
        self.client.get("/health")
