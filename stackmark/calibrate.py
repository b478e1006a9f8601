"""How much load can the generator itself send? Measured, not assumed.

Locust (one process, FastHttpUser) drives a fast stack at a high concurrency
on the load-generator CPUs; its ceiling is the request rate it would reach at
100% of those CPUs (rate / CPU share used). With wrk installed, wrk drives
the same target from the same CPUs, for a ratio against a C load tool.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runformat import atomic, paths
from runformat.records import CellRecord
from scenarios.catalog import Scenario
from servers.launcher import launch, pin_prefix
from servers.matrix import Stack
from stackmark.loadgen import LoadSettings, run_cell

WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
      + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Calibration:
    stack: str
    path: str
    concurrency: int
    locust_rps: float
    locust_cpu_pct: float
    locust_ceiling_rps: float  # per generator CPU at 100%
    wrk_rps: float | None
    wrk_errors: int | None

    @property
    def locust_vs_wrk(self) -> float | None:
        return self.locust_rps / self.wrk_rps if self.wrk_rps else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "locust_vs_wrk": self.locust_vs_wrk}


def run_wrk(url: str, concurrency: int, duration_s: float, cpus: Sequence[int]) -> dict[str, Any] | None:
    """wrk's totals as JSON (from a Lua done() hook, not by scraping its text); None without wrk."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_REPORT)
        script = f.name
    try:
        cmd = pin_prefix(cpus) + [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(duration_s))}s", "-s", script,
                                  url]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 30)
    finally:
        Path(script).unlink(missing_ok=True)
    line = next((ln for ln in reversed(r.stdout.splitlines()) if ln.startswith("{")), None)
    if r.returncode != 0 or line is None:
        return None
    data: dict[str, Any] = json.loads(line)
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def calibrate(stack: Stack, scenario: Scenario, concurrency: int, duration_s: float, server_cpus: Sequence[int],
              loadgen_cpus: Sequence[int], work_dir: Path, env: dict[str, str] | None = None) -> Calibration:
    """One Locust cell and one wrk run against the same fresh server."""
    from analysis.cell import cell_metrics
    from analysis.load import load_cell

    with launch(stack, work_dir / "server.log", cpus=server_cpus, env=env) as server:
        cell_dir = work_dir / "locust"
        load = LoadSettings(concurrency=concurrency, duration_s=duration_s, warmup_s=1.0, primer_s=0.5,
                            cpus=list(loadgen_cpus))
        outcome = run_cell(server, scenario, load, cell_dir)
        if not outcome.ok:
            raise RuntimeError(f"calibration cell failed: {outcome.reason}")
        record: CellRecord = {
            "stack": stack.id, "scenario": scenario.name, "endpoint": scenario.path, "concurrency": concurrency,
            "repeat": 0, "status": "ok", "reason": None, "loadgen_cpus": list(loadgen_cpus), "loadgen_processes": 1}
        atomic.write_json(cell_dir / paths.CELL_JSON, record)
        cell = load_cell(cell_dir)
        assert cell is not None
        m = cell_metrics(cell, None, list(loadgen_cpus))
        wrk = run_wrk(server.url + scenario.path, concurrency, duration_s, loadgen_cpus)
    share = (m["generator_cpu_pct"] or 0) / 100
    return Calibration(
        stack=stack.id, path=scenario.path, concurrency=concurrency,
        locust_rps=float(m["rps"]), locust_cpu_pct=float(m["generator_cpu_pct"]),
        locust_ceiling_rps=float(m["rps"]) / share if share > 0 else float("nan"),
        wrk_rps=wrk["rps"] if wrk else None, wrk_errors=wrk["errors"] if wrk else None,
    )
