"""Regenerate tests/data/run-golden/ and tests/data/run-sweep/, small hand-checkable run folders
(results/README.md).

    .venv/bin/python tests/data/make_golden.py [OUT_DIR [SWEEP_OUT_DIR]]

Deterministic: no randomness, no clock. All times and counters are multiples
of 1/64 so interpolation and sums are exact in binary floating point and the
expected numbers in tests/test_analysis.py can be worked out by hand.

Both folders stay schema_version 1 on purpose (golden_common.GOLDEN_SCHEMA_VERSION,
not runformat.SCHEMA_VERSION): they are the stored old runs that prove a
version-1 folder is still read, migrated by runformat.schema.update_to_2
(see the version history at the top of runformat/schema.py). So run.json's
settings lack loadgen_processes, database and target and have `workers: 1`,
as version 1 wrote them. The latency.json "timeline" blocks below came with
version 2; readers take them wherever they find them, so they are added to
these version-1 folders only where they change no number that existed before
(tests/data/expected/ holds the tables the code before them produced).
File names, cell ids, the samples.csv columns, the per-user "users" block and
the atomic write all come from runformat, as for every other writer; what the
two runs share (stacks, logs, samples, Locust files, run.json, the writer) is
in golden_common.py beside this file.

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
  - django-asgi-uvicorn r0: Little's law mismatch: 700 req/s x 8 ms = 5.6 in flight for
    8 users (ratio 1.43), every user served, Locust at 50 %. It also stalled: its timeline
    (completions per 0.1 s slot) has a 0.3 s gap and a 1.7 s one, beyond max(0.5 s, 10 x p50 7 ms).
  - fastapi-hypercorn r0-r2 carry steady timelines (200/205/210 completions in every slot): no gap.

run-sweep, a second finished run: scenario json swept over concurrency 8, 16, 32 (one repeat),
plus the open-model scenario open-json at max-in-flight 64 and 128. Every Little's ratio is
inside [0.8, 1.25]; Locust at 50 % except where said.
  - fastapi-uvicorn: 3000 / 4500 / 4800 req/s, p99 2.5 / 5 / 150 ms. c16 has Locust at 93.75 %
    (generator-bound). c32 ran with 2 Locust processes: the master's latency.json holds no
    requests, the two workers' latency-w101.json / latency-w102.json hold 7000 + 7400 requests and
    16 users each (per-user counts 8 x 430, 8 x 445 | 8 x 460, 8 x 465: merged median 452.5).
    Their timelines add up without a gap: worker 101 completed nothing for 0.5 s (slots 10-14)
    while worker 102 went on; the master's own timeline is all zeros (it sends no request).
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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere: find runformat

from golden_common import STACKS, T0, linear_samples, locust_files, phases, run_meta, samples, timeline, write_run

from runformat import paths
from runformat.latency import user_summary


def users(starved: int, low: float, median: float, high: float, expected: int = 8, seen: int = 8) -> dict:
    """latency.json's "users" block: completed requests per simulated user in the window."""
    return {"expected": expected, "seen": seen, "starved": starved, "min": low, "median": median, "max": high}


def latency(base: float, count: int, failures: int, hist: dict[int, int], users: dict | None = None,
            completed: list[int] | None = None) -> dict:
    assert sum(hist.values()) == count
    w = phases(base)
    out = {"bucket_ms": 0.01, "window": [w["measure"], w["end"]],
           "requests": {"/json": {"count": count, "failures": failures, "bytes": count * 27,
                                  "hist": {str(k): v for k, v in sorted(hist.items())}}}}
    if users is not None:
        out["users"] = users
    if completed is not None:
        assert sum(completed) == count
        out["timeline"] = timeline(completed)
    return out


def cell_meta(stack: str, repeat: int, status: str = "ok", reason: str | None = None) -> dict:
    return {"stack": stack, "scenario": "json", "endpoint": "/json", "concurrency": 8, "repeat": repeat,
            "status": status, "reason": reason, "loadgen_cpus": [0], "loadgen_processes": 1}


