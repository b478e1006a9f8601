"""Issue 9: a cell that measured nothing is never "ok", nothing outlives the harness, no input gets past
the walls. Real servers, real Locust, real signals; each test failed on the code before the fix."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from procs import cmdline, descendants, wait_for
from servers.launcher import launch
from servers.matrix import load_matrix

pytestmark = pytest.mark.integration

SHORT = ["--scenario", "json", "--concurrency", "4", "--warmup", "0.5", "--primer", "0.5"]


def _cells(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(run_dir.glob("stacks/*/*/cell.json"))]


def _bench(cmd: list[str], out: Path, *args: str, env: dict[str, str] | None = None,
           timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, "bench", *args, "--out", str(out)], capture_output=True, text=True,
                          timeout=timeout, env=env)


# ---- 1. cells that measured nothing or mostly failures ---------------------------------------------------


class _TurnsBad(BaseHTTPRequestHandler):
    """Answers /json as the contract says for the first `good` requests (verification), then only 500s."""

    good = 8
    served = 0
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        with self.lock:
            type(self).served += 1
            ok = type(self).served <= self.good
        body = b'{"message": "Hello, World!"}' if ok else b"boom"
        self.send_response(200 if ok else 500)
        self.send_header("Content-Type", "application/json" if ok else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def turns_bad() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TurnsBad)
    _TurnsBad.served = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_a_target_that_turns_to_500s_after_verification_fails_its_cell(
        tmp_path: Path, stackmark_cmd: list[str], turns_bad: int) -> None:
    r = _bench(stackmark_cmd, tmp_path, "--target", f"http://127.0.0.1:{turns_bad}", *SHORT, "--duration", "2")
    assert r.returncode == 1, r.stdout + r.stderr
    (cell,) = _cells(next(tmp_path.glob("2*")))
    assert cell["status"] == "failed" and "mostly errors" in cell["reason"], cell
    assert "mostly errors" in r.stderr  # the terminal says which and why


def test_a_server_frozen_before_verification_is_never_ok(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    stack = load_matrix().stacks["bare-asgi-uvicorn"]
    with launch(stack, tmp_path / "server.log") as server:
        procs = [psutil.Process(server.pid), *descendants(server.pid)]
        for p in procs:
            p.send_signal(signal.SIGSTOP)
        try:
            r = _bench(stackmark_cmd, tmp_path / "out", "--target", server.url, *SHORT, "--duration", "1")
        finally:
            for p in procs:
                p.send_signal(signal.SIGCONT)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "failed verification" in r.stderr
    assert all(c["status"] != "ok" for c in _cells(next((tmp_path / "out").glob("2*"))))


def test_an_ipv6_target_is_measured(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    stack = load_matrix().stacks["bare-asgi-uvicorn"]
    with launch(stack, tmp_path / "server.log", host="::1") as server:
        assert server.url.startswith("http://[::1]:")
        r = _bench(stackmark_cmd, tmp_path / "out", "--target", server.url, *SHORT, "--duration", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    (cell,) = _cells(next((tmp_path / "out").glob("2*")))
    assert cell["status"] == "ok", cell
    latency = json.loads(next((tmp_path / "out").glob("*/stacks/*/*/latency.json")).read_text())
    assert latency["requests"]["/json"]["count"] > 0


# ---- 2. a stall inside the measured window --------------------------------------------------------------


def test_a_server_frozen_inside_the_window_is_flagged_stalled(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    import pandas as pd

    bench = subprocess.Popen([*stackmark_cmd, "bench", "--stacks", "bare-asgi-uvicorn", *SHORT, "--duration", "6",
                              "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        locust = wait_for(lambda: next((p for p in descendants(bench.pid) if "locust" in cmdline(p)), None))
        server = next(p for p in descendants(bench.pid) if "uvicorn" in cmdline(p) and "locust" not in cmdline(p))
        assert locust.is_running()
        time.sleep(3.5)  # Locust's start-up, the primer and the warm-up: inside the measured window now
        server.send_signal(signal.SIGSTOP)
        time.sleep(2.0)
        server.send_signal(signal.SIGCONT)
        out, _ = bench.communicate(timeout=120)
    finally:
        if bench.poll() is None:
            bench.kill()
    row = pd.read_csv(next(tmp_path.glob("*/summary.csv"))).iloc[0]
    assert row["status"] == "ok", out
    assert row["max_gap_s"] >= 1.5, out
    assert bool(row["stalled"]), out
    assert "stalled" in out  # the terminal ranking's flags


# ---- 3. nothing outlives the harness --------------------------------------------------------------------


def test_kill_9_of_the_bench_leaves_no_server_or_locust(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    bench = subprocess.Popen([*stackmark_cmd, "bench", "--stacks", "flask-gunicorn-sync", *SHORT, "--duration", "30",
                              "--out", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any("locust" in cmdline(p) for p in descendants(bench.pid)))
        children = [p for p in descendants(bench.pid) if "watchdog" not in cmdline(p)]
        assert any("gunicorn" in cmdline(p) for p in children)
        bench.send_signal(signal.SIGKILL)
        bench.wait(timeout=10)
        wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children),
                  timeout=15)
    finally:
        if bench.poll() is None:
            bench.kill()


def test_a_second_ctrl_c_during_teardown_still_stops_a_hung_server(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    serve = subprocess.Popen([*stackmark_cmd, "serve", "flask-gunicorn-sync", "--log", str(tmp_path / "s.log")],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        stdout = serve.stdout
        assert stdout is not None
        wait_for(lambda: "serving on" in stdout.readline(), timeout=60)
        server = [p for p in descendants(serve.pid) if "gunicorn" in cmdline(p)]
        assert server
        for p in server:
            p.send_signal(signal.SIGSTOP)  # hung: SIGTERM will not be acted on
        serve.send_signal(signal.SIGINT)
        time.sleep(1.0)  # inside the 5 s grace period of the teardown
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
        wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in server),
                  timeout=10)
        assert serve.returncode == 130
    finally:
        if serve.poll() is None:
            serve.kill()


# ---- 4. Locust's multi-process master: loopback, a port of its own, its own workers ----------------------


def test_two_multiprocess_runs_at_once_keep_their_own_workers(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs 2 CPUs for 2 Locust processes")
    args = ["--stacks", "bare-asgi-uvicorn", *SHORT, "--duration", "3", "--locust-processes", "2",
            "--loadgen-cpus", f"{cpus[0]},{cpus[1]}", "--server-cpus", str(cpus[1])]
    runs = [subprocess.Popen([*stackmark_cmd, "bench", *args, "--out", str(tmp_path / str(i))],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outs = [r.communicate(timeout=180)[0] for r in runs]
    for i, r in enumerate(runs):
        assert r.returncode == 0, outs[i]
        cell = next((tmp_path / str(i)).glob("*/stacks/*/json-*"))
        workers = sorted(cell.glob("latency-w*.json"))
        assert len(workers) == 2, outs[i]
        tokens = {json.loads(p.read_text())["run_token"] for p in [cell / "latency.json", *workers]}
        assert len(tokens) == 1
        assert "Address already in use" not in (cell / "locust.out").read_text()


# ---- 5. walls: secrets and paths --------------------------------------------------------------------------


def test_a_password_in_the_target_url_reaches_no_file(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    stack = load_matrix().stacks["bare-asgi-uvicorn"]
    with launch(stack, tmp_path / "server.log") as server:
        url = f"http://user:hunter2secret@127.0.0.1:{server.port}"
        r = _bench(stackmark_cmd, tmp_path / "out", "--target", url, *SHORT, "--duration", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hunter2secret" not in r.stdout + r.stderr
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert b"hunter2secret" not in path.read_bytes(), path


@pytest.mark.parametrize("name", ["../../../../tmp/x", "a/b", "..", ".hidden", "x" * 101])
def test_a_target_name_cannot_leave_the_run_folder(tmp_path: Path, stackmark_cmd: list[str], name: str) -> None:
    r = _bench(stackmark_cmd, tmp_path / "out", "--target", "http://127.0.0.1:9", "--target-name", name)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "cannot name a folder" in r.stderr
    assert not (tmp_path / "out").exists()


def test_a_matrix_whose_stack_id_is_a_path_is_refused(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    matrix = (Path(__file__).resolve().parent.parent / "servers/matrix.toml").read_text()
    bad = tmp_path / "matrix.toml"
    bad.write_text(matrix.replace("[apps.flask]", '[apps."../evil"]'))
    r = subprocess.run([*stackmark_cmd, "list", "--matrix", str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cannot name a folder" in r.stderr and "Traceback" not in r.stderr, r.stderr


# ---- 6. --resume runs the run's own experiment ---------------------------------------------------------------


def _stored_run(tmp_path: Path, database_url: str | None) -> Path:
    from scenarios.catalog import load_scenarios
    from stackmark.bench import new_run
    from stackmark.plan import BenchPlan

    plan = BenchPlan([load_matrix().stacks["bare-asgi-uvicorn"]], [load_scenarios()["json"]], [4], 1.0, 0.0, 0.5,
                     1, [], [], database_url=database_url)
    return new_run(plan, tmp_path).path


def test_resume_refuses_other_settings(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    run_dir = _stored_run(tmp_path, None)
    r = subprocess.run([*stackmark_cmd, "bench", "--resume", str(run_dir), "--duration", "3", "--concurrency", "8",
                        "--scenario", "plaintext"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "--resume runs the run's own settings" in r.stderr
    assert all(flag in r.stderr for flag in ("--duration", "--concurrency", "--scenario"))


def test_resume_refuses_another_database(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    run_dir = _stored_run(tmp_path, "postgresql://bench:s3cretpw@127.0.0.1:1/bench")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    r = subprocess.run([*stackmark_cmd, "bench", "--resume", str(run_dir)], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 2, r.stderr
    assert "set DATABASE_URL to that database" in r.stderr and "s3cretpw" not in r.stderr
    assert not list(run_dir.glob("stacks/*/*/cell.json"))  # nothing was measured on another database


# ---- 7. errors that do not mislead ----------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "needle"), [
    (["bench", "--server-cpus", "1-0"], "runs backwards"),
    (["bench", "--locust-processes", "50"], "one process per CPU"),
    (["serve", "bare-asgi-uvicorn", "--host", "not-an-address"], "not an IP address"),
])
def test_misleading_inputs_get_one_clear_line(stackmark_cmd: list[str], args: list[str], needle: str) -> None:
    r = subprocess.run([*stackmark_cmd, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], r.stderr
