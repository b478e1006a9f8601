"""How much does another process's CPU move a cell's numbers here? The load the `noisy` flag must see.

`make bench-noise` runs fresh `stackmark bench` cells of a few stacks while a duty-cycle CPU burner,
pinned to the server's CPU or (separately) to the other one (Locust's), uses a share of one core
(0, 5, 10, 20, 40% by default). Repeats are interleaved over the settings, in a rotated order, so a
drift of the machine hits every setting alike. Per setting and stack it reports the median change of
rps and of cpu_us_per_req against share 0 in the same repeat (with their range over repeats), the
other_load_pct the harness recorded, the server's and Locust's CPU shares and the cells each flag marked;
then the smallest recorded other load that moved rps by more than the gate's 5%.
Writes results/noise-<time>.json; the run folders stay in results/noise-runs/<time>/.

The burner is this file run as `noise.py burn SHARE SECONDS CPU`: busy (in CPU time, not wall time, so a
busy core cannot shrink its share unnoticed) for SHARE of every 100 ms, pinned to CPU, ended by its own
deadline, and always stopped by the benchmark (SIGTERM, then SIGKILL) when its cells are done.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import psutil
from rich.console import Console
from rich.table import Table

from stackmark.cpus import default_cpus

# analysis (pandas) is imported where it is used: the burner child runs this file too and should start light
REPO = Path(__file__).resolve().parents[1]
console = Console(width=None if sys.stdout.isatty() else 160)
PERIOD_S = 0.1  # the burner's duty cycle
GATE = 0.05  # the regression gate's default threshold: a move of rps beyond this must not pass unflagged
BENCH_TIMEOUT_S = 300.0  # one `stackmark bench` of a few cells; the burner's own deadline is later
CELL_FIELDS = ["rps", "cpu_us_per_req", "other_load_pct", "server_cpu_pct", "generator_cpu_pct", "steal_pct"]
FLAGS = ["noisy", "unsaturated", "generator_bound"]


class Setting(NamedTuple):
    placement: str  # "none", "server" (the server's CPU) or "other" (the load generator's)
    cpu: int | None
    share: float  # of one core, 0..1

    @property
    def label(self) -> str:
        return "none-0" if self.cpu is None else f"{self.placement}-{round(self.share * 100)}"


def burn(share: float, seconds: float, cpu: int) -> None:
    """Busy for `share` of each PERIOD_S in this thread's CPU time, idle for the rest, until `seconds` pass."""
    os.sched_setaffinity(0, {cpu})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start, used = time.monotonic(), time.thread_time()
        while time.thread_time() - used < share * PERIOD_S and time.monotonic() - start < PERIOD_S:
            pass
        rest = PERIOD_S - (time.monotonic() - start)
        if rest > 0:
            time.sleep(rest)


@contextmanager
def burner(setting: Setting, limit_s: float, measured: dict[str, float]) -> Iterator[None]:
    """The setting's burner for the duration of the block (none at share 0); its CPU use goes into `measured`
    as % of one core. Stopped however the block ends; its deadline ends it even if this process is killed."""
    if setting.cpu is None or setting.share <= 0:
        yield
        return
    proc = subprocess.Popen([sys.executable, __file__, "burn", str(setting.share), str(limit_s), str(setting.cpu)],
                            start_new_session=True)
    started = time.monotonic()
    try:
        yield
    finally:
        try:
            cpu = psutil.Process(proc.pid).cpu_times()
            measured["burner_pct"] = 100.0 * (cpu.user + cpu.system) / (time.monotonic() - started)
        except psutil.Error:
            measured["burner_pct"] = float("nan")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def bench_once(setting: Setting, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One fresh `stackmark bench` (one repeat of every stack) under the setting's burner: where it went."""
    out.mkdir(parents=True)
    cmd = [str(Path(sys.executable).parent / "stackmark"), "bench", "--stacks", *args.stacks, "--scenario", "json",
           "--concurrency", str(args.concurrency), "--duration", str(args.duration), "--repeat", "1",
           "--out", str(out)]
    measured: dict[str, float] = {}
    t0 = time.monotonic()
    with burner(setting, BENCH_TIMEOUT_S + 30, measured):
        try:
            rc = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                timeout=BENCH_TIMEOUT_S).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    runs = [p for p in out.iterdir() if p.is_dir()]
    return {"setting": setting._asdict(), "label": setting.label, "run_dir": str(runs[0]) if runs else None,
            "exit_code": rc, "seconds": time.monotonic() - t0, **measured}


