"""The regression gate's own benchmark: false alarms, the smallest slowdown caught, a noisy neighbour.

Measures, on this machine, with real servers, real Locust and `stackmark ab` / `stackmark compare`
(`make bench-gate`; results/gate-<time>/gate.json):
  1. false alarms: N A/A pairs (the same commit on both sides) under the default gate: how many
     comparisons were called a regression or an improvement (the goal is none);
  2. the smallest slowdown caught: the candidate's FastAPI /cpu view given extra loop iterations
     (the scenario's n = 10000 plus 250, 500, 1000, 2000 more, result unchanged so it still verifies):
     CPU time per request rises by a known amount of work; compare measures by how much;
  3. a real code-path change: Uvicorn switched to its pure-Python h11 parser: a regression for the
     Uvicorn stacks and no other;
  4. a noisy neighbour: a candidate bench with a CPU-burning process on the server's core, compared
     with a quiet one: CPU per request must not regress, throughput must be inconclusive.
Every change is made in a scratch clone of HEAD (never in this checkout); the clone runs this
checkout's virtualenv. Each step is bounded in time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.noise import Setting, burner  # noqa: E402
from servers.base import REPO_ROOT  # noqa: E402

STEP_TIMEOUT_S = 1800.0
CPU_STEPS = (10250, 10500, 11000, 12000)  # the candidate's loop iterations for the scenario's n = 10000
CPU_VIEW = "apps/fastapi_app/app.py"
CPU_LOOP = """        x = (x * 1664525 + 1013904223 + i) & 0xFFFFFFFF
    return {"n": count, "result": x}"""


def _run(cmd: list[str], cwd: Path, log: Path) -> int:
    """A stackmark command run from the scratch clone (its own code, this virtualenv), logged to a file."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    env.pop("DATABASE_URL", None)
    with open(log, "a") as f:
        return subprocess.run([sys.executable, "-m", "stackmark.cli", *cmd], cwd=cwd, env=env, stdout=f,
                              stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT_S).returncode


def _clone(out: Path) -> Path:
    clone = out / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True, timeout=300)
    return clone


def _edit(clone: Path, rel: str, old: str, new: str) -> None:
    path = clone / rel
    text = path.read_text()
    if old not in text:
        raise SystemExit(f"bench-gate: {rel} no longer holds {old!r}; update benchmarks/gate.py")
    path.write_text(text.replace(old, new))


def _reset(clone: Path) -> None:
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", "--", "."], check=True, timeout=60)


def _verdicts(path: Path) -> dict[str, Any]:
    """From compare's JSON: counts, and the rows that were not 'no change'."""
    data = json.loads(path.read_text())
    rows = [{k: r[k] for k in ("stack", "scenario", "metric", "verdict", "reason", "change", "p_worse")}
            for r in data["rows"] if r["verdict"] != "no change"]
    return {"exit_code": data["exit_code"], "counts": data["counts"], "flagged": rows}


def _settings(args: argparse.Namespace) -> list[str]:
    """The ab profile's settings (what the workflow runs), unless told otherwise."""
    return [*(["--repeat", str(args.repeat)] if args.repeat else []),
            *(["--duration", str(args.duration)] if args.duration else [])]


