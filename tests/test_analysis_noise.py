"""server_cpu_pct and the `unsaturated` flag, the measured `noisy` threshold, and benchmarks/noise.py's arithmetic.

Cells are the golden run's, with samples.csv rewritten to chosen CPU shares (steady counters, so every
share is exact): a closed-model cell whose server and Locust both idle part of the time is unsaturated,
one with either side busy is not, an open-model or unmeasured one cannot be told.
"""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from analysis import flags
from analysis.analyze import analyze
from analysis.columns import AGG_COLUMNS, SUMMARY_COLUMNS
from analysis.tables import write_tables
from analysis.tidy import tidy_frame
from golden_runs import CLEAN, GOLDEN, SWEEP, cell_row, copy_run, row

CPUS = 2  # the golden run's host


def set_shares(run: Path, stack: str, repeat: int, server: float, locust: float, other: float = 0.0,
               server_procs: int = 1) -> None:
    """Rewrite a cell's samples.csv: the server at `server`% of one core, Locust at `locust`% of its core,
    other processes at `other`% of the whole machine, no steal."""
    path = next((run / "stacks" / stack).glob(f"*-r{repeat}/samples.csv"))
    s = pd.read_csv(path)
    elapsed = s["t"] - s["t"].iloc[0]
    s["server_cpu_s"] = elapsed * server / 100
    s["gen_cpu_s"] = elapsed * locust / 100
    s["steal_s"] = 0.0
    s["busy_s"] = s["server_cpu_s"] + s["gen_cpu_s"] + elapsed * CPUS * other / 100
    s["server_procs"] = server_procs
    s.to_csv(path, index=False)


def edit_settings(run: Path, **changes: object) -> None:
    meta = json.loads((run / "run.json").read_text())
    meta["settings"].update(changes)
    (run / "run.json").write_text(json.dumps(meta))


def clean_cell(run: Path, server: float, locust: float, **kw: object) -> pd.Series:
    set_shares(run, CLEAN, 0, server, locust, **kw)  # type: ignore[arg-type]
    return row(tidy_frame(run), CLEAN, 0)


@pytest.fixture
def run_copy(tmp_path: Path) -> Path:
    return copy_run(GOLDEN, tmp_path)


# -- the rule ----------------------------------------------------------------------------

def test_unsaturated_rule():
    unsat, server_pct, gen_pct = flags.unsaturated, flags.UNSATURATED_SERVER_PCT, flags.GENERATOR_BOUND_PCT
    assert unsat(50.0, 60.0, open_model=False) is True
    assert unsat(97.0, 60.0, open_model=False) is False  # the server was the limit
    assert unsat(50.0, 95.0, open_model=False) is False  # Locust was the limit: generator-bound says so
    assert unsat(server_pct, gen_pct - 0.01, open_model=False) is False  # at the threshold: saturated
    assert unsat(server_pct - 0.01, gen_pct - 0.01, open_model=False) is True
    assert unsat(50.0, 60.0, open_model=True) is None  # the schedule sets an open model's rate
    assert unsat(math.nan, 60.0, open_model=False) is None  # a side unknown and the other idle: cannot tell
    assert unsat(50.0, math.nan, open_model=False) is None
    assert unsat(97.0, math.nan, open_model=False) is False  # one side known busy is enough


def test_unsaturated_comes_after_generator_bound_with_its_thresholds():
    names = list(flags.FLAG_RULES)
    assert names.index("unsaturated") == names.index("generator-bound") + 1
    rule = flags.FLAG_RULES["unsaturated"]
    assert f"{flags.UNSATURATED_SERVER_PCT:g}% of its CPUs" in rule and f"{flags.GENERATOR_BOUND_PCT:g}%" in rule
    assert "not the stack's capacity" in rule
    assert flags.ranking_flags({"unsaturated": True, "generator_bound": True, "noisy": True}) == \
        "generator-bound,unsaturated,noisy"
    assert flags.ranking_flags({"unsaturated": pd.NA}) == ""