def cells_of(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The ok cells of one bench: per stack its numbers and flags (None where unknown)."""
    from analysis.analyze import analyze
    from analysis.flags import missing
    from runformat.errors import RunDirError

    if run["run_dir"] is None:
        return []
    try:
        frame = analyze(Path(run["run_dir"])).frame
    except RunDirError as exc:  # a run that measured nothing is reported, not fatal
        console.print(f"[yellow]{exc}")
        return []
    rows = []
    for r in frame[frame["status"] == "ok"].to_dict("records"):
        row = {"stack": r["stack"], **{f: float(r[f]) for f in CELL_FIELDS}}
        row.update({f: None if missing(r[f]) else bool(r[f]) for f in FLAGS})
        rows.append(row)
    return rows


def settings_for(shares: list[float], server_cpu: int, other_cpu: int) -> list[Setting]:
    base = [Setting("none", None, 0.0)]
    return base + [Setting(place, cpu, s) for place, cpu in (("server", server_cpu), ("other", other_cpu))
                   for s in shares if s > 0]


def measure(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    """Every setting once per repeat, in an order rotated each repeat; each run's cells analysed after the load."""
    server_cpus, loadgen_cpus = default_cpus(False)
    if not server_cpus or not loadgen_cpus:
        raise SystemExit("bench-noise needs two CPUs or more: the server's and the load generator's")
    settings = settings_for(args.shares, server_cpus[0], loadgen_cpus[0])
    cells = len(settings) * args.repeats * len(args.stacks)
    console.print(f"{len(settings)} settings x {args.repeats} repeats x {len(args.stacks)} stacks = {cells} cells, "
                  f"about {cells * (args.duration + 6) / 60:.0f} min; server on CPU {server_cpus[0]}, "
                  f"Locust on CPU {loadgen_cpus[0]}; run folders in {root}")
    runs = []
    for rep in range(args.repeats):
        order = settings[rep % len(settings):] + settings[:rep % len(settings)]
        for setting in order:
            console.print(f"repeat {rep + 1}/{args.repeats}: burner {setting.label} ...")
            runs.append({"repeat": rep, **bench_once(setting, args, root / f"{setting.label}-r{rep}")})
    for run in runs:
        run["cells"] = cells_of(run)
    return runs


def _median(values: list[float]) -> float:
    known = [v for v in values if v == v]
    return statistics.median(known) if known else float("nan")


def changes(runs: list[dict[str, Any]], label: str, stack: str, field: str) -> list[float]:
    """Per repeat: the stack's `field` under `label` over the same repeat's share-0 value, minus 1."""
    def value(lab: str, rep: int) -> float:
        found = [c[field] for r in runs if r["label"] == lab and r["repeat"] == rep
                 for c in r["cells"] if c["stack"] == stack]
        return found[0] if found else float("nan")
    reps = sorted({r["repeat"] for r in runs})
    return [v / b - 1.0 for rep in reps if (b := value("none-0", rep)) > 0 and (v := value(label, rep)) == v]


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per setting and stack: median paired change of rps and CPU/req, its range, what was recorded."""
    rows = []
    for label in dict.fromkeys(r["label"] for r in runs):
        mine = [r for r in runs if r["label"] == label]
        for stack in sorted({c["stack"] for r in mine for c in r["cells"]}):
            cells = [c for r in mine for c in r["cells"] if c["stack"] == stack]
            row: dict[str, Any] = {"label": label, **mine[0]["setting"], "stack": stack, "n": len(cells),
                                   "burner_pct": _median([r.get("burner_pct", 0.0) for r in mine])}
            for field in ("rps", "cpu_us_per_req"):
                ch = changes(runs, label, stack, field)
                row[f"{field}_change"] = _median(ch)
                row[f"{field}_change_range"] = [min(ch), max(ch)] if ch else None
            row.update({f: _median([c[f] for c in cells]) for f in CELL_FIELDS})
            row.update({f"{f}_cells": sum(bool(c[f]) for c in cells) for f in FLAGS})
            rows.append(row)
    return rows


def smallest_moving_load(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The setting of lowest recorded other load where some stack's median rps moved beyond GATE."""
    moved = [r for r in rows if r["share"] > 0 and abs(r["rps_change"]) > GATE]
    if not moved:
        return None
    best = min(moved, key=lambda r: r["other_load_pct"])
    return {k: best[k] for k in ("label", "stack", "share", "rps_change", "other_load_pct", "burner_pct")}


def quiet_range(runs: list[dict[str, Any]]) -> list[float] | None:
    """[lowest, highest] other_load_pct of the cells without a burner: a noisy threshold below it flags quiet runs."""
    values = [c["other_load_pct"] for r in runs if r["setting"]["share"] == 0 for c in r["cells"]]
    return [min(values), max(values)] if values else None


def _pct(v: float) -> str:
    return "-" if v != v else f"{v:+.1%}"


def _range(r: list[float] | None) -> str:
    return "-" if not r else f"{r[0]:+.0%}..{r[1]:+.0%}"


def show(rows: list[dict[str, Any]], first: dict[str, Any] | None, quiet: list[float] | None) -> None:
    from analysis.flags import GENERATOR_BOUND_PCT, OTHER_LOAD_PCT, UNSATURATED_SERVER_PCT

    t = Table(title="change against no burner, same repeat (median, range over repeats)")
    for c in ("burner", "burner % core", "stack", "n", "rps", "rps change", "CPU/req change",
              "other load %", "server CPU %", "Locust CPU %", "noisy", "unsaturated", "gen-bound"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["label"], f"{r['burner_pct']:.0f}", r["stack"], str(r["n"]), f"{r['rps']:,.0f}",
                  f"{_pct(r['rps_change'])} {_range(r['rps_change_range'])}",
                  f"{_pct(r['cpu_us_per_req_change'])} {_range(r['cpu_us_per_req_change_range'])}",
                  f"{r['other_load_pct']:.1f}", f"{r['server_cpu_pct']:.0f}", f"{r['generator_cpu_pct']:.0f}",
                  *(f"{r[f + '_cells']}/{r['n']}" for f in FLAGS))
    console.print(t)
    console.print(f"flags now: noisy at other load >= {OTHER_LOAD_PCT:g}%; unsaturated under "
                  f"{UNSATURATED_SERVER_PCT:g}% server and {GENERATOR_BOUND_PCT:g}% Locust CPU")
    if first is None:
        console.print(f"no burner share moved any stack's median rps by more than {GATE:.0%}")
    else:
        console.print(f"smallest recorded other load that moved rps by more than {GATE:.0%}: "
                      f"{first['other_load_pct']:.1f}% of the machine ({first['label']}, {first['stack']}: "
                      f"rps {first['rps_change']:+.1%}, burner at {first['burner_pct']:.0f}% of one core)")
    if quiet is not None:
        console.print(f"other load recorded without a burner: {quiet[0]:.1f}-{quiet[1]:.1f}% of the machine")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["burn"]:
        burn(float(argv[1]), float(argv[2]), int(argv[3]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stacks", nargs="+", default=["fastapi-uvicorn", "flask-gunicorn-gthread"])
    p.add_argument("--shares", nargs="+", type=float, default=[5, 10, 20, 40], help="% of one core (0 always runs)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--out", default=str(REPO / "results"))
    p.add_argument("--summarize", metavar="JSON", help="summarise an earlier noise-*.json again, without load")
    args = p.parse_args(argv)
    if not (1 <= args.repeats <= 10 and all(0 <= s <= 90 for s in args.shares) and 1 <= args.duration <= 30):
        p.error("repeats 1..10, shares 0..90 (% of one core), duration 1..30 s")
    args.shares = [s / 100 for s in args.shares]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    if args.summarize:
        runs = json.loads(Path(args.summarize).read_text())["runs"]
        for run in runs:
            run["cells"] = cells_of(run)
    else:
        runs = measure(args, Path(args.out) / "noise-runs" / stamp)
    rows = summarize(runs)
    first, quiet = smallest_moving_load(rows), quiet_range(runs)
    show(rows, first, quiet)
    path = Path(args.out) / f"noise-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {"started": stamp, "argv": argv, "gate": GATE, "runs": runs, "summary": rows,
              "smallest_moving_load": first, "quiet_other_load_pct": quiet}
    path.write_text(json.dumps(report, indent=2, default=str))
    console.print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
