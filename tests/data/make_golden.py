"""Regenerate tests/data/run-golden/, a small hand-checkable run folder (results/README.md, schema 1).

    .venv/bin/python tests/data/make_golden.py [OUT_DIR]

Deterministic: no randomness, no clock. All times and counters are multiples
of 1/64 so interpolation and sums are exact in binary floating point and the
expected numbers in tests/test_analysis.py can be worked out by hand.

The story: an interrupted run (finished_at null) of scenario json at
concurrency 8, 2 repeats, stacks in order django-wsgi-uwsgi, flask-gunicorn-sync,
fastapi-uvicorn.
  - django-wsgi-uwsgi: started, failed verify (wrong content-type), not measured.
  - flask-gunicorn-sync r0: ok. 3600 requests (9 failures) in a 3 s window.
  - flask-gunicorn-sync r1: failed, "server exited with code -9"; no latency.json.
  - fastapi-uvicorn r0: ok, 12000 requests in 3 s; Locust at 93.75 % of its CPU (generator-bound).
  - fastapi-uvicorn r1: unfinished (no cell.json): the run was interrupted there.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

T0 = 1795376400.0  # 2026-11-22 19:40:00 UTC
RUN_ID = "20261122-194000"
SAMPLE_COLUMNS = ["t", "server_cpu_s", "server_rss_bytes", "server_procs", "gen_cpu_s", "steal_s", "busy_s"]
MIB = 2**20

SETTINGS = {
    "scenarios": ["json"], "concurrency": [8], "duration_s": 3.0, "warmup_s": 1.0,
    "primer_s": 0.5, "repeat": 2, "server_cpus": [1], "loadgen_cpus": [0], "workers": 1,
}

STACKS = {
    "django-wsgi-uwsgi": {
        "stack": "django-wsgi-uwsgi", "app": "django", "framework": "django",
        "server": "uwsgi", "worker": "prefork", "interface": "wsgi",
        "command": ["uwsgi", "--http-socket", "127.0.0.1:40121", "--module", "apps.django_app.wsgi:application",
                    "--master", "--processes", "1", "--disable-logging"],
        "port": 40121, "cpus": [1],
        "start": {"status": "ok", "ready_s": 0.87, "reason": None},
        "verify": {"status": "fail", "findings": [
            {"endpoint": "/json", "level": "fail", "check": "content-type",
             "expected": "application/json", "actual": "text/html; charset=utf-8"}]},
    },
    "flask-gunicorn-sync": {
        "stack": "flask-gunicorn-sync", "app": "flask", "framework": "flask",
        "server": "gunicorn", "worker": "sync", "interface": "wsgi",
        "command": ["gunicorn", "apps.flask_app:app", "--bind", "127.0.0.1:40122",
                    "--workers", "1", "--worker-class", "sync"],
        "port": 40122, "cpus": [1],
        "start": {"status": "ok", "ready_s": 0.52, "reason": None},
        "verify": {"status": "ok", "findings": []},
    },
    "fastapi-uvicorn": {
        "stack": "fastapi-uvicorn", "app": "fastapi", "framework": "fastapi",
        "server": "uvicorn", "worker": "uvloop", "interface": "asgi",
        "command": ["uvicorn", "apps.fastapi_app:app", "--host", "127.0.0.1", "--port", "40123",
                    "--loop", "uvloop", "--http", "httptools", "--no-access-log"],
        "port": 40123, "cpus": [1],
        "start": {"status": "ok", "ready_s": 0.41, "reason": None},
        "verify": {"status": "ok", "findings": []},
    },
}

SERVER_LOGS = {
    "django-wsgi-uwsgi": "*** Starting uWSGI 2.0.31 (64bit) on [Sun Nov 22 19:40:01 2026] ***\n"
                         "spawned uWSGI master process (pid: 4101)\nspawned uWSGI worker 1 (pid: 4102, cores: 1)\n"
                         "SIGINT/SIGTERM received...killing workers...\n",
    "flask-gunicorn-sync": "[2026-11-22 19:40:09 +0000] [4150] [INFO] Starting gunicorn 27.0.1\n"
                           "[2026-11-22 19:40:09 +0000] [4150] [INFO] Listening at: http://127.0.0.1:40122 (4150)\n"
                           "[2026-11-22 19:40:09 +0000] [4151] [INFO] Booting worker with pid: 4151\n",
    "fastapi-uvicorn": "INFO:     Started server process [4230]\nINFO:     Waiting for application startup.\n"
                       "INFO:     Application startup complete.\n"
                       "INFO:     Uvicorn running on http://127.0.0.1:40123 (Press CTRL+C to quit)\n",
}

# Sample offsets from a cell's base time: every 0.5 s from just before Locust starts (base + 1.0).
OFFSETS = [0.75 + 0.5 * i for i in range(11)]


def phases(base: float) -> dict:
    # primer 0.5 s, warm-up 1.0 s, measured window [base + 2.5, base + 5.5] = 3.0 s
    return {"primer": base + 1.0, "warmup": base + 1.5, "measure": base + 2.5, "end": base + 5.5, "users": 8}


def busy(t: float) -> float:
    """Machine-wide busy CPU seconds: about 1.75 of the 2 CPUs busy, exact in binary."""
    return 4980.0 + 1.75 * (t - T0)


def samples(base: float, server_cpu: list[float], rss_mib: list[float], procs: list[int],
            gen_cpu: list[float], steal: list[float]) -> list[list]:
    rows = []
    for i, t_off in enumerate(OFFSETS[: len(server_cpu)]):
        t = base + t_off
        rows.append([t, server_cpu[i], int(rss_mib[i] * MIB), procs[i], gen_cpu[i], steal[i], busy(t)])
    return rows


def latency(base: float, count: int, failures: int, hist: dict[int, int]) -> dict:
    assert sum(hist.values()) == count
    w = phases(base)
    return {"bucket_ms": 0.01, "window": [w["measure"], w["end"]],
            "requests": {"/json": {"count": count, "failures": failures, "bytes": count * 27,
                                   "hist": {str(k): v for k, v in sorted(hist.items())}}}}


def cell_meta(stack: str, repeat: int, status: str = "ok", reason: str | None = None) -> dict:
    return {"stack": stack, "scenario": "json", "endpoint": "/json", "concurrency": 8, "repeat": repeat,
            "status": status, "reason": reason, "loadgen_cpus": [0], "loadgen_processes": 1}


LOCUST_STATS_HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
                       "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
                       "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n")


def locust_files(requests: int, failures: int, rps: float) -> dict[str, str]:
    """Locust's own CSVs (whole run, all phases): present for realism, not read by analysis."""
    row = f"GET,/json,{requests},{failures},2,2.1,0.9,31,27.0,{rps},0.0,2,2,3,3,3,4,5,5,12,31,31\n"
    agg = row.replace("GET,/json", ",Aggregated")
    return {
        "locust_stats.csv": LOCUST_STATS_HEADER + row + agg,
        "locust_stats_history.csv": "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,99%,"
                                    "Total Request Count,Total Failure Count\n",
        "locust_failures.csv": "Method,Name,Error,Occurrences\n"
                               + (f"GET,/json,\"ConnectionResetError(104, 'Connection reset by peer')\",{failures}\n"
                                  if failures else ""),
        "locust_exceptions.csv": "Count,Message,Traceback,Nodes\n",
        "locust.log": "[2026-11-22 19:40:11,000] bench-vm/INFO/locust.main: Run time limit set to 5.5 seconds\n"
                      "[2026-11-22 19:40:16,500] bench-vm/INFO/locust.main: Shutting down (exit code 0)\n",
    }


