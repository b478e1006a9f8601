"""What the two stored golden runs share: their stacks, server logs, sample and Locust files, run.json,
and the writer. The stories, and why everything is a multiple of 1/64, are in make_golden.py.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere: find runformat

from runformat import atomic, paths
from runformat.latency import TIMELINE_SLOT_S
from runformat.records import SAMPLE_COLUMNS

GOLDEN_SCHEMA_VERSION = 1  # on purpose: see the docstring
T0 = 1795376400.0  # 2026-11-22 19:40:00 UTC
RUN_ID = "20261122-194000"
MIB = 2**20

SETTINGS = {
    "scenarios": ["json"], "concurrency": [8], "duration_s": 3.0, "warmup_s": 1.0,
    "primer_s": 0.5, "repeat": 3, "server_cpus": [1], "loadgen_cpus": [0], "workers": 1,
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


def _stack(stack: str, app: str, framework: str, server: str, worker: str, interface: str, command: list[str],
           port: int) -> dict:
    return {"stack": stack, "app": app, "framework": framework, "server": server, "worker": worker,
            "interface": interface, "command": command, "port": port, "cpus": [1],
            "start": {"status": "ok", "ready_s": 0.5, "reason": None},
            "verify": {"status": "ok", "findings": []}}


STACKS.update({
    "fastapi-hypercorn": _stack("fastapi-hypercorn", "fastapi", "fastapi", "hypercorn", "uvloop", "asgi",
                                ["hypercorn", "apps.fastapi_app.app:app", "--bind", "127.0.0.1:40124",
                                 "--worker-class", "uvloop", "--workers", "1"], 40124),
    "flask-gunicorn-gthread": _stack("flask-gunicorn-gthread", "flask", "flask", "gunicorn", "gthread", "wsgi",
                                     ["gunicorn", "apps.flask_app.app:app", "--bind", "127.0.0.1:40125",
                                      "--workers", "1", "--worker-class", "gthread", "--threads", "4"], 40125),
    "flask-uwsgi": _stack("flask-uwsgi", "flask", "flask", "uwsgi", "prefork", "wsgi",
                          ["uwsgi", "--http11-socket", "127.0.0.1:40126", "--module", "apps.flask_app.app:app",
                           "--master", "--processes", "1", "--disable-logging"], 40126),
    "django-asgi-uvicorn": _stack("django-asgi-uvicorn", "django-asgi", "django", "uvicorn", "uvloop", "asgi",
                                  ["uvicorn", "apps.django_app.asgi:application", "--host", "127.0.0.1",
                                   "--port", "40127", "--loop", "uvloop", "--http", "httptools",
                                   "--no-access-log"], 40127),
})

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
    "fastapi-hypercorn": "[2026-11-22 19:40:49 +0000] [4301] [INFO] Running on http://127.0.0.1:40124 "
                         "(CTRL + C to quit)\n",
    "flask-gunicorn-gthread": "[2026-11-22 19:41:19 +0000] [4350] [INFO] Starting gunicorn 27.0.1\n",
    "flask-uwsgi": "*** Starting uWSGI 2.0.31 (64bit) on [Sun Nov 22 19:41:49 2026] ***\n"
                   "spawned uWSGI master process (pid: 4401)\nspawned uWSGI worker 1 (pid: 4402, cores: 1)\n",
    "django-asgi-uvicorn": "INFO:     Uvicorn running on http://127.0.0.1:40127 (Press CTRL+C to quit)\n",
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


def linear_samples(base: float, server_rate: float, gen_rate: float, steal_rate: float, rss_mib: float,
                   procs: int = 1) -> list[list]:
    """Counters growing at a constant rate (CPU seconds per second, multiples of 1/16), so each
    window delta is rate x 3 s exactly: server_cpu_s = server_rate x 3, generator_cpu_pct =
    gen_rate x 100 (1 Locust CPU), steal_pct = steal_rate x 3 / (3 s x 2 CPUs) x 100."""
    n = len(OFFSETS)
    return samples(base,
                   server_cpu=[1.0 + server_rate * t for t in OFFSETS],
                   rss_mib=[rss_mib] * n, procs=[procs] * n,
                   gen_cpu=[gen_rate * t for t in OFFSETS],
                   steal=[20.0 + steal_rate * t for t in OFFSETS])


def timeline(completed: list[int]) -> dict:
    """latency.json's "timeline" block: requests completed per 0.1 s slot of the 3 s window (30 slots)."""
    assert len(completed) == 30
    return {"slot_s": TIMELINE_SLOT_S, "completed": completed}


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
        paths.LOCUST_LOG: "[2026-11-22 19:40:11,000] bench-vm/INFO/locust.main: Run time limit set to 5.5 seconds\n"
                      "[2026-11-22 19:40:16,500] bench-vm/INFO/locust.main: Shutting down (exit code 0)\n",
    }


def run_meta() -> dict:
    return {
        "schema_version": GOLDEN_SCHEMA_VERSION,
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
    if isinstance(content, dict):
        atomic.write_json(path, content)
    elif isinstance(content, list):
        lines = [",".join(SAMPLE_COLUMNS)] + [",".join(repr(v) for v in row) for row in content]
        atomic.write_text(path, "\n".join(lines) + "\n")
    else:
        atomic.write_text(path, content)


def write_run(out: Path, meta: dict, stacks: list[str], files_by_cell: dict[tuple[str, str], dict]) -> None:
    if out.exists():
        shutil.rmtree(out)
    write(out / paths.RUN_JSON, meta)
    for stack in stacks:
        write(paths.stack_dir(out, stack) / paths.STACK_JSON, STACKS[stack])
        write(paths.stack_dir(out, stack) / paths.SERVER_LOG, SERVER_LOGS[stack])
    for (stack, cell_id), files in files_by_cell.items():
        for name, content in files.items():  # dict order: cell.json last, as the harness does
            write(paths.stack_dir(out, stack) / cell_id / name, content)
