"""The harness under faults, with real processes: crashes, resume, full disks, remote targets."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from procs import cmdline, descendants, wait_for

pytestmark = pytest.mark.integration

SHORT = ["--scenario", "json", "--concurrency", "4", "--warmup", "0", "--primer", "0.5"]


def _locust_running_against(bench: subprocess.Popen[str], server_word: str) -> psutil.Process | None:
    """The server process (tree root) once Locust is loading it."""
    procs = descendants(bench.pid)
    if not any("locust" in cmdline(p) for p in procs):
        return None
    roots = [p for p in procs if server_word in cmdline(p) and p.ppid() == bench.pid]
    return roots[0] if roots else None


def _run_bench(stackmark_cmd: list[str], out: Path, *stacks: str, duration: str = "4") -> subprocess.Popen[str]:
    return subprocess.Popen([*stackmark_cmd, "bench", "--stacks", *stacks, *SHORT, "--duration", duration,
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killed_worker_fails_the_cell_keeps_the_rest_and_resume_redoes_only_it(
        tmp_path: Path, stackmark_cmd: list[str]) -> None:
    bench = _run_bench(stackmark_cmd, tmp_path, "flask-gunicorn-sync", "fastapi-uvicorn")
    try:
        master = wait_for(lambda: _locust_running_against(bench, "gunicorn"))
        time.sleep(2.0)  # inside the measured window
        workers = master.children()
        assert workers, "gunicorn has no worker"
        for w in workers:
            w.send_signal(signal.SIGKILL)
        out, _ = bench.communicate(timeout=120)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 1, out
    assert "died during the cell" in out
    run_dir = next(tmp_path.glob("2*"))
    flask_cell = json.loads((run_dir / "stacks/flask-gunicorn-sync/json-c4-r0/cell.json").read_text())
    assert flask_cell["status"] == "failed" and "died during the cell" in flask_cell["reason"]
    fastapi_cell = json.loads((run_dir / "stacks/fastapi-uvicorn/json-c4-r0/cell.json").read_text())
    assert fastapi_cell["status"] == "ok"  # the run moved on to the next stack
    assert (run_dir / "summary.csv").exists()  # the report was still written

    r = subprocess.run([*stackmark_cmd, "bench", "--resume", str(run_dir)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 cells were already finished, 1 ran now" in r.stdout
    flask_cell = json.loads((run_dir / "stacks/flask-gunicorn-sync/json-c4-r0/cell.json").read_text())
    assert flask_cell["status"] == "ok"
    assert list((run_dir / "stacks/flask-gunicorn-sync/attempts").iterdir())  # the failed attempt is kept
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["finished_at"] is not None and len(meta["resumed"]) == 1


def test_killed_master_is_a_failed_cell_with_log_tail(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    bench = _run_bench(stackmark_cmd, tmp_path, "fastapi-uvicorn")
    try:
        server = wait_for(lambda: _locust_running_against(bench, "uvicorn"))
        time.sleep(2.0)
        tree = [server, *server.children(recursive=True)]
        server.send_signal(signal.SIGKILL)
        out, _ = bench.communicate(timeout=120)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 1
    run_dir = next(tmp_path.glob("2*"))
    cell = json.loads((run_dir / "stacks/fastapi-uvicorn/json-c4-r0/cell.json").read_text())
    assert cell["status"] == "failed" and "exited with code -9" in cell["reason"]
    assert "server_log_tail" in cell
    _, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive


def test_sigterm_stops_everything_within_5_s_and_resume_finishes(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    bench = _run_bench(stackmark_cmd, tmp_path, "flask-gunicorn-gthread", "fastapi-uvicorn", duration="30")
    try:
        wait_for(lambda: _locust_running_against(bench, "gunicorn"))
        children = descendants(bench.pid)
        t0 = time.monotonic()
        bench.send_signal(signal.SIGTERM)
        bench.communicate(timeout=20)
        _, alive = psutil.wait_procs(children, timeout=max(0.1, 5 - (time.monotonic() - t0)))
        assert not alive, [cmdline(p) for p in alive]
        assert time.monotonic() - t0 < 5
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 130
    run_dir = next(tmp_path.glob("2*"))
    assert not (run_dir / "stacks/flask-gunicorn-gthread/json-c4-r0/cell.json").exists()
    meta = json.loads((run_dir / "run.json").read_text())
    meta["settings"]["duration_s"] = 1.0  # resume with a short window to keep the test quick
    (run_dir / "run.json").write_text(json.dumps(meta))
    r = subprocess.run([*stackmark_cmd, "bench", "--resume", str(run_dir)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for stack in ("flask-gunicorn-gthread", "fastapi-uvicorn"):
        assert json.loads((run_dir / f"stacks/{stack}/json-c4-r0/cell.json").read_text())["status"] == "ok"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tiny tmpfs needs root")
def test_full_disk_is_one_clear_error_and_no_half_written_file(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {r.stderr.decode().strip()}")
    try:
        bench = subprocess.run([*stackmark_cmd, "bench", "--stacks", "fastapi-uvicorn", "flask-gunicorn-sync", *SHORT,
                                "--duration", "1", "--out", str(mnt)], capture_output=True, text=True, timeout=120)
        assert bench.returncode == 2, bench.stdout + bench.stderr
        errors = [line for line in bench.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and "No space left on device" in errors[0] and "--resume" in errors[0]
        assert "Traceback" not in bench.stderr
        for p in mnt.rglob("*"):
            assert not p.name.endswith(".tmp"), f"half-written file left: {p}"
            if p.suffix == ".json" and p.stat().st_size:
                json.loads(p.read_text())  # every JSON on disk is whole
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_remote_target_is_refused_before_any_request(stackmark_cmd: list[str]) -> None:
    r = subprocess.run([*stackmark_cmd, "bench", "--target", "http://192.0.2.10:8000"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "--allow-remote" in r.stderr and "Traceback" not in r.stderr
    assert "run folder" not in r.stdout  # nothing was started or written


def test_database_password_never_reaches_results_or_logs(tmp_path: Path, stackmark_cmd: list[str],
                                                         postgres_url: str) -> None:
    from urllib.parse import urlsplit

    password = urlsplit(postgres_url).password
    assert password
    env = {**os.environ, "DATABASE_URL": postgres_url}
    r = subprocess.run([*stackmark_cmd, "bench", "--stacks", "flask-gunicorn-sync", *SHORT, "--duration", "1",
                        "--seed-db", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert password not in r.stdout + r.stderr
    run_dir = next(tmp_path.glob("2*"))
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.name == "run.json" for p in files)
    for p in files:
        assert password.encode() not in p.read_bytes(), f"password leaked into {p}"
    meta = json.loads((run_dir / "run.json").read_text())
    assert "***" in meta["settings"]["database"]


def test_unseeded_database_is_a_clear_error(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    empty = tmp_path / "empty.sqlite3"
    import sqlite3

    sqlite3.connect(empty).close()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{empty}"}
    r = subprocess.run([*stackmark_cmd, "bench", "--stacks", "flask-gunicorn-sync", *SHORT, "--duration", "1",
                        "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2 and "--seed-db" in r.stderr and "Traceback" not in r.stderr
