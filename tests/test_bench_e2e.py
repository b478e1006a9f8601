"""`stackmark bench` end to end: real servers, real Locust, raw results, summary, report."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from procs import cmdline
from runformat import SCHEMA_VERSION

pytestmark = pytest.mark.integration

SUMMARY_COLUMNS = [
    "stack", "framework", "server", "scenario", "endpoint", "concurrency", "repeat", "requests", "errors",
    "rps", "p50_ms", "p90_ms", "p99_ms", "server_cpu_s", "cpu_us_per_req", "server_rss_mb", "generator_cpu_pct",
]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory,
              stackmark_cmd: list[str]) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("results")
    r = subprocess.run(
        [*stackmark_cmd, "bench", "--stacks", "fastapi-uvicorn", "flask-gunicorn-sync",
         "--scenario", "json", "--concurrency", "8", "--duration", "2", "--warmup", "1", "--primer", "0.5",
         "--out", str(out)],
        capture_output=True, text=True, timeout=240,
    )
    runs = list(out.glob("2*"))
    assert len(runs) == 1, (r.stdout, r.stderr)
    return r, runs[0]


def test_bench_exits_zero_and_prints_where_the_report_is(bench_run) -> None:
    r, run_dir = bench_run
    assert r.returncode == 0, r.stdout + r.stderr
    assert str(run_dir / "report" / "index.html") in r.stdout.replace("\n", "")
    assert "fastapi-uvicorn" in r.stdout and "req/s" in r.stdout


def test_raw_results_have_full_metadata(bench_run) -> None:
    _, run_dir = bench_run
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["schema_version"] == SCHEMA_VERSION == 2
    assert meta["finished_at"] is not None
    assert meta["packages"]["locust"] and meta["packages"]["uvicorn"] and meta["packages"]["flask"]
    assert meta["host"]["cpu_count"] >= 1 and meta["host"]["cpu_model"]
    assert "sha" in meta["git"]
    assert meta["settings"]["concurrency"] == [8]
    for stack in ("fastapi-uvicorn", "flask-gunicorn-sync"):
        cell = run_dir / "stacks" / stack / "json-c8-r0"
        for name in ("cell.json", "phases.json", "latency.json", "samples.csv", "locust_stats.csv"):
            assert (cell / name).exists(), cell / name
        phases = json.loads((cell / "phases.json").read_text())
        assert phases["primer"] < phases["warmup"] < phases["measure"] < phases["end"]
        stack_meta = json.loads((run_dir / "stacks" / stack / "stack.json").read_text())
        assert stack_meta["verify"]["status"] == "ok" and stack_meta["start"]["status"] == "ok"


def test_summary_is_one_tidy_row_per_cell(bench_run) -> None:
    _, run_dir = bench_run
    df = pd.read_csv(run_dir / "summary.csv")
    assert list(df.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS or set(SUMMARY_COLUMNS) <= set(df.columns)
    assert sorted(df["stack"]) == ["fastapi-uvicorn", "flask-gunicorn-sync"]
    assert (df["requests"] > 0).all() and (df["errors"] == 0).all()
    assert (df["rps"] > 0).all() and (df["cpu_us_per_req"] > 0).all() and (df["server_rss_mb"] > 1).all()
    assert (df["p50_ms"] <= df["p90_ms"]).all() and (df["p90_ms"] <= df["p99_ms"]).all()
    assert set(df["framework"]) == {"fastapi", "flask"} and set(df["server"]) == {"uvicorn", "gunicorn"}


def test_report_is_self_contained_and_can_be_rebuilt_without_load(bench_run, stackmark_cmd: list[str]) -> None:
    _, run_dir = bench_run
    index = run_dir / "report" / "index.html"
    html = index.read_text()
    assert "data:image/png;base64," in html and "fastapi-uvicorn" in html
    for png in ("throughput.png", "latency.png", "cpu_per_request.png", "memory.png"):
        assert (run_dir / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    index.unlink()
    r = subprocess.run([*stackmark_cmd, "report", str(run_dir)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert index.exists()


def test_ctrl_c_leaves_no_server_or_locust_and_keeps_finished_cells(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    proc = subprocess.Popen(
        [*stackmark_cmd, "bench", "--stacks", "flask-gunicorn-sync", "fastapi-uvicorn", "--scenario", "json",
         "--concurrency", "4", "--duration", "30", "--warmup", "0", "--primer", "0.5", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        while time.monotonic() < deadline:  # wait until both a server and Locust run
            children = psutil.Process(proc.pid).children(recursive=True)
            if any("locust" in cmdline(c) for c in children):  # a child may exit (a zombie) while we look
                break
            time.sleep(0.2)
        assert children, "bench never started a server and Locust"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        out, _ = proc.communicate(timeout=20)
        gone, alive = psutil.wait_procs(children, timeout=max(0.1, 5 - (time.monotonic() - t0)))
        assert not alive, [cmdline(p) for p in alive]
        assert proc.returncode == 130, out
        assert "interrupted" in out
        run_dir = next(tmp_path.glob("2*"))
        assert json.loads((run_dir / "run.json").read_text())["finished_at"] is None
    finally:
        if proc.poll() is None:
            proc.kill()


def test_websocket_scenario_runs_on_asgi_and_is_skipped_on_wsgi(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    r = subprocess.run(
        [*stackmark_cmd, "bench", "--stacks", "fastapi-uvicorn", "flask-gunicorn-sync", "--scenario", "ws",
         "--concurrency", "4", "--duration", "1", "--warmup", "0.5", "--primer", "0.5", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    df = pd.read_csv(next(tmp_path.glob("2*")) / "summary.csv")
    assert list(df["stack"]) == ["fastapi-uvicorn"]  # a WSGI stack has no /ws: not measured, not failed
    assert df["requests"].iloc[0] > 0 and df["errors"].iloc[0] == 0 and df["starved_users"].iloc[0] == 0


def test_scenario_no_selected_stack_serves_is_a_clear_error(stackmark_cmd: list[str], tmp_path: Path) -> None:
    r = subprocess.run([*stackmark_cmd, "bench", "--stacks", "flask-gunicorn-sync", "--scenario", "ws",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "ASGI" in r.stderr and "Traceback" not in r.stderr