def sync_cells() -> dict[tuple[str, str], dict]:
    """flask-gunicorn-sync: r0 ok with an old latency.json (no "users"), r1 failed."""
    flask0, flask1 = T0 + 10, T0 + 20
    return {
        ("flask-gunicorn-sync", paths.cell_id("json", 8, 0)): {
            paths.PHASES_JSON: phases(flask0),
            paths.LATENCY_JSON: latency(flask0, 3600, 9,
                                        {400: 600, 550: 1500, 700: 900, 1000: 420, 2500: 150, 9000: 30}),
            paths.SAMPLES_CSV: samples(
                flask0,
                server_cpu=[0.5, 0.6875, 0.9375, 1.25, 1.75, 2.21875, 2.6875, 3.15625, 3.625, 4.09375, 4.53125],
                rss_mib=[52, 53, 54, 54.5, 55, 55.25, 55.5, 56, 55.75, 55.5, 55.5],
                procs=[2] * 11,
                gen_cpu=[0.0, 0.125, 0.3125, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25],
                steal=[10.375, 10.4375, 10.46875, 10.5, 10.5625, 10.625, 10.6875, 10.75, 10.8125, 10.875, 10.9375],
            ),
            **locust_files(4410, 11, 801.8),
            paths.CELL_JSON: cell_meta("flask-gunicorn-sync", 0),
        },
        ("flask-gunicorn-sync", paths.cell_id("json", 8, 1)): {
            paths.PHASES_JSON: phases(flask1),
            paths.SAMPLES_CSV: samples(
                flask1,
                server_cpu=[0.5, 0.6875, 0.9375, 1.25, 1.75, 0.0],
                rss_mib=[52, 53, 54, 54.5, 55, 0],
                procs=[2, 2, 2, 2, 2, 0],
                gen_cpu=[0.0, 0.125, 0.3125, 0.5, 0.75, 0.875],
                steal=[11.0, 11.03125, 11.0625, 11.09375, 11.125, 11.15625],
            ),
            paths.LOCUST_LOG: "[2026-11-22 19:40:23,100] bench-vm/ERROR/locust.user.task: "
                              "ConnectionRefusedError(111)\n",
            paths.CELL_JSON: cell_meta("flask-gunicorn-sync", 1, "failed", "server exited with code -9"),
        },
    }


def uvicorn_cells() -> dict[tuple[str, str], dict]:
    """fastapi-uvicorn: r0 generator-bound, r1 unfinished (the run was interrupted there)."""
    fast0, fast1 = T0 + 30, T0 + 40
    return {
        ("fastapi-uvicorn", paths.cell_id("json", 8, 0)): {
            paths.PHASES_JSON: phases(fast0),
            paths.LATENCY_JSON: latency(fast0, 12000, 0,
                                        {150: 1200, 180: 4800, 200: 3600, 250: 1800, 400: 480, 900: 120},
                                        users(0, 1400, 1500, 1600)),
            paths.SAMPLES_CSV: samples(
                fast0,
                server_cpu=[0.625, 0.75, 1.0, 1.5, 2.0, 2.5, 2.875, 3.375, 3.75, 4.25, 4.5],
                rss_mib=[40, 42, 44, 45, 46, 46.5, 47, 47.5, 48, 47.75, 49],
                procs=[1] * 11,
                gen_cpu=[0.0, 0.25, 0.625, 1.0, 1.46875, 1.9375, 2.40625, 2.875, 3.34375, 3.8125, 4.28125],
                steal=[11.375, 11.4375, 11.46875, 11.5, 11.5625, 11.59375, 11.625, 11.65625, 11.671875, 11.6875,
                       11.75],
            ),
            **locust_files(14700, 0, 2672.7),
            paths.CELL_JSON: cell_meta("fastapi-uvicorn", 0),
        },
        # Interrupted after Locust finished but before the harness wrote samples.csv and cell.json.
        ("fastapi-uvicorn", paths.cell_id("json", 8, 1)): {
            paths.PHASES_JSON: phases(fast1),
            paths.LATENCY_JSON: latency(fast1, 11000, 0, {150: 1000, 200: 10000}),
            paths.LOCUST_LOG: "[2026-11-22 19:40:41,000] bench-vm/INFO/locust.main: "
                              "Run time limit set to 5.5 seconds\n",
        },
    }


