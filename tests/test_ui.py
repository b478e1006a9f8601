"""`stackmark ui`: Locust's web UI against one stack, in one command.

The real thing: `stackmark ui` as a user starts it, a real stack, a real Locust web UI driven through its
HTTP API (POST /swarm, GET /stats/requests, POST /stop), the stack's own sockets as the witness that it
served Locust, then the teardown checked process by process. The rest are pure units and bad input.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest

from procs import cmdline, descendants, wait_for
from scenarios.catalog import PHASES_FILE, load_scenarios
from servers.matrix import load_matrix
from stackmark import cli
from stackmark.ui import UiPlan, locust_ui_command, refusal

STACK = "fastapi-uvicorn"  # fast to start, serves every HTTP scenario of the catalog
URL_LINE = re.compile(r"Locust web UI: (http://127\.0\.0\.1:(\d+)) \(pid (\d+)")
SERVER_LINE = re.compile(r"serving on (http://127\.0\.0\.1:(\d+)) \(pid (\d+)")


# ---- pure units -------------------------------------------------------------------------------------------

def _plan(scenario: str, users: int = 32) -> UiPlan:
    return UiPlan(load_matrix().stacks[STACK], load_scenarios()[scenario], 8089, users, [1], [0])


@pytest.mark.parametrize("name", sorted(load_scenarios()))
def test_every_catalog_scenario_loads_its_own_locustfile_and_arguments_without_the_phases(name: str) -> None:
    scenario = load_scenarios()[name]
    cmd = locust_ui_command(_plan(name), "http://127.0.0.1:9000")
    assert cmd[cmd.index("-f") + 1] == str(scenario.locustfile)
    assert str(PHASES_FILE) not in " ".join(cmd) and not any(a.startswith("--phase") for a in cmd)
    assert "--headless" not in cmd
    assert cmd[cmd.index("--web-host") + 1] == "127.0.0.1" and cmd[cmd.index("--host") + 1] == "http://127.0.0.1:9000"
    joined = " ".join(cmd)
    # --endpoint, --method, --body, --rate as a bench sends them
    assert " ".join(scenario.locust_args(phases=False)) in joined
    assert "--shape" not in cmd  # a shape's options belong to phases.py, which the UI never loads


def test_open_model_prefills_one_sending_user_and_takes_users_as_requests_in_flight() -> None:
    cmd = locust_ui_command(_plan("open-json", users=64), "http://127.0.0.1:9000")
    assert cmd[cmd.index("--users") + 1] == "1"
    assert cmd[cmd.index("--max-inflight") + 1] == "64"
    closed = locust_ui_command(_plan("json", users=64), "http://127.0.0.1:9000")
    assert closed[closed.index("--users") + 1] == "64" and "--max-inflight" not in closed


def test_a_stack_that_does_not_serve_the_scenario_is_refused_with_the_reason_and_one_that_does() -> None:
    matrix = load_matrix()
    stacks = list(matrix.stacks.values())
    ws_on_wsgi = refusal(matrix.stacks["flask-gunicorn-sync"], load_scenarios()["ws"], stacks)
    assert ws_on_wsgi is not None and "ASGI" in ws_on_wsgi and "e.g." in ws_on_wsgi
    db_on_bare = refusal(matrix.stacks["bare-asgi-uvicorn"], load_scenarios()["db"], stacks)
    assert db_on_bare is not None and "serves only" in db_on_bare
    assert refusal(matrix.stacks[STACK], load_scenarios()["json"], stacks) is None


# ---- bad input: one line, exit 2, nothing started ----------------------------------------------------------

@pytest.fixture()
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.mark.parametrize("argv, words", [
    (["ui", "fastapi-uvicron"], "unknown stack"),
    (["ui", STACK, "--scenario", "jsn"], "unknown scenario"),
    (["ui", "flask-gunicorn-sync", "--scenario", "ws"], "does not serve scenario"),
    (["ui", STACK, "--users", "0"], "out of range"),
    (["ui", STACK, "--port", "70000"], "out of range"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in lines[0]


def test_a_port_in_use_is_one_line_and_exit_2(busy_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    assert cli.main(["ui", STACK, "--port", str(busy_port)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"port {busy_port}" in lines[0] and "in use" in lines[0]
    assert {p.pid for p in psutil.Process().children(recursive=True)} == before  # refused before any start


# ---- the real thing ---------------------------------------------------------------------------------------

@dataclass
class UiSession:
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    web: str = ""
    locust_pid: int = 0
    server_url: str = ""
    server_port: int = 0
    server_pid: int = 0

    def output(self) -> str:
        return "".join(self.lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def ui_session(stackmark_cmd: list[str], scenario: str, *extra: str) -> Iterator[UiSession]:
    """`stackmark ui STACK --scenario S --port P` as a user runs it, until its URL line; killed if left up."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen([*stackmark_cmd, "ui", STACK, "--scenario", scenario, "--port", str(_free_port()),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    session = UiSession(proc)
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: session.lines.extend(iter(proc.stdout.readline, "")),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    try:
        found = wait_for(lambda: URL_LINE.search(session.output()) or proc.poll() is not None, timeout=60)
        assert isinstance(found, re.Match), f"no URL line; exit {proc.poll()}:\n{session.output()}"
        session.web, session.locust_pid = found.group(1), int(found.group(3))
        server = SERVER_LINE.search(session.output())
        assert server is not None, session.output()
        session.server_url, session.server_port, session.server_pid = (server.group(1), int(server.group(2)),
                                                                       int(server.group(3)))
        yield session
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read()


