"""The CLI as a user meets it: one-line errors with exit code 2, JSON listing."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest


def run(cmd: list[str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout)


def test_list_json_has_every_stack_with_its_fields(stackmark_cmd: list[str]) -> None:
    r = run(stackmark_cmd, "list", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) >= 12
    assert {"id", "framework", "server", "interface"} <= set(rows[0])
    assert len({row["id"] for row in rows}) == len(rows)


def test_list_filters_by_server(stackmark_cmd: list[str]) -> None:
    rows = json.loads(run(stackmark_cmd, "list", "uwsgi", "--json").stdout)
    assert rows and {r["server"] for r in rows} == {"uwsgi"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bench", "--stacks", "fastapi-uvicron"], "did you mean 'fastapi-uvicorn'"),
        (["bench", "--scenario", "jsn"], "did you mean 'json'"),
        (["bench", "--duration", "-5"], "duration -5 s is out of range"),
        (["bench", "--concurrency", "0"], "concurrency 0 is out of range"),
        (["bench", "--concurrency", "many"], "whole numbers"),
        (["bench", "--profile", "nope"], "unknown profile 'nope'"),
        (["bench", "--server-cpus", "99"], "CPU 99 is not available"),
        (["verify", "nosuchstack"], "unknown stack 'nosuchstack'"),
        (["serve", "flask-gunicorn-sync", "--port", "70000"], "port 70000 is out of range"),
        (["report", "/nonexistent/run"], "run folder"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(stackmark_cmd: list[str], args: list[str], needle: str) -> None:
    r = run(stackmark_cmd, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert needle in lines[0]


def test_unwritable_results_folder_fails_before_any_load(stackmark_cmd: list[str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    r = run(stackmark_cmd, "bench", "--stacks", "fastapi-uvicorn", "--out", str(blocker / "results"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "cannot write results" in r.stderr and "--out" in r.stderr
    assert "ready in" not in r.stdout  # no stack was started
