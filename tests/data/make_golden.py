"""Regenerate tests/data/run-golden/ and tests/data/run-sweep/, small hand-checkable run folders
(results/README.md, schema 1).

    .venv/bin/python tests/data/make_golden.py [OUT_DIR [SWEEP_OUT_DIR]]

Deterministic: no randomness, no clock. All times and counters are multiples
of 1/64 so interpolation and sums are exact in binary floating point and the
expected numbers in tests/test_analysis.py can be worked out by hand.

The story: an interrupted run (finished_at null) of scenario json at
concurrency 8 (up to 3 repeats), one stack per case the analysis must tell
apart. Not every stack has every repeat: it is a fixture, not a replay.
  - django-wsgi-uwsgi: started, failed verify (wrong content-type), not measured.
  - flask-gunicorn-sync r0: ok. 3600 requests (9 failures) in a 3 s window. Its
    latency.json is the older kind without a "users" block (starved unknown).
  - flask-gunicorn-sync r1: failed, "server exited with code -9"; no latency.json.
  - fastapi-uvicorn r0: ok, 12000 requests in 3 s; Locust at 93.75 % of its CPU (generator-bound).
  - fastapi-uvicorn r1: unfinished (no cell.json): the run was interrupted there.
  - fastapi-hypercorn r0-r2: the clean cell. 2000/2050/2100 req/s, steady CPU per request,
    every user served, Little's law holds: no flag may fire.
  - flask-gunicorn-gthread r0-r2: noisy. 1500/2200/2900 req/s (95% interval [1500, 2900], wider
    than 20% of the median 2200) while CPU per request stays within 292-280 us.
  - flask-uwsgi r0: starved, as uWSGI --http11-socket with one process: 1 of 8 users served,
    7 completed nothing; 800 req/s x 1.25 ms = 1 in flight, so Little's ratio is 8 (littles-off too).
  - django-asgi-uvicorn r0: Little's law mismatch only: 700 req/s x 8 ms = 5.6 in flight for
    8 users (ratio 1.43), every user served, Locust at 50 %.

run-sweep, a second finished run: scenario json swept over concurrency 8, 16, 32 (one repeat),
plus the open-model scenario open-json at max-in-flight 64 and 128. Every Little's ratio is
inside [0.8, 1.25]; Locust at 50 % except where said.
  - fastapi-uvicorn: 3000 / 4500 / 4800 req/s, p99 2.5 / 5 / 150 ms. c16 has Locust at 93.75 %
    (generator-bound). c32 ran with 2 Locust processes: the master's latency.json holds no
    requests, the two workers' latency-w101.json / latency-w102.json hold 7000 + 7400 requests and
    16 users each (per-user counts 8 x 430, 8 x 445 | 8 x 460, 8 x 465: merged median 452.5).
    Saturation within p99 <= 100 ms: c16.
  - flask-gunicorn-sync: 1000 / 1500 / 1800 req/s, p99 20 / 40 / 80 ms, c32 0.5 % errors: the
    best level is the highest tested (saturation not reached).
  - flask-gunicorn-gthread: 1200 / 1600 / 1700 req/s, p99 30 / 60 / 90 ms, but c32 has 2 % errors:
    saturation c16.
  - django-asgi-uvicorn: 500 / 520 / 510 req/s, p99 120 / 250 / 400 ms: no level meets the SLO.
  - fastapi-uvicorn open-json: 500 req/s offered; c64: 1488 completed, 1490 sent, 10 missed,
    4 late; c128: 1500 completed and sent, none missed or late. Not part of the saturation table.
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
    "fastapi-hypercorn": "[2026-11-22 19:40:49 +0000] [4301] [INFO] Running on http://127.0.0.1:40124 (CTRL + C to quit)\n",
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


def users(starved: int, low: float, median: float, high: float, expected: int = 8, seen: int = 8) -> dict:
    """latency.json's "users" block: completed requests per simulated user in the window."""
    return {"expected": expected, "seen": seen, "starved": starved, "min": low, "median": median, "max": high}


