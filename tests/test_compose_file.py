"""compose.yaml, the Dockerfile and the in-container entry points, checked without any container engine.

The schema check is check-jsonschema's vendored copy of the Compose specification's JSON Schema (offline);
a deliberately broken copy must fail it, so the check can fail. Every stack of the matrix must be servable
by the parameterised `stack` service: its entry point resolves each id to the launcher's own command.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs pinned; only safe_load and safe_dump here

from servers.container import main as container_main
from servers.container import resolve, server_command
from servers.matrix import load_matrix
from stackmark.compose_services import master_command, worker_command

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "compose.yaml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
SERVER_SERVICES = ("stack",)


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    done = check_schema(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = compose()
    broken["services"]["stack"]["cpuset"] = ["1"]  # the spec says a string
    bad = tmp_path / "compose.yaml"
    bad.write_text(yaml.safe_dump(broken))
    assert check_schema(bad).returncode != 0


def test_every_matrix_stack_is_served_by_the_stack_service() -> None:
    service = compose()["services"]["stack"]
    assert service["command"] == ["python", "-m", "servers.container"]
    assert service["environment"]["STACK"].startswith("${STACK")
    stacks = load_matrix().stacks
    assert len(stacks) >= 39
    for stack_id, stack in stacks.items():
        resolved = resolve([], {"STACK": stack_id})
        assert resolved == stack
        assert any("8000" in part for part in server_command(resolved)), stack_id


def test_stack_service_has_its_limits_a_healthcheck_and_loopback_ports_only() -> None:
    services = compose()["services"]
    for name in SERVER_SERVICES:
        service = services[name]
        assert {"cpuset", "cpus", "mem_limit", "healthcheck"} <= set(service), name
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert {"postgres", "seed", "locust-master", "locust-worker"} <= set(services)


def test_workers_override_and_unknown_stacks_are_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert resolve(["fastapi-uvicorn"], {"SERVER_WORKERS": "3"}).workers == 3
    assert container_main(["no-such-stack"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    with pytest.raises(ValueError, match="SERVER_WORKERS"):
        resolve(["fastapi-uvicorn"], {"SERVER_WORKERS": "many"})


def test_locust_services_run_loadgens_command_as_master_and_workers() -> None:
    master = master_command({"SCENARIO": "json", "USERS": "8", "LOCUST_WORKERS": "2", "CELL_DIR": "/tmp/x",
                             "TARGET_URL": "http://stack:8000"})
    assert master[master.index("--expect-workers") + 1] == "2"
    assert "--master" in master and "--headless" in master and "http://stack:8000" in master
    assert master[master.index("--phase-users") + 1] == "8"
    worker = worker_command({"SCENARIO": "json", "MASTER_HOST": "locust-master"})
    assert "--worker" in worker and worker[worker.index("-f") + 1] == master[master.index("-f") + 1]


def test_dockerfile_builds_from_a_base_image_argument_and_copies_only_what_dockerignore_keeps() -> None:
    text = (REPO / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "ARG BASE_IMAGE=python:3.11-slim"  # the Python requirements.lock is resolved for
    assert lines[1].startswith("FROM ${BASE_IMAGE}")
    assert "--require-hashes" in text
    kept = {line.lstrip("!").rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
            if line.startswith("!")}
    copied = {src for m in re.finditer(r"^COPY (?!--from)(.+) \S+$", text, re.M) for src in m.group(1).split()}
    assert copied and copied <= kept, copied - kept