def _ab(clone: Path, out: Path, name: str, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    verdict = out / f"{name}.json"
    t0 = time.monotonic()
    code = _run(["ab", "--base", "HEAD", *_settings(args), "--out", str(out / "runs"), "--json", str(verdict),
                 *extra], clone, out / f"{name}.log")
    if not verdict.exists():
        return {"exit_code": code, "error": f"no verdict; see {out / f'{name}.log'}"}
    return {**_verdicts(verdict), "seconds": round(time.monotonic() - t0, 1)}


def false_alarms(clone: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    pairs = [_ab(clone, out, f"aa-{i}", args, ["--stacks", *args.stacks]) for i in range(args.pairs)]
    alarms = [p for p in pairs if any(r["verdict"] in ("regression", "improvement") for r in p.get("flagged", []))]
    return {"pairs": len(pairs), "pairs_with_an_alarm": len(alarms), "detail": pairs}


def cpu_steps(clone: Path, out: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    found = []
    for n in CPU_STEPS:
        extra = f"""        x = (x * 1664525 + 1013904223 + i) & 0xFFFFFFFF
    y = 0
    for i in range(count * {n - 10000} // 10000):  # bench-gate: the planted slowdown
        y = (y * 1664525 + 1013904223 + i) & 0xFFFFFFFF
    return {{"n": count, "result": x}}"""
        _edit(clone, CPU_VIEW, CPU_LOOP, extra)
        try:
            result = _ab(clone, out, f"cpu-{n}", args, ["--stacks", "fastapi-uvicorn", "--scenario", "cpu"])
        finally:
            _reset(clone)
        caught = any(r["metric"] == "cpu_us_per_req" and r["verdict"] == "regression"
                     for r in result.get("flagged", []))
        found.append({"n": n, "work_added": n / 10000 - 1, "caught": caught, **result})
    return found


def code_path(clone: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    _edit(clone, "servers/matrix.toml", 'options = { loop = "uvloop", http = "httptools" }',
          'options = { loop = "uvloop", http = "h11" }')
    try:
        result = _ab(clone, out, "h11", args, ["--stacks", "fastapi-uvicorn", "fastapi-hypercorn",
                                               "flask-gunicorn-gthread"])
    finally:
        _reset(clone)
    regressed = sorted({r["stack"] for r in result.get("flagged", []) if r["verdict"] == "regression"})
    return {"changed": ["fastapi-uvicorn"], "regressed": regressed, **result}


def noisy_neighbour(clone: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    common = ["bench", "--stacks", *args.stacks, "--scenario", "json", "--profile", "ab", *_settings(args)]
    quiet, noisy = out / "quiet", out / "noisy"
    _run([*common, "--out", str(quiet)], clone, out / "noisy.log")
    server_cpu = max(os.sched_getaffinity(0))
    measured: dict[str, float] = {}
    with burner(Setting("server", server_cpu, 1.0), 900.0, measured):
        _run([*common, "--out", str(noisy)], clone, out / "noisy.log")
    verdict = out / "noisy.json"
    _run(["compare", str(next(quiet.glob("2*"))), str(next(noisy.glob("2*"))), "--json", str(verdict)], clone,
         out / "noisy.log")
    return {"burner_pct_of_a_core": round(measured.get("burner_pct", float("nan")), 1), **_verdicts(verdict)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=10, help="A/A pairs (default 10)")
    p.add_argument("--repeat", type=int, help="repeats a side (default: the ab profile's, 5)")
    p.add_argument("--duration", type=float, help="measured seconds a cell (default: the ab profile's, 4)")
    p.add_argument("--stacks", nargs="+", default=["fastapi-uvicorn"])
    p.add_argument("--parts", nargs="+", default=["aa", "cpu", "h11", "noisy"], choices=["aa", "cpu", "h11", "noisy"])
    p.add_argument("--out", default=str(REPO_ROOT / "results"))
    args = p.parse_args()
    out = Path(args.out) / f"gate-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    out.mkdir(parents=True)
    clone = _clone(out)
    report: dict[str, Any] = {"settings": vars(args), "started_at": time.time()}
    steps = {"aa": false_alarms, "cpu": cpu_steps, "h11": code_path, "noisy": noisy_neighbour}
    try:
        for part in args.parts:
            t0 = time.monotonic()
            report[part] = steps[part](clone, out, args)
            print(f"{part}: done in {time.monotonic() - t0:.0f} s", flush=True)
            (out / "gate.json").write_text(json.dumps(report, indent=2, default=str))
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    print(json.dumps({k: v for k, v in report.items() if k != "settings"}, indent=1, default=str)[:6000])
    print(f"written: {out / 'gate.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