def latency(base: float, count: int, failures: int, hist: dict[int, int], users: dict | None = None) -> dict:
    assert sum(hist.values()) == count
    w = phases(base)
    out = {"bucket_ms": 0.01, "window": [w["measure"], w["end"]],
           "requests": {"/json": {"count": count, "failures": failures, "bytes": count * 27,
                                  "hist": {str(k): v for k, v in sorted(hist.items())}}}}
    if users is not None:
        out["users"] = users
    return out


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
        "latency.json": latency(fast0, 12000, 0, {150: 1200, 180: 4800, 200: 3600, 250: 1800, 400: 480, 900: 120},
                                users(0, 1400, 1500, 1600)),
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

    def ok_cell(stack: str, repeat: int, base: float, count: int, hist: dict[int, int], user_block: dict,
                server_rate: float, gen_rate: float, rss_mib: float) -> None:
        out[(stack, f"json-c8-r{repeat}")] = {
            "phases.json": phases(base),
            "latency.json": latency(base, count, 0, hist, user_block),
            "samples.csv": linear_samples(base, server_rate, gen_rate, 1 / 16, rss_mib),
            **locust_files(count, 0, count / 3),
            "cell.json": cell_meta(stack, repeat),
        }

    # The clean stack: 2000/2050/2100 req/s, mean 3.85 ms (Little: 8 / (rps x 0.00385) = 1.04/1.01/0.99),
    # server CPU 13/16 s per s, Locust 50 %, steal 3.125 %, all 8 users served.
    for repeat, count, user_block in ((0, 6000, users(0, 700, 750, 800)), (1, 6150, users(0, 720, 768.75, 810)),
                                      (2, 6300, users(0, 740, 787.5, 830))):
        ok_cell("fastapi-hypercorn", repeat, T0 + 50 + 10 * repeat, count,
                {350: count // 2, 400: count * 2 // 5, 500: count // 10}, user_block, 13 / 16, 1 / 2, 40)
    # Noisy: 1500/2200/2900 req/s; CPU per request 291.7/284.1/280.2 us (server 7/16, 10/16, 13/16 s per s).
    for repeat, count, hist, rate in ((0, 4500, {500: 2250, 560: 2250}, 7 / 16),
                                      (1, 6600, {340: 3300, 380: 3300}, 10 / 16),
                                      (2, 8700, {260: 4350, 290: 4350}, 13 / 16)):
        ok_cell("flask-gunicorn-gthread", repeat, T0 + 80 + 10 * repeat, count, hist,
                users(0, count / 8 - 50, count / 8, count / 8 + 50), rate, 1 / 2, 60)
    # Starved: one keep-alive connection served, 7 users waited the whole window without an error.
    ok_cell("flask-uwsgi", 0, T0 + 110, 2400, {110: 1200, 140: 1200}, users(7, 0, 0, 2400), 4 / 16, 1 / 4, 30)
    # Little's law off: 700 req/s x 8.0 ms = 5.6 requests in flight, but 8 users and none starved.
    ok_cell("django-asgi-uvicorn", 0, T0 + 120, 2100, {700: 1050, 900: 1050}, users(0, 250, 262.5, 275),
            15 / 16, 1 / 2, 70)
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


# -- run-sweep ---------------------------------------------------------------------

SWEEP_T0 = T0 + 3600
SWEEP_RUN_ID = "20261122-204000"
SWEEP_SETTINGS = {
    "scenarios": ["json", "open-json"], "concurrency": [8, 16, 32], "duration_s": 3.0, "warmup_s": 1.0,
    "primer_s": 0.5, "repeat": 1, "server_cpus": [1], "loadgen_cpus": [0], "workers": 1,
}
SWEEP_STACKS = ["fastapi-uvicorn", "flask-gunicorn-sync", "flask-gunicorn-gthread", "django-asgi-uvicorn"]


def sweep_phases(base: float, users: int, processes: int = 1) -> dict:
    out = {**phases(base), "users": users}
    if processes > 1:
        out["processes"] = processes
    return out


def even_counts(count: int, users: int) -> list[int]:
    """Per-user completed requests: as even as whole numbers allow, sorted."""
    low = count // users
    return sorted([low] * (users - count % users) + [low + 1] * (count % users))


def user_block(expected: int, counts: list[int]) -> dict:
    """The "users" block as scenarios/phases.py writes it now, with the per-user counts."""
    counts = sorted(counts)
    n = len(counts)
    median = None if not n else (counts[n // 2] if n % 2 else (counts[n // 2 - 1] + counts[n // 2]) / 2)
    return {"expected": expected, "seen": n, "starved": sum(1 for c in counts if c == 0),
            "min": counts[0] if counts else None, "median": median, "max": counts[-1] if counts else None,
            "counts": counts}


def sweep_latency(base: float, hist: dict[int, int], failures: int, users: dict, path: str = "/json",
                  extra: dict | None = None) -> dict:
    w = phases(base)
    count = sum(hist.values())
    requests = {path: {"count": count, "failures": failures, "bytes": count * 27,
                       "hist": {str(k): v for k, v in sorted(hist.items())}}} if count else {}
    return {"bucket_ms": 0.01, "window": [w["measure"], w["end"]], "requests": requests, "users": users,
            **(extra or {})}


def sweep_cell_meta(stack: str, scenario: str, endpoint: str, concurrency: int, processes: int = 1) -> dict:
    return {"stack": stack, "scenario": scenario, "endpoint": endpoint, "concurrency": concurrency, "repeat": 0,
            "status": "ok", "reason": None, "loadgen_cpus": [0], "loadgen_processes": processes}


def sweep_cells() -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    slot = iter(range(100))

    def closed(stack: str, conc: int, hist: dict[int, int], failures: int = 0, gen_rate: float = 1 / 2) -> None:
        base = SWEEP_T0 + 10 * next(slot)
        count = sum(hist.values())
        out[(stack, f"json-c{conc}-r0")] = {
            "phases.json": sweep_phases(base, conc),
            "latency.json": sweep_latency(base, hist, failures, user_block(conc, even_counts(count, conc))),
            "samples.csv": linear_samples(base, 10 / 16, gen_rate, 1 / 16, 50),
            **locust_files(count, failures, count / 3),
            "cell.json": sweep_cell_meta(stack, "json", "/json", conc),
        }

    closed("fastapi-uvicorn", 8, {250: 8910, 500: 90})  # 3000 req/s, p99 2.50, mean 2.525 ms
    closed("fastapi-uvicorn", 16, {300: 12000, 500: 1365, 1000: 135}, gen_rate=15 / 16)  # 4500, p99 5.00
    # c32 with 2 Locust processes: master file without requests, one file per worker
    base = SWEEP_T0 + 10 * next(slot)
    w101, w102 = {300: 6800, 15000: 200}, {300: 7200, 15000: 200}  # 4800 req/s together, p99 150.00
    out[("fastapi-uvicorn", "json-c32-r0")] = {
        "phases.json": sweep_phases(base, 32, processes=2),
        "latency.json": sweep_latency(base, {}, 0, user_block(32, []), extra={"processes": 2}),
        "latency-w101.json": sweep_latency(base, w101, 0, user_block(32, [430] * 8 + [445] * 8)),
        "latency-w102.json": sweep_latency(base, w102, 0, user_block(32, [460] * 8 + [465] * 8)),
        "samples.csv": linear_samples(base, 12 / 16, 1 / 2, 1 / 16, 50, procs=1),
        **locust_files(14400, 0, 4800.0),
        "cell.json": sweep_cell_meta("fastapi-uvicorn", "json", "/json", 32, processes=2),
    }
    closed("flask-gunicorn-sync", 8, {700: 2900, 2000: 100})  # 1000 req/s, p99 20
    closed("flask-gunicorn-sync", 16, {1000: 4400, 4000: 100})  # 1500, p99 40
    closed("flask-gunicorn-sync", 32, {1700: 5300, 8000: 100}, failures=27)  # 1800, p99 80, 0.5 % errors
    closed("flask-gunicorn-gthread", 8, {600: 3500, 3000: 100})  # 1200, p99 30
    closed("flask-gunicorn-gthread", 16, {900: 4700, 6000: 100})  # 1600, p99 60
    closed("flask-gunicorn-gthread", 32, {1800: 5000, 9000: 100}, failures=102)  # 1700, p99 90, 2 % errors
    closed("django-asgi-uvicorn", 8, {1000: 1400, 12000: 100})  # 500, p99 120
    closed("django-asgi-uvicorn", 16, {1000: 1400, 25000: 160})  # 520, p99 250
    closed("django-asgi-uvicorn", 32, {3000: 1400, 40000: 130})  # 510, p99 400

    def open_cell(conc: int, hist: dict[int, int], sent: int, missed: int, late: int) -> None:
        base = SWEEP_T0 + 10 * next(slot)
        count = sum(hist.values())
        out[("fastapi-uvicorn", f"open-json-c{conc}-r0")] = {
            "phases.json": sweep_phases(base, 1),
            "latency.json": sweep_latency(base, hist, 0, user_block(1, [count]),
                                          extra={"open": {"offered_rate": 500.0, "sent": sent, "missed": missed,
                                                          "late": late}}),
            "samples.csv": linear_samples(base, 4 / 16, 1 / 4, 1 / 16, 50),
            **locust_files(count, 0, count / 3),
            "cell.json": sweep_cell_meta("fastapi-uvicorn", "open-json", "/json", conc),
        }

    open_cell(64, {150: 1400, 300: 88}, sent=1490, missed=10, late=4)
    open_cell(128, {150: 1500}, sent=1500, missed=0, late=0)
    return out


def sweep_run_meta() -> dict:
    meta = run_meta()
    return {**meta, "run_id": SWEEP_RUN_ID, "started_at": SWEEP_T0, "finished_at": SWEEP_T0 + 600,
            "settings": SWEEP_SETTINGS, "stacks": SWEEP_STACKS}


def write_run(out: Path, meta: dict, stacks: list[str], files_by_cell: dict[tuple[str, str], dict]) -> None:
    if out.exists():
        shutil.rmtree(out)
    write(out / "run.json", meta)
    for stack in stacks:
        write(out / "stacks" / stack / "stack.json", STACKS[stack])
        write(out / "stacks" / stack / "server.log", SERVER_LOGS[stack])
    for (stack, cell_id), files in files_by_cell.items():
        for name, content in files.items():  # dict order: cell.json last, as the harness does
            write(out / "stacks" / stack / cell_id / name, content)


def main(out: Path, sweep_out: Path | None = None) -> None:
    write_run(out, run_meta(), list(STACKS), cells())
    if sweep_out is not None:
        write_run(sweep_out, sweep_run_meta(), SWEEP_STACKS, sweep_cells())


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else here / "run-golden",
         Path(sys.argv[2]) if len(sys.argv) > 2 else (None if len(sys.argv) > 1 else here / "run-sweep"))