def test_the_gate_reads_unsaturated_rps_as_inconclusive():
    from analysis.thresholds import BLOCKING_FLAGS  # compare takes its flag names from FLAG_RULES

    assert "unsaturated" in BLOCKING_FLAGS


def test_noisy_at_the_measured_other_load():
    assert flags.cell_noisy(0.0, flags.OTHER_LOAD_PCT) is True
    assert flags.cell_noisy(0.0, flags.OTHER_LOAD_PCT - 0.5) is False
    assert flags.OTHER_LOAD_PCT < 19.0  # the issue's busy machine (19% other load) must read as noisy


# -- per cell, from raw files ----------------------------------------------------------------

def test_server_at_half_and_locust_at_sixty_is_unsaturated(run_copy):
    r = clean_cell(run_copy, server=50.0, locust=60.0)
    assert r.server_cpu_pct == pytest.approx(50.0) and r.generator_cpu_pct == pytest.approx(60.0)
    assert r.unsaturated == True and r.generator_bound == False  # noqa: E712
    assert r.noisy == False  # noqa: E712  nothing else ran: unsaturated is its own flag, not noise


def test_a_busy_server_is_saturated(run_copy):
    r = clean_cell(run_copy, server=97.0, locust=60.0)
    assert r.server_cpu_pct == pytest.approx(97.0) and r.unsaturated == False  # noqa: E712


def test_the_issues_slow_quiet_run_is_flagged(run_copy):
    """fastapi-gunicorn-uvicorn at 8,588 req/s: server about 52% of its core, Locust 61%, no flag then."""
    r = clean_cell(run_copy, server=52.0, locust=61.0)
    assert r.unsaturated == True  # noqa: E712


def test_other_load_over_the_measured_threshold_is_noisy(run_copy):
    assert clean_cell(run_copy, 97.0, 60.0, other=flags.OTHER_LOAD_PCT + 1).noisy == True  # noqa: E712
    assert clean_cell(run_copy, 97.0, 60.0, other=flags.OTHER_LOAD_PCT - 1).noisy == False  # noqa: E712


def test_server_share_is_of_its_own_cpus(run_copy):
    edit_settings(run_copy, server_cpus=[0, 1])
    assert clean_cell(run_copy, 50.0, 60.0).server_cpu_pct == pytest.approx(25.0)  # half a core of two
    edit_settings(run_copy, server_cpus=[])  # not pinned: all the machine's CPUs
    assert clean_cell(run_copy, 50.0, 60.0).server_cpu_pct == pytest.approx(100.0 * 0.5 / CPUS)


def test_a_server_not_sampled_cannot_be_told(run_copy):
    """--target: no server process is ours to sample; its CPU reads 0, which is not its use."""
    r = clean_cell(run_copy, server=0.0, locust=60.0, server_procs=0)
    assert math.isnan(r.server_cpu_pct) and r.unsaturated is pd.NA
    r = clean_cell(run_copy, server=0.0, locust=95.0, server_procs=0)
    assert r.unsaturated == False  # noqa: E712  Locust was the limit, whatever the server did


def test_open_model_cells_are_not_applicable():
    df = tidy_frame(SWEEP)
    open_cell = cell_row(df, "fastapi-uvicorn", "open-json", 64)
    assert open_cell.server_cpu_pct == pytest.approx(25.0)  # measured, but no closed-model rule applies
    assert open_cell.unsaturated is pd.NA
    assert cell_row(df, "fastapi-uvicorn", "json", 8).unsaturated == True  # noqa: E712  62.5% / 50%


def test_golden_cells():
    df = tidy_frame(GOLDEN)
    assert row(df, CLEAN, 0).server_cpu_pct == pytest.approx(81.25)  # 2.4375 s over 3 s on CPU 1
    assert row(df, CLEAN, 0).unsaturated == False  # noqa: E712
    assert row(df, "flask-gunicorn-gthread", 0).unsaturated == True  # noqa: E712  43.75% / 50%
    assert row(df, "flask-gunicorn-sync", 1).unsaturated is pd.NA  # a failed cell: no numbers