def linear_cells() -> dict[tuple[str, str], dict]:
    """The stacks whose counters grow at a constant rate: clean, noisy, starved, Little's law off and stalled."""
    out: dict[tuple[str, str], dict] = {}

    def ok_cell(stack: str, repeat: int, base: float, count: int, hist: dict[int, int], user_block: dict,
                server_rate: float, gen_rate: float, rss_mib: float, completed: list[int] | None = None) -> None:
        out[(stack, paths.cell_id("json", 8, repeat))] = {
            paths.PHASES_JSON: phases(base),
            paths.LATENCY_JSON: latency(base, count, 0, hist, user_block, completed),
            paths.SAMPLES_CSV: linear_samples(base, server_rate, gen_rate, 1 / 16, rss_mib),
            **locust_files(count, 0, count / 3),
            paths.CELL_JSON: cell_meta(stack, repeat),
        }

    # The clean stack: 2000/2050/2100 req/s, mean 3.85 ms (Little: 8 / (rps x 0.00385) = 1.04/1.01/0.99),
    # server CPU 13/16 s per s, Locust 50 %, steal 3.125 %, all 8 users served.
    for repeat, count, user_block in ((0, 6000, users(0, 700, 750, 800)), (1, 6150, users(0, 720, 768.75, 810)),
                                      (2, 6300, users(0, 740, 787.5, 830))):
        ok_cell("fastapi-hypercorn", repeat, T0 + 50 + 10 * repeat, count,
                {350: count // 2, 400: count * 2 // 5, 500: count // 10}, user_block, 13 / 16, 1 / 2, 40,
                completed=[count // 30] * 30)  # steady: the same completions in every 0.1 s slot
    # Noisy: 1500/2200/2900 req/s; CPU per request 291.7/284.1/280.2 us (server 7/16, 10/16, 13/16 s per s).
    for repeat, count, hist, rate in ((0, 4500, {500: 2250, 560: 2250}, 7 / 16),
                                      (1, 6600, {340: 3300, 380: 3300}, 10 / 16),
                                      (2, 8700, {260: 4350, 290: 4350}, 13 / 16)):
        ok_cell("flask-gunicorn-gthread", repeat, T0 + 80 + 10 * repeat, count, hist,
                users(0, count / 8 - 50, count / 8, count / 8 + 50), rate, 1 / 2, 60)
    # Starved: one keep-alive connection served, 7 users waited the whole window without an error.
    ok_cell("flask-uwsgi", 0, T0 + 110, 2400, {110: 1200, 140: 1200}, users(7, 0, 0, 2400), 4 / 16, 1 / 4, 30)
    # Little's law off: 700 req/s x 8.0 ms = 5.6 requests in flight, but 8 users and none starved.
    # Stalled: nothing completed in slots 4-6 (0.3 s) and 10-26 (1.7 s, the longest gap).
    ok_cell("django-asgi-uvicorn", 0, T0 + 120, 2100, {700: 1050, 900: 1050}, users(0, 250, 262.5, 275),
            15 / 16, 1 / 2, 70, completed=[210] * 4 + [0] * 3 + [210] * 3 + [0] * 17 + [210] * 3)
    return out


def cells() -> dict[tuple[str, str], dict]:
    """(stack, cell-id) -> {file name: content (dict = JSON, list = CSV rows, str = text)}."""
    return {**sync_cells(), **uvicorn_cells(), **linear_cells()}


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
    """The "users" block as the Locust plugin writes it now, with the per-user counts."""
    return dict(user_summary(expected, counts))


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


def multi_process_cell(base: float) -> dict[tuple[str, str], dict]:
    """fastapi-uvicorn json c32 with 2 Locust processes: master file without requests, one file per worker."""
    w101, w102 = {300: 6800, 15000: 200}, {300: 7200, 15000: 200}  # 4800 req/s together, p99 150.00
    return {("fastapi-uvicorn", paths.cell_id("json", 32, 0)): {
        paths.PHASES_JSON: sweep_phases(base, 32, processes=2),
        paths.LATENCY_JSON: sweep_latency(base, {}, 0, user_block(32, []),
                                          extra={"processes": 2, "timeline": timeline([0] * 30)}),
        # worker 101 completed nothing for 0.5 s (slots 10-14); worker 102 went on: no gap together
        paths.worker_latency_name(101): sweep_latency(base, w101, 0, user_block(32, [430] * 8 + [445] * 8),
                                                      extra={"timeline": timeline([280] * 10 + [0] * 5 + [280] * 15)}),
        paths.worker_latency_name(102): sweep_latency(base, w102, 0, user_block(32, [460] * 8 + [465] * 8),
                                                      extra={"timeline": timeline([250] * 20 + [240] * 10)}),
        paths.SAMPLES_CSV: linear_samples(base, 12 / 16, 1 / 2, 1 / 16, 50, procs=1),
        **locust_files(14400, 0, 4800.0),
        paths.CELL_JSON: sweep_cell_meta("fastapi-uvicorn", "json", "/json", 32, processes=2),
    }}


def sweep_cells() -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    slot = iter(range(100))

    def closed(stack: str, conc: int, hist: dict[int, int], failures: int = 0, gen_rate: float = 1 / 2) -> None:
        base = SWEEP_T0 + 10 * next(slot)
        count = sum(hist.values())
        out[(stack, paths.cell_id("json", conc, 0))] = {
            paths.PHASES_JSON: sweep_phases(base, conc),
            paths.LATENCY_JSON: sweep_latency(base, hist, failures, user_block(conc, even_counts(count, conc))),
            paths.SAMPLES_CSV: linear_samples(base, 10 / 16, gen_rate, 1 / 16, 50),
            **locust_files(count, failures, count / 3),
            paths.CELL_JSON: sweep_cell_meta(stack, "json", "/json", conc),
        }

    closed("fastapi-uvicorn", 8, {250: 8910, 500: 90})  # 3000 req/s, p99 2.50, mean 2.525 ms
    closed("fastapi-uvicorn", 16, {300: 12000, 500: 1365, 1000: 135}, gen_rate=15 / 16)  # 4500, p99 5.00
    out.update(multi_process_cell(SWEEP_T0 + 10 * next(slot)))
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
        out[("fastapi-uvicorn", paths.cell_id("open-json", conc, 0))] = {
            paths.PHASES_JSON: sweep_phases(base, 1),
            paths.LATENCY_JSON: sweep_latency(base, hist, 0, user_block(1, [count]),
                                          extra={"open": {"offered_rate": 500.0, "sent": sent, "missed": missed,
                                                          "late": late}}),
            paths.SAMPLES_CSV: linear_samples(base, 4 / 16, 1 / 4, 1 / 16, 50),
            **locust_files(count, 0, count / 3),
            paths.CELL_JSON: sweep_cell_meta("fastapi-uvicorn", "open-json", "/json", conc),
        }

    open_cell(64, {150: 1400, 300: 88}, sent=1490, missed=10, late=4)
    open_cell(128, {150: 1500}, sent=1500, missed=0, late=0)
    return out


def sweep_run_meta() -> dict:
    meta = run_meta()
    return {**meta, "run_id": SWEEP_RUN_ID, "started_at": SWEEP_T0, "finished_at": SWEEP_T0 + 600,
            "settings": SWEEP_SETTINGS, "stacks": SWEEP_STACKS}


def main(out: Path, sweep_out: Path | None = None) -> None:
    write_run(out, run_meta(), list(STACKS), cells())
    if sweep_out is not None:
        write_run(sweep_out, sweep_run_meta(), SWEEP_STACKS, sweep_cells())


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else here / "run-golden",
         Path(sys.argv[2]) if len(sys.argv) > 2 else (None if len(sys.argv) > 1 else here / "run-sweep"))
