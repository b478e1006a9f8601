"""The harness's own benchmark: how far can its numbers be trusted on this machine?

Measures, in one run (`make bench-harness`):
  1. the load generator's ceiling: Locust vs wrk on the same target and core (ratio);
  2. harness overhead per stack: start + ready + verify + teardown, in seconds;
  3. run-to-run spread: coefficient of variation over N repeats of rps and of
     cpu_us_per_req for a few stacks, side by side.
Writes results/harness-<time>.json and prints a summary.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from apps.contract import ENDPOINTS
from scenarios.catalog import load_scenarios
from servers.base import REPO_ROOT
from servers.launcher import launch
from servers.matrix import load_matrix
from stackmark.bench import verify_served
from stackmark.calibrate import calibrate
from stackmark.cpus import default_cpus
from stackmark.database import ensure_sqlite

console = Console(width=None if sys.stdout.isatty() else 140)


def overhead(stack_ids: list[str], env: dict[str, str], tmp: Path) -> dict[str, dict[str, Any]]:
    """Seconds from launch to torn down (with verify), and the ready part of it, per stack."""
    matrix = load_matrix()
    server_cpus, _ = default_cpus(False)
    result: dict[str, dict[str, Any]] = {}
    for sid in stack_ids:
        t0 = time.monotonic()
        with launch(matrix.stacks[sid], tmp / f"{sid}.log", cpus=server_cpus, env=env) as server:
            ready = server.ready_s
            t1 = time.monotonic()
            verdict = verify_served(server, list(ENDPOINTS.values()), env["DATABASE_URL"])
            t2 = time.monotonic()
        t3 = time.monotonic()
        result[sid] = {"total_s": t3 - t0, "ready_s": ready, "verify_s": t2 - t1, "teardown_s": t3 - t2,
                       "verify": verdict.status}
    return result


def spread(stack_ids: list[str], repeats: int, duration: float, out: Path) -> dict[str, dict[str, float]]:
    """CV of rps and of cpu_us_per_req over interleaved repeats, from a real `stackmark bench`."""
    from analysis.analyze import analyze

    cmd = [str(Path(sys.executable).parent / "stackmark"), "bench", "--stacks", *stack_ids, "--scenario", "json",
           "--concurrency", "32", "--duration", str(duration), "--repeat", str(repeats), "--out", str(out)]
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = max(out.glob("2*"), key=lambda p: p.stat().st_mtime)
    agg = analyze(run_dir).aggregate  # medians, 95% intervals and CVs over the repeats, as in aggregate.csv
    stats: dict[str, dict[str, float]] = {"_run_dir": str(run_dir)}  # type: ignore[dict-item]
    for _, row in agg.iterrows():
        stats[str(row["stack"])] = {
            "n": int(row["n"]),
            "rps_median": float(row["rps"]), "rps_cv": float(row["rps_cv"]),
            "rps_lo": float(row["rps_lo"]), "rps_hi": float(row["rps_hi"]),
            "cpu_us_per_req_median": float(row["cpu_us_per_req"]), "cpu_us_per_req_cv": float(row["cpu_cv"]),
            "cpu_us_per_req_lo": float(row["cpu_us_per_req_lo"]), "cpu_us_per_req_hi": float(row["cpu_us_per_req_hi"]),
            "steal_pct_max": float(row["steal_pct_max"]),
            "generator_cpu_pct_max": float(row["generator_cpu_pct_max"]),
        }
    return stats


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calibrate-stack", default="bare-asgi-uvicorn")
    p.add_argument("--cv-stacks", nargs="+", default=["fastapi-uvicorn", "flask-gunicorn-gthread", "django-wsgi-uwsgi"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--out", default=str(REPO_ROOT / "results"))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    server_cpus, loadgen_cpus = default_cpus(False)
    if loadgen_cpus:
        os.sched_setaffinity(0, loadgen_cpus)
    report: dict[str, object] = {"started_at": time.time(), "server_cpus": server_cpus, "loadgen_cpus": loadgen_cpus}
    with tempfile.TemporaryDirectory(prefix="stackmark-harness-") as tmp_s:
        tmp = Path(tmp_s)
        env = {"DATABASE_URL": ensure_sqlite(tmp / "db.sqlite3")}
        console.print("1/3 generator ceiling: Locust vs wrk ...")
        matrix = load_matrix()
        cal = calibrate(matrix.stacks[args.calibrate_stack], load_scenarios()["plaintext"], 64, args.duration,
                        server_cpus, loadgen_cpus, tmp, env)
        report["ceiling"] = cal.to_dict()
        console.print("2/3 harness overhead per stack ...")
        report["overhead"] = overhead(list(matrix.stacks), env, tmp)
    console.print(f"3/3 spread over {args.repeats} repeats ...")
    report["spread"] = spread(args.cv_stacks, args.repeats, args.duration, out / "harness-runs")
    path = out / f"harness-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    show(report)
    console.print(f"written: {path}")
    return 0


def show(report: dict) -> None:  # type: ignore[type-arg]
    cal = report["ceiling"]
    ratio = f"{cal['locust_vs_wrk']:.2f}" if cal["locust_vs_wrk"] else "n/a (no wrk)"
    console.print(f"Locust {cal['locust_rps']:,.0f} req/s at {cal['locust_cpu_pct']:.0f}% CPU "
                  f"(ceiling {cal['locust_ceiling_rps']:,.0f} req/s per core); wrk "
                  f"{(cal['wrk_rps'] or 0):,.0f} req/s; Locust/wrk {ratio}")
    t = Table(title="harness overhead per stack (s)")
    for c in ("stack", "total", "ready", "verify", "teardown"):
        t.add_column(c)
    for sid, o in report["overhead"].items():
        t.add_row(sid, f"{o['total_s']:.2f}", f"{o['ready_s']:.2f}", f"{o['verify_s']:.2f}", f"{o['teardown_s']:.2f}")
    console.print(t)
    t = Table(title="spread over repeats: coefficient of variation")
    for c in ("stack", "n", "rps median", "rps CV", "CPU us/req median", "CPU us/req CV", "max steal %"):
        t.add_column(c)
    for sid, s in report["spread"].items():
        if sid.startswith("_"):
            continue
        t.add_row(sid, str(s["n"]), f"{s['rps_median']:,.0f}", f"{s['rps_cv']:.1%}",
                  f"{s['cpu_us_per_req_median']:.0f}",
                  f"{s['cpu_us_per_req_cv']:.1%}", f"{s['steal_pct_max']:.1f}")
    console.print(t)


if __name__ == "__main__":
    sys.exit(main())