# -- over repeats, and on disk ---------------------------------------------------------------

def test_aggregate_ranking_and_tables_carry_it(run_copy):
    for repeat, server in enumerate([79.0, 95.0, 97.0]):  # one repeat of three unsaturated (CPU/req within 15%)
        set_shares(run_copy, CLEAN, repeat, server, 60.0)
    analysis = analyze(run_copy)
    agg = analysis.aggregate.set_index("stack").loc[CLEAN]
    assert agg["unsaturated"] == True and agg["server_cpu_pct"] == pytest.approx(95.0)  # noqa: E712
    assert analysis.ranking.set_index("stack").loc[CLEAN, "flags"] == "unsaturated"
    write_tables(analysis)
    summary = pd.read_csv(run_copy / "summary.csv")
    aggregate = pd.read_csv(run_copy / "aggregate.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS and list(summary.columns[-8:-6]) == ["server_cpu_pct",
                                                                                        "unsaturated"]
    assert list(aggregate.columns) == AGG_COLUMNS and list(aggregate.columns[-8:-6]) == ["server_cpu_pct",
                                                                                        "unsaturated"]
    mine = summary[summary["stack"] == CLEAN].sort_values("repeat")
    assert mine["unsaturated"].tolist() == [True, False, False]
    assert mine["server_cpu_pct"].tolist() == pytest.approx([79.0, 95.0, 97.0])


def test_aggregate_of_saturated_repeats_is_not_unsaturated(run_copy):
    for repeat in range(3):
        set_shares(run_copy, CLEAN, repeat, 97.0, 60.0)
    agg = analyze(run_copy).aggregate.set_index("stack").loc[CLEAN]
    assert agg["unsaturated"] == False  # noqa: E712


# -- benchmarks/noise.py: its arithmetic, and a burner that ends by itself --------------------

@pytest.fixture(scope="module")
def noise() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "noise.py"
    spec = importlib.util.spec_from_file_location("noise_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_run(label: str, share: float, repeat: int, rps: float, other: float) -> dict[str, object]:
    cell = {"stack": "s", "rps": rps, "cpu_us_per_req": 100.0, "other_load_pct": other, "server_cpu_pct": 90.0,
            "generator_cpu_pct": 50.0, "steal_pct": 0.0, "noisy": False, "unsaturated": False,
            "generator_bound": False}
    return {"label": label, "repeat": repeat, "setting": {"placement": label, "cpu": 1, "share": share},
            "burner_pct": share * 100, "cells": [cell]}


def test_noise_summary_pairs_each_repeat_with_its_own_baseline(noise):
    runs = [fake_run("none-0", 0.0, 0, 1000.0, 2.0), fake_run("none-0", 0.0, 1, 2000.0, 2.0),
            fake_run("server-5", 0.05, 0, 980.0, 4.0), fake_run("server-5", 0.05, 1, 1960.0, 4.0),
            fake_run("server-10", 0.1, 0, 900.0, 8.0), fake_run("server-10", 0.1, 1, 1700.0, 9.0)]
    rows = {r["label"]: r for r in noise.summarize(runs)}
    assert rows["server-5"]["rps_change"] == pytest.approx(-0.02)  # -2% in both repeats
    assert rows["server-10"]["rps_change"] == pytest.approx(-0.125)  # median of -10% and -15%
    assert rows["server-10"]["rps_change_range"] == pytest.approx([-0.15, -0.10])
    assert rows["server-10"]["other_load_pct"] == pytest.approx(8.5)
    first = noise.smallest_moving_load(list(rows.values()))
    assert first["label"] == "server-10" and first["other_load_pct"] == pytest.approx(8.5)
    assert noise.quiet_range(runs) == [2.0, 2.0]


def test_burner_stops_at_its_own_deadline(noise):
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, noise.__file__, "burn", "0.5", "0.3", "0"])
    assert proc.wait(timeout=20) == 0
    assert time.monotonic() - t0 < 20
