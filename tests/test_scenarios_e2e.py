"""Every issue-13 scenario, end to end, on one WSGI and one ASGI stack: real servers, real Locust, short
windows. One bench runs them all (one start per stack), a second one the worker-count dimension; the
tests read what a user reads: summary.csv, the companion tables, the report.

Assertions hold whatever the noise: structure, exact arithmetic (an ideal, a byte count) and effects made
deliberately large (ten times the users in a spike against one worker; 100 KB against 1 KB responses).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

STACKS = ["flask-gunicorn-gthread", "fastapi-uvicorn"]  # one WSGI, one ASGI
# the payload group's smallest and largest sizes (10 KB takes the same path); `--scenario payload` selecting
# all three is a unit test of the catalog
SCENARIOS = ["io-bound-10ms", "mix", "ramp", "spike", "soak", "payload-1k", "payload-100k", "open-json"]
USERS = 8
# Locust moves users on its ~1 s ticks: 3 s is the shortest window with a spike's three stages; no primer or
# warm-up, which only round up to a tick (the suite's time budget is tight)
SHORT = ["--concurrency", str(USERS), "--warmup", "0", "--primer", "0"]


def _bench(stackmark_cmd: list[str], out: Path, *args: str) -> Path:
    r = subprocess.run([*stackmark_cmd, "bench", "--stacks", *STACKS, *SHORT, *args, "--out", str(out)],
                       capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (run_dir,) = out.glob("2*")
    return run_dir


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory: pytest.TempPathFactory, stackmark_cmd: list[str]) -> Path:
    return _bench(stackmark_cmd, tmp_path_factory.mktemp("scenarios"), "--duration", "3", "--scenario", *SCENARIOS)


@pytest.fixture(scope="module")
def summary(scenario_run: Path) -> pd.DataFrame:
    return pd.read_csv(scenario_run / "summary.csv")


@pytest.fixture(scope="module")
def figures(scenario_run: Path) -> pd.DataFrame:
    return pd.read_csv(scenario_run / "figures.csv")


def _figure(figures: pd.DataFrame, stack: str, scenario: str, name: str) -> float:
    rows = figures[(figures["stack"] == stack) & (figures["scenario"] == scenario) & (figures["figure"] == name)]
    assert len(rows) == 1, (stack, scenario, name, figures[figures["stack"] == stack].to_string())
    return float(rows["value"].iloc[0])


def test_every_scenario_ran_ok_on_both_stacks(summary: pd.DataFrame) -> None:
    expected = set(SCENARIOS)
    for stack in STACKS:
        rows = summary[summary["stack"] == stack]
        assert set(rows["scenario"]) == expected, rows[["scenario", "status", "reason"]].to_string()
        assert (rows["status"] == "ok").all(), rows[["scenario", "reason"]].to_string()
        assert (rows["requests"] > 0).all() and (rows["workers"] == 1).all()


def test_io_bound_is_measured_against_its_ideal(summary: pd.DataFrame, figures: pd.DataFrame) -> None:
    io = summary[summary["scenario"] == "io-bound-10ms"]
    assert (io["ideal_rps"] == USERS * 1000 / 10).all()  # users / 10 ms
    assert summary.loc[summary["scenario"] != "io-bound-10ms", "ideal_rps"].isna().all()
    for stack in STACKS:
        rps = float(io.loc[io["stack"] == stack, "rps"].iloc[0])
        assert _figure(figures, stack, "io-bound-10ms", "ideal_pct") == pytest.approx(100 * rps / 800, rel=1e-6)


def test_payload_reports_bytes_and_mb_per_s(summary: pd.DataFrame) -> None:
    for stack in STACKS:
        rows = summary[summary["stack"] == stack].set_index("scenario")
        small, large = rows.loc["payload-1k"], rows.loc["payload-100k"]
        assert large["bytes_per_req"] == pytest.approx(100 * small["bytes_per_req"], rel=0.01)
        assert large["mb_per_s"] > small["mb_per_s"] > 0  # a hundred times the bytes per request
        for _, row in rows.iterrows():
            assert row["mb_per_s"] == pytest.approx(row["rps"] * row["bytes_per_req"] / 1e6, rel=1e-6)


def test_open_model_shows_corrected_latency_beside_the_measured(summary: pd.DataFrame) -> None:
    rows = summary[summary["scenario"] == "open-json"]
    assert len(rows) == 2
    for col in ("co_p50_ms", "co_p90_ms", "co_p99_ms"):
        assert (rows[col] > 0).all(), rows.to_string()
    assert (rows["co_p50_ms"] <= rows["co_p90_ms"]).all() and (rows["co_p90_ms"] <= rows["co_p99_ms"]).all()
    assert summary.loc[summary["scenario"] != "open-json", "co_p99_ms"].isna().all()


def test_mix_has_per_endpoint_results(scenario_run: Path) -> None:
    endpoints = pd.read_csv(scenario_run / "endpoints.csv")
    for stack in STACKS:
        mix = endpoints[(endpoints["stack"] == stack) & (endpoints["scenario"] == "mix")]
        assert {"/json", "/db", "/fortunes", "/echo"} <= set(mix["name"]), mix.to_string()
        assert (mix["errors"] == 0).all() and mix["share_pct"].sum() == pytest.approx(100, abs=0.5)


def test_ramp_steps_up_and_finds_capacity(scenario_run: Path, figures: pd.DataFrame) -> None:
    stages = pd.read_csv(scenario_run / "stages.csv")
    for stack in STACKS:
        steps = stages[(stages["stack"] == stack) & (stages["scenario"] == "ramp")].sort_values("index")
        assert len(steps) >= 2 and list(steps["users"]) == sorted(steps["users"]), steps.to_string()
        assert steps["users"].iloc[0] < USERS or len(steps) == 1
        assert _figure(figures, stack, "ramp", "capacity_rps") == pytest.approx(steps["rps"].max(), rel=1e-6)


def test_spike_raises_latency_and_reports_recovery(scenario_run: Path, figures: pd.DataFrame) -> None:
    stages = pd.read_csv(scenario_run / "stages.csv")
    for stack in STACKS:
        spike = stages[(stages["stack"] == stack) & (stages["scenario"] == "spike")]
        users = dict(zip(spike["stage"], spike["users"], strict=True))
        assert users == {"before": USERS, "spike": 10 * USERS, "after": USERS}, spike.to_string()
        # ten times the users on one worker: queueing makes p99 far higher than before, whatever the noise
        assert _figure(figures, stack, "spike", "spike_p99_ms") > _figure(figures, stack, "spike", "before_p99_ms")
        rows = figures[(figures["stack"] == stack) & (figures["scenario"] == "spike")]
        assert "recovery_s" in set(rows["figure"])  # a number, or NaN with a note saying it was not back


def test_soak_reports_memory_slope_and_drift(scenario_run: Path, figures: pd.DataFrame) -> None:
    series = pd.read_csv(scenario_run / "series.csv")
    for stack in STACKS:
        for name in ("rss_mb_per_h", "rss_mb_per_h_per_worker", "rps_drift_pct_per_h"):
            assert pd.notna(_figure(figures, stack, "soak", name)), name
        assert len(series[(series["stack"] == stack) & (series["scenario"] == "soak")]) >= 2


def test_report_answers_each_scenario_with_a_chart(scenario_run: Path) -> None:
    html = (scenario_run / "report" / "index.html").read_text()
    assert 'id="scenarios"' in html
    section = html.split('id="scenarios"', 1)[1]
    assert section.count("data:image/png;base64,") >= 6  # io, mix, ramp, spike, soak, payload, open


def test_worker_counts_are_a_matrix_dimension(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    run_dir = _bench(stackmark_cmd, tmp_path, "--duration", "2", "--scenario", "json", "--workers", "1,2")
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["settings"]["worker_counts"] == [1, 2]
    ids = {f"{s}-w{n}" for s in STACKS for n in (1, 2)}
    assert set(meta["stacks"]) == ids
    for stack in STACKS:
        spec = json.loads((run_dir / "stacks" / f"{stack}-w2" / "stack.json").read_text())
        assert spec["workers"] == 2
        samples = pd.read_csv(run_dir / "stacks" / f"{stack}-w2" / f"json-c{USERS}-r0" / "samples.csv")
        assert samples["server_procs"].max() >= 3  # a parent and its two workers
    scaling = pd.read_csv(run_dir / "scaling.csv")
    two = scaling[scaling["workers"] == 2]
    assert set(two["stack"]) == {f"{s}-w2" for s in STACKS} and set(two["base"]) == {f"{s}-w1" for s in STACKS}
    assert (two["efficiency"] > 0).all() and (two["server_cpus"] == len(meta["settings"]["server_cpus"])).all()
    expected = two["rps"] / (2 * two["rps_one"])
    assert list(two["efficiency"]) == pytest.approx(list(expected), rel=1e-6)
