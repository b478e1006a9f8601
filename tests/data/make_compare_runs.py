"""Regenerate tests/data/compare-*/: small stored run folders that `stackmark compare` is tested on.

    .venv/bin/python tests/data/make_compare_runs.py [OUT_DIR]

Deterministic: no randomness, no clock. Every folder is a finished run of
scenario json (/json) at concurrency 8, a 4 s measured window, on the same
2-core host, with three stacks: fastapi-uvicorn (about 4000 req/s, 237.5 us of
server CPU per request), flask-gunicorn-sync (2000 req/s, 475 us, 0.1 % errors)
and django-asgi-uvicorn (500 req/s, 1900 us). Each server uses 95 % of its core
and Locust 60 % of its own (neither generator-bound nor idle: no flag fires), other
processes 2 % of the machine; latency follows Little's law (mean = 8 / rps) with p99 at
2.5 means. Repeats differ by fixed factors of about 1-2 % (JITTER), so no two
runs hold the same numbers. Files: run.json, stacks/<id>/stack.json and per cell
cell.json, latency.json (with the window, so no phases.json is needed) and
samples.csv, all named by runformat.paths and written with runformat.atomic.

  - compare-base: 5 repeats; the base of every pair.
  - compare-aa: its A/A twin: same distributions, other jitter, other ports, same commit.
  - compare-regressed: compare-aa with flask-gunicorn-sync's CPU per request +20 % in every repeat
    (same rps, latency and errors), another commit and flask 3.1.3 -> 3.1.4.
  - compare-noisy: other processes used 40 % of the machine (flagged noisy) and every stack's rps
    halved (latency doubled), CPU per request unchanged.
  - compare-failed: compare-aa, but every repeat of flask-gunicorn-sync failed ("server process
    4151 died during the cell").
  - compare-one: one repeat of each stack (too few for any verdict).
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere: find runformat

from runformat import SCHEMA_VERSION, SQLITE_PER_RUN, atomic, paths
from runformat.latency import user_summary
from runformat.records import SAMPLE_COLUMNS

DATA = Path(__file__).resolve().parent
T0 = 1795500000.0
WINDOW_S = 4.0
USERS = 8
SERVER_SHARE, GEN_SHARE, OTHER_SHARE = 0.95, 0.60, 0.04  # CPU seconds per second (other: of 2 CPUs = 2 %)

# stack -> (rps, error fraction, app import path); CPU per request = SERVER_SHARE / rps
STACKS = {
    "fastapi-uvicorn": (4000.0, 0.0, "apps.fastapi_app:app"),
    "flask-gunicorn-sync": (2000.0, 0.001, "apps.flask_app:app"),
    "django-asgi-uvicorn": (500.0, 0.0, "apps.django_app.asgi:application"),
}
# per run: per repeat factors on rps, CPU per request and p99
JITTER = {
    "base": ([1.000, 0.985, 1.012, 0.994, 1.006], [1.000, 1.010, 0.992, 1.004, 0.996], [1.00, 1.02, 0.99, 1.01, 0.98]),
    "aa": ([0.992, 1.008, 0.998, 1.015, 0.988], [1.006, 0.994, 1.002, 0.990, 1.008], [0.99, 1.01, 1.02, 0.98, 1.00]),
}
SPEC = {"fastapi-uvicorn": ("fastapi", "fastapi", "uvicorn", "uvloop", "asgi"),
        "flask-gunicorn-sync": ("flask", "flask", "gunicorn", "sync", "wsgi"),
        "django-asgi-uvicorn": ("django-asgi", "django", "uvicorn", "uvloop", "asgi")}
PACKAGES = {"locust": "2.47.0", "gunicorn": "27.0.1", "uvicorn": "0.54.0", "flask": "3.1.3", "django": "5.2.19",
            "fastapi": "0.165.0"}
SHA_A, SHA_B = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d", "9f8e7d6c5b4a39281706f5e4d3c2b1a098f7e6d5"


def command(stack: str, port: int) -> list[str]:
    target = STACKS[stack][2]
    if stack.startswith("flask-gunicorn"):
        return ["/opt/venv/bin/python", "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                "--worker-class", "sync", "--backlog", "2048", target]
    return ["/opt/venv/bin/python", "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--backlog", "2048"]


def run_meta(run_id: str, repeats: int, sha: str, packages: dict[str, str]) -> dict:
    return {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "started_at": T0, "finished_at": T0 + 600,
        "git": {"sha": sha, "dirty": False},
        "host": {"hostname": "bench-vm", "cpu_model": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
                 "cpu_count": 2, "python": "3.11.9", "platform": "Linux-6.1.0-28-cloud-amd64-x86_64-with-glibc2.36",
                 "kernel": "6.1.0-28-cloud-amd64"},
        "packages": packages,
        "settings": {"scenarios": ["json"], "concurrency": [USERS], "duration_s": WINDOW_S, "warmup_s": 1.0,
                     "primer_s": 0.5, "repeat": repeats, "server_cpus": [1], "loadgen_cpus": [0], "workers": [1],
                     "loadgen": "locust FastHttpUser, 1 process(es)", "loadgen_processes": 1,
                     "database": SQLITE_PER_RUN, "target": None, "profile": "quick"},
        "stacks": list(STACKS),
    }


def stack_record(stack: str, port: int) -> dict:
    app, framework, server, worker, interface = SPEC[stack]
    return {"stack": stack, "app": app, "framework": framework, "server": server, "worker": worker,
            "interface": interface, "command": command(stack, port), "port": port, "cpus": [1], "repeat": 4,
            "start": {"status": "ok", "ready_s": 0.5, "reason": None}, "verify": {"status": "ok", "findings": []}}


def hist(count: int, mean_ms: float, p99_ms: float) -> dict[str, int]:
    """count responses around mean_ms with the top 1.5 % at p99_ms, so the 99th percentile reads p99_ms."""
    tail = math.floor(0.015 * count) + 1
    low, mid = math.floor(0.55 * count), math.floor(0.33 * count)
    buckets = {int(0.9 * mean_ms * 100): low, int(1.05 * mean_ms * 100): mid,
               int(1.2 * mean_ms * 100): count - low - mid - tail, int(p99_ms * 100): tail}
    return {str(k): v for k, v in sorted(buckets.items())}


def cell_files(stack: str, repeat: int, base_t: float, rps: float, cpu_us: float, p99_factor: float,
               other_share: float) -> dict[str, object]:
    errors_fraction = STACKS[stack][1]
    requests = round(rps * WINDOW_S)
    failures = round(requests * errors_fraction)
    mean_ms = USERS / rps * 1000
    measure, end = base_t + 2.0, base_t + 2.0 + WINDOW_S
    per_user = [requests // USERS + (1 if i < requests % USERS else 0) for i in range(USERS)]
    latency = {"bucket_ms": 0.01, "window": [measure, end], "run_token": f"tok-{stack}-{repeat}",
               "requests": {"/json": {"count": requests, "failures": failures, "bytes": requests * 27,
                                      "hist": hist(requests, mean_ms, 2.5 * mean_ms * p99_factor)}},
               "users": user_summary(USERS, per_user)}
    server_rate = cpu_us * requests / 1e6 / WINDOW_S  # CPU seconds per second over the window
    rows = []
    for offset in (1.5, 4.0, 6.5):  # counters grow linearly: any window's delta is exact
        t = base_t + offset
        server, gen = 10.0 + server_rate * offset, 5.0 + GEN_SHARE * offset
        busy = 4000.0 + (server_rate + GEN_SHARE + other_share) * offset
        rows.append([t, server, 60 * 2**20, 1, gen, 0.0, busy])
    return {paths.LATENCY_JSON: latency, paths.SAMPLES_CSV: rows, paths.CELL_JSON: cell_record(stack, repeat)}


def cell_record(stack: str, repeat: int, reason: str | None = None) -> dict:
    return {"stack": stack, "scenario": "json", "endpoint": "/json", "concurrency": USERS, "repeat": repeat,
            "status": "failed" if reason else "ok", "reason": reason, "loadgen_cpus": [0], "loadgen_processes": 1}


def write(path: Path, content: object) -> None:
    if isinstance(content, list):
        lines = [",".join(SAMPLE_COLUMNS)] + [",".join(repr(v) for v in row) for row in content]
        atomic.write_text(path, "\n".join(lines) + "\n")
    else:
        atomic.write_json(path, content)


def write_run(out: Path, jitter: str, repeats: int = 5, sha: str = SHA_A, port: int = 40100,
              packages: dict[str, str] = PACKAGES, cpu_factor: dict[str, float] | None = None,
              rps_factor: float = 1.0, other_share: float = OTHER_SHARE, failed: str | None = None) -> None:
    """One run folder: every stack x repeat of json at concurrency 8, repeats interleaved in time."""
    if out.exists():
        shutil.rmtree(out)
    write(out / paths.RUN_JSON, run_meta(out.name, repeats, sha, packages))
    rps_j, cpu_j, p99_j = JITTER[jitter]
    for i, stack in enumerate(STACKS):
        write(paths.stack_dir(out, stack) / paths.STACK_JSON, stack_record(stack, port + i))
        rps = STACKS[stack][0]
        cpu_us = SERVER_SHARE / rps * 1e6 * (cpu_factor or {}).get(stack, 1.0)
        for r in range(repeats):
            cell = paths.cell_dir(out, stack, "json", USERS, r)
            if stack == failed:
                write(cell / paths.CELL_JSON, cell_record(stack, r, "server process 4151 died during the cell"))
                continue
            files = cell_files(stack, r, T0 + 10 * (r * len(STACKS) + i), rps * rps_j[r] * rps_factor,
                               cpu_us * cpu_j[r], p99_j[r], other_share)
            for name, content in files.items():  # cell.json last, as the harness writes it
                write(cell / name, content)


def main(out_dir: Path = DATA) -> None:
    write_run(out_dir / "compare-base", "base")
    write_run(out_dir / "compare-aa", "aa", port=40200)
    write_run(out_dir / "compare-regressed", "aa", port=40300, sha=SHA_B, packages={**PACKAGES, "flask": "3.1.4"},
              cpu_factor={"flask-gunicorn-sync": 1.2})
    write_run(out_dir / "compare-noisy", "aa", port=40400, rps_factor=0.5, other_share=0.8)
    write_run(out_dir / "compare-failed", "aa", port=40500, failed="flask-gunicorn-sync")
    write_run(out_dir / "compare-one", "base", repeats=1, port=40600)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA)