def cells() -> dict[tuple[str, str], dict]:
    """(stack, cell-id) -> {file name: content (dict = JSON, list = CSV rows, str = text)}."""
    flask0, flask1, fast0, fast1 = T0 + 10, T0 + 20, T0 + 30, T0 + 40
    out: dict[tuple[str, str], dict] = {}

    out[("flask-gunicorn-sync", "json-c8-r0")] = {
        "phases.json": phases(flask0),
        "latency.json": latency(flask0, 3600, 9, {400: 600, 550: 1500, 700: 900, 1000: 420, 2500: 150, 9000: 30}),
        "samples.csv": samples(
            flask0,
            server_cpu=[0.5, 0.6875, 0.9375, 1.25, 1.75, 2.21875, 2.6875, 3.15625, 3.625, 4.09375, 4.53125],
            rss_mib=[52, 53, 54, 54.5, 55, 55.25, 55.5, 56, 55.75, 55.5, 55.5],
            procs=[2] * 11,
            gen_cpu=[0.0, 0.125, 0.3125, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25],
            steal=[10.375, 10.4375, 10.46875, 10.5, 10.5625, 10.625, 10.6875, 10.75, 10.8125, 10.875, 10.9375],
        ),
        **locust_files(4410, 11, 801.8),
        "cell.json": cell_meta("flask-gunicorn-sync", 0),
    }
    out[("flask-gunicorn-sync", "json-c8-r1")] = {
        "phases.json": phases(flask1),
        "samples.csv": samples(
            flask1,
            server_cpu=[0.5, 0.6875, 0.9375, 1.25, 1.75, 0.0],
            rss_mib=[52, 53, 54, 54.5, 55, 0],
            procs=[2, 2, 2, 2, 2, 0],
            gen_cpu=[0.0, 0.125, 0.3125, 0.5, 0.75, 0.875],
            steal=[11.0, 11.03125, 11.0625, 11.09375, 11.125, 11.15625],
        ),
        "locust.log": "[2026-11-22 19:40:23,100] bench-vm/ERROR/locust.user.task: ConnectionRefusedError(111)\n",
        "cell.json": cell_meta("flask-gunicorn-sync", 1, "failed", "server exited with code -9"),
    }
    out[("fastapi-uvicorn", "json-c8-r0")] = {
        "phases.json": phases(fast0),
        "latency.json": latency(fast0, 12000, 0, {150: 1200, 180: 4800, 200: 3600, 250: 1800, 400: 480, 900: 120}),
        "samples.csv": samples(
            fast0,
            server_cpu=[0.625, 0.75, 1.0, 1.5, 2.0, 2.5, 2.875, 3.375, 3.75, 4.25, 4.5],
            rss_mib=[40, 42, 44, 45, 46, 46.5, 47, 47.5, 48, 47.75, 49],
            procs=[1] * 11,
            gen_cpu=[0.0, 0.25, 0.625, 1.0, 1.46875, 1.9375, 2.40625, 2.875, 3.34375, 3.8125, 4.28125],
            steal=[11.375, 11.4375, 11.46875, 11.5, 11.5625, 11.59375, 11.625, 11.65625, 11.671875, 11.6875, 11.75],
        ),
        **locust_files(14700, 0, 2672.7),
        "cell.json": cell_meta("fastapi-uvicorn", 0),
    }
    # Interrupted after Locust finished but before the harness wrote samples.csv and cell.json.
    out[("fastapi-uvicorn", "json-c8-r1")] = {
        "phases.json": phases(fast1),
        "latency.json": latency(fast1, 11000, 0, {150: 1000, 200: 10000}),
        "locust.log": "[2026-11-22 19:40:41,000] bench-vm/INFO/locust.main: Run time limit set to 5.5 seconds\n",
    }
    return out


