"""compose.yaml for real through podman-compose: a WSGI and an ASGI stack benched in containers (server CPU
sampled from the container's processes), then PostgreSQL, a stack, a Locust master and two workers started
by compose itself; everything torn down after, also when a check fails.

Needs root, Podman and the images: `make test-compose` installs and builds them first.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers.launcher import free_port
from stackmark.compose_bench import COMPOSE_FILE, engine_env, find_engine

REPO = Path(__file__).resolve().parents[2]
STACKS = ("flask-granian", "fastapi-uvicorn")  # one WSGI, one ASGI
LOCUST_PROJECT = "stackmark-test-locust"


def leftover_containers(project: str) -> list[str]:
    done = subprocess.run(["podman", "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={project}"],
                          capture_output=True, text=True, env=engine_env(), check=True)
    return done.stdout.split()


def test_compose_bench_measures_a_wsgi_and_an_asgi_stack_in_containers(tmp_path: Path) -> None:
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "stackmark.cli", "compose-bench", "--engine", "podman-compose",
                           "--stacks", *STACKS, "--scenario", "json", "db", "--duration", "2", "--warmup", "0.5",
                           "--primer", "0.3", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=engine_env(), cwd=REPO, timeout=600, check=False)
    print(f"compose-bench: {time.monotonic() - t0:.1f} s", file=sys.stderr)
    assert leftover_containers("stackmark-bench") == []
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "compose engine: podman-compose 1.6.0" in done.stdout
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    rows = list(csv.DictReader((run / "summary.csv").open()))
    assert {(r["stack"], r["scenario"]) for r in rows} == {(s, sc) for s in STACKS for sc in ("json", "db")}
    for row in rows:
        assert row["status"] == "ok", row
        assert float(row["server_cpu_s"]) > 0 and float(row["cpu_us_per_req"]) > 0, row
        assert float(row["server_rss_mb"]) > 0, row
    for stack in STACKS:
        record = json.loads((run / "stacks" / stack / "stack.json").read_text())
        assert "engine=podman-compose 1.6.0" in record["command"]
        assert record["verify"]["status"] == "ok", record["verify"]
    assert (run / "report" / "index.html").stat().st_size > 0


@pytest.fixture
def locust_project(tmp_path: Path) -> Iterator[list[str]]:
    """podman-compose for a project of its own, taken down after the test whatever happened."""
    compose = [*find_engine("podman-compose").compose, "-f", str(COMPOSE_FILE), "-p", LOCUST_PROJECT,
               "--profile", "locust"]
    try:
        yield compose
    finally:
        subprocess.run([*compose, "down", "-t", "5"], capture_output=True, env=engine_env(), timeout=180, check=False)
        assert leftover_containers(LOCUST_PROJECT) == []


def test_compose_runs_postgres_a_stack_and_locust_master_with_two_workers(locust_project: list[str]) -> None:
    cell = f"compose-test-{int(time.time())}"
    env = engine_env()
    env.update(STACK="flask-granian", STACK_PORT=str(free_port()), POSTGRES_PORT=str(free_port()), CELL_NAME=cell,
               USERS="8", DURATION_S="2", WARMUP_S="0.5", PRIMER_S="0.3", LOCUST_WORKERS="2")
    subprocess.run([*locust_project, "up", "-d", "--scale", "locust-worker=2"], env=env, capture_output=True,
                   cwd=REPO, timeout=300, check=True)
    master = subprocess.run(["podman", "ps", "-a", "-q",
                             "--filter", f"label=com.docker.compose.project={LOCUST_PROJECT}",
                             "--filter", "label=com.docker.compose.service=locust-master"],
                            capture_output=True, text=True, env=env, check=True).stdout.split()
    assert len(master) == 1
    waited = subprocess.run(["podman", "wait", master[0]], capture_output=True, text=True, env=env, timeout=180,
                            check=False)
    logs = subprocess.run(["podman", "logs", master[0]], capture_output=True, text=True, env=env, check=False)
    assert waited.stdout.strip() == "0", logs.stdout[-2000:] + logs.stderr[-2000:]
    folder = REPO / "results" / cell
    try:
        workers = sorted(folder.glob("latency-w*.json"))
        assert (folder / "latency.json").exists() and len(workers) == 2, sorted(folder.iterdir())
        for path in workers:
            counts = [r["count"] for r in json.loads(path.read_text())["requests"].values()]
            assert sum(counts) > 0, f"{path.name} sent no measured request"
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)