def _post(url: str, form: dict[str, Any] | None = None) -> dict[str, Any]:
    data = urllib.parse.urlencode(form or {}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=10) as r:
        body = r.read()
    return json.loads(body) if body.strip().startswith(b"{") else {}


def _stats(web: str) -> dict[str, Any]:
    stats = json.loads(_get(f"{web}/stats/requests")[1])
    return next(row for row in stats["stats"] if row["name"] == "Aggregated")


def _connected(server_pid: int, server_port: int, locust_pid: int) -> bool:
    """True when the stack's own process holds a connection whose other end is a socket of Locust's process."""
    def tcp(pid: int) -> list[Any]:
        try:
            procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
            return [c for p in procs for c in p.net_connections(kind="tcp")]
        except psutil.Error:
            return []

    served = {tuple(c.raddr) for c in tcp(server_pid) if c.raddr and c.laddr.port == server_port}
    sent = {tuple(c.laddr) for c in tcp(locust_pid) if c.raddr and c.raddr.port == server_port}
    return bool(served & sent)


def _alive(procs: list[psutil.Process]) -> list[str]:
    left = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{p.pid} {cmdline(p)}")
        except psutil.Error:
            pass
    return left


def _assert_all_gone(tree: list[psutil.Process]) -> None:
    try:
        wait_for(lambda: not _alive(tree), timeout=10)
    except AssertionError:
        raise AssertionError(f"left running: {_alive(tree)}") from None


def _swarm(session: UiSession, users: int) -> dict[str, Any]:
    """Swarm through the UI's own API until requests were recorded; returns Locust's aggregated row."""
    answer = _post(f"{session.web}/swarm", {"user_count": users, "spawn_rate": users, "host": session.server_url})
    assert answer.get("success") is True, answer
    return wait_for(lambda: (row := _stats(session.web))["num_requests"] >= 20 and row, timeout=20)


def test_ui_swarms_the_stack_through_its_http_api_and_ctrl_c_leaves_no_process(stackmark_cmd: list[str]) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with ui_session(stackmark_cmd, "json") as ui:
        status, page = _get(ui.web + "/")
        assert status == 200 and b"locust" in page.lower()
        tree = descendants(ui.proc.pid)
        assert any(p.pid == ui.server_pid for p in tree) and any(p.pid == ui.locust_pid for p in tree)
        assert "--web-host 127.0.0.1" in cmdline(psutil.Process(ui.locust_pid))
        assert os.sched_getaffinity(ui.locust_pid).isdisjoint(os.sched_getaffinity(ui.server_pid)) or \
            len(os.sched_getaffinity(0)) < 2  # pinned apart as in a bench

        _swarm(ui, users=4)
        assert wait_for(lambda: _connected(ui.server_pid, ui.server_port, ui.locust_pid), timeout=10)
        _post(f"{ui.web}/stop")
        row = _stats(ui.web)
        assert row["num_requests"] > 0 and row["num_failures"] == 0, row
        assert any(r["name"] == "/json" for r in json.loads(_get(f"{ui.web}/stats/requests")[1])["stats"])

        tree = descendants(ui.proc.pid)
        ui.proc.send_signal(signal.SIGINT)
        assert ui.proc.wait(timeout=20) == 0, ui.output()
        _assert_all_gone(tree)
    assert "stopped" in ui.output()
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after <= before


def test_an_open_model_scenario_runs_in_the_ui_and_locust_dying_takes_the_stack_down(
        stackmark_cmd: list[str]) -> None:
    with ui_session(stackmark_cmd, "open-json", "--users", "8") as ui:
        status, page = _get(ui.web + "/")
        assert status == 200
        form = {name: float(value) for name, value in re.findall(
            r'"(rate|max_inflight)": \{[^}]*?"default_value": ([0-9.]+)', page.decode())}
        assert form == {"rate": 500.0, "max_inflight": 8.0}  # the UI's form carries the scenario's own settings
        row = _swarm(ui, users=1)
        assert row["num_failures"] == 0, row

        tree = descendants(ui.proc.pid)
        os.kill(ui.locust_pid, signal.SIGKILL)  # either process dying ends the session
        assert ui.proc.wait(timeout=20) == 1, ui.output()
        assert "Locust exited" in ui.output()
        _assert_all_gone(tree)