def run_meta() -> dict:
    return {
        "schema_version": 1,
        "run_id": RUN_ID,
        "started_at": T0, "finished_at": None,
        "git": {"sha": "3f5c9e1d2b7a48c6e0f1a2b3c4d5e6f708192a3b", "dirty": True},
        "host": {"hostname": "bench-vm", "cpu_model": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
                 "cpu_count": 2, "python": "3.11.9",
                 "platform": "Linux-6.1.0-28-cloud-amd64-x86_64-with-glibc2.36", "kernel": "6.1.0-28-cloud-amd64"},
        "packages": {"locust": "2.47.0", "gunicorn": "27.0.1", "uvicorn": "0.54.0", "uvloop": "0.23.0",
                     "httptools": "0.9.0", "uwsgi": "2.0.31", "hypercorn": "0.18.0", "flask": "3.1.3",
                     "django": "5.2.19", "fastapi": "0.165.0", "psutil": "7.2.2"},
        "settings": SETTINGS,
        "stacks": list(STACKS),
    }


def write(path: Path, content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    elif isinstance(content, list):
        lines = [",".join(SAMPLE_COLUMNS)] + [",".join(repr(v) for v in row) for row in content]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        path.write_text(content, encoding="utf-8")


def main(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    write(out / "run.json", run_meta())
    for stack, spec in STACKS.items():
        write(out / "stacks" / stack / "stack.json", spec)
        write(out / "stacks" / stack / "server.log", SERVER_LOGS[stack])
    for (stack, cell_id), files in cells().items():
        for name, content in files.items():  # dict order: cell.json last, as the harness does
            write(out / "stacks" / stack / cell_id / name, content)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "run-golden")
