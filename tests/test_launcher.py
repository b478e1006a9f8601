"""The launcher with real servers on 127.0.0.1: start, pin, verify, always tear down."""
from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import psutil
import pytest

from servers.launcher import LaunchError, launch
from servers.matrix import load_matrix
from stackmark.verify import verify_stack

pytestmark = pytest.mark.integration

# one stack per server and framework, every worker model of gunicorn
STACKS = [
    "fastapi-uvicorn",
    "flask-gunicorn-sync",
    "flask-gunicorn-gthread",
    "django-wsgi-uwsgi",
    "django-asgi-hypercorn",
    "fastapi-gunicorn-uvicorn",
    "flask-hypercorn",
    "django-asgi-uvicorn",
    "fastapi-gunicorn-asgi",
    "django-asgi-async-daphne",
]


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _all_gone(procs: list[psutil.Process]) -> bool:
    gone, alive = psutil.wait_procs(procs, timeout=5)
    return not alive


@pytest.mark.parametrize("stack_id", STACKS)
def test_stack_starts_meets_contract_and_is_torn_down(stack_id: str, tmp_path: Path, two_cpus: bool) -> None:
    stack = load_matrix().stacks[stack_id]
    cpus = [1] if two_cpus else []
    with launch(stack, tmp_path / "server.log", cpus=cpus) as server:
        assert server.host == "127.0.0.1"
        verdict = verify_stack(server.host, server.port)
        assert verdict.status == "ok", verdict.to_dict()
        procs = _tree(server.pid)
        if cpus:
            assert all(p.cpu_affinity() == cpus for p in procs)
    assert _all_gone(procs)


def test_teardown_happens_when_the_body_raises(tmp_path: Path) -> None:
    stack = load_matrix().stacks["flask-gunicorn-sync"]
    with pytest.raises(RuntimeError, match="boom"), launch(stack, tmp_path / "server.log") as server:
        procs = _tree(server.pid)
        assert len(procs) >= 2  # gunicorn master + worker
        raise RuntimeError("boom")
    assert _all_gone(procs)


def test_import_error_in_app_is_a_one_line_reason_with_log_tail(tmp_path: Path) -> None:
    stack = dataclasses.replace(load_matrix().stacks["fastapi-uvicorn"], target="apps.no_such_app:app")
    with pytest.raises(LaunchError) as info, launch(stack, tmp_path / "server.log", ready_timeout_s=15):
        pass
    assert "\n" not in info.value.reason
    assert "exited" in info.value.reason
    assert "no_such_app" in info.value.log_tail


def test_taken_port_is_reported_clearly(tmp_path: Path) -> None:
    stack = load_matrix().stacks["fastapi-uvicorn"]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(LaunchError, match="already in use"), launch(stack, tmp_path / "server.log", port=port):
            pass


def test_never_binds_beyond_loopback(tmp_path: Path) -> None:
    stack = load_matrix().stacks["fastapi-uvicorn"]
    with launch(stack, tmp_path / "server.log") as server:
        listening = [
            c.laddr for p in _tree(server.pid) for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
        ]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening)


def test_env_does_not_leak_django_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "nonexistent.settings")
    stack = load_matrix().stacks["django-wsgi-gunicorn-sync"]
    with launch(stack, tmp_path / "server.log") as server:
        assert verify_stack(server.host, server.port).status == "ok"
    assert os.environ["DJANGO_SETTINGS_MODULE"] == "nonexistent.settings"
