"""`stackmark compare` and `stackmark baseline save` end to end: exit codes 0, 1 and 2, one line for bad input.

The exit codes a CI job depends on run as a user runs them (a subprocess of the installed script); the
other paths call `stackmark.cli.main` in this process, which is the same code minus the start-up time.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from runformat import atomic
from stackmark.cli import main

DATA = Path(__file__).resolve().parent / "data"
BASE, AA, REGRESSED = str(DATA / "compare-base"), str(DATA / "compare-aa"), str(DATA / "compare-regressed")


def run(stackmark_cmd: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*stackmark_cmd, *args], capture_output=True, text=True, timeout=120)


def test_exit_0_on_an_a_a_pair_and_1_on_a_planted_regression(stackmark_cmd: list[str], tmp_path: Path) -> None:
    r = run(stackmark_cmd, "compare", BASE, AA)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "no regression (12 comparisons)"
    md, js = tmp_path / "verdict.md", tmp_path / "verdict.json"
    r = run(stackmark_cmd, "compare", BASE, REGRESSED, "--markdown", str(md), "--json", str(js))
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines()[0] == "REGRESSION in 1 of 12 comparisons" and r.stderr == ""
    assert md.read_text().startswith("### :x: stackmark compare: REGRESSION in 1 of 12 comparisons")
    assert json.loads(js.read_text())["regressions"] == 1


def test_exit_2_with_one_line_for_another_host_and_a_newer_baseline(stackmark_cmd: list[str],
                                                                    tmp_path: Path) -> None:
    other = tmp_path / "other-host"
    shutil.copytree(AA, other)
    meta = json.loads((other / "run.json").read_text())
    meta["host"]["cpu_count"] = 4
    atomic.write_json(other / "run.json", meta)
    r = run(stackmark_cmd, "compare", BASE, str(other))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("stackmark: error: not comparable: cpu_count 2 -> 4")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = run(stackmark_cmd, "compare", BASE, str(other), "--allow-different-host")
    assert r.returncode == 0 and "GATED ACROSS HOSTS (--allow-different-host): cpu_count 2 -> 4" in r.stdout

    newer = tmp_path / "newer.json"
    assert main(["baseline", "save", BASE, "newer", "--out-dir", str(tmp_path)]) == 0
    record = json.loads(newer.read_text())
    atomic.write_json(newer, {**record, "baseline_version": 99})
    r = run(stackmark_cmd, "compare", str(newer), AA)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "baseline_version 99 is newer than this stackmark understands (1); upgrade stackmark" in r.stderr


def test_a_saved_baseline_compares_equal_to_its_run_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # NAME resolves as results/baselines/NAME.json of the working folder
    assert main(["baseline", "save", BASE, "main"]) == 0
    saved = tmp_path / "results" / "baselines" / "main.json"
    assert json.loads(saved.read_text())["baseline_version"] == 1
    capsys.readouterr()
    assert main(["compare", "main", BASE]) == 0
    assert capsys.readouterr().out.startswith("no regression (12 comparisons)")
    assert main(["compare", "main", REGRESSED]) == 1
    assert main(["baseline", "save", BASE, "main"]) == 2  # no silent overwrite
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["baseline", "save", BASE, "main", "--force"]) == 0


def test_one_repeat_each_is_inconclusive_not_a_pass_or_fail_by_accident(capsys: pytest.CaptureFixture[str]) -> None:
    one = str(DATA / "compare-one")
    assert main(["compare", one, one]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "no regression (12 comparisons, 12 inconclusive)"
    assert out.count("needs --repeat 3") == 12


def test_failed_and_noisy_current_runs(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    assert main(["compare", BASE, str(DATA / "compare-failed"), "--json", str(out)]) == 1
    reasons = {r["reason"] for r in json.loads(out.read_text())["rows"] if r["verdict"] == "regression"}
    assert reasons == {"failed in current: server process 4151 died during the cell (all 5 repeats)"}
    assert main(["compare", BASE, str(DATA / "compare-noisy"), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {r["reason"] for r in rows if r["metric"] in ("rps", "p99_ms")} == {"flagged unsaturated/noisy on current"}


@pytest.mark.parametrize(("toml", "needle"), [
    ("[gate\n", "not valid TOML"),
    ("[thresholds]\nlatency = 0.05\n", "[thresholds]: unknown key 'latency'"),
    ('[gate]\nmetrics = ["cpu"]\n', "[gate].metrics: unknown name 'cpu'"),
])
def test_a_bad_thresholds_file_is_exit_2_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  toml: str, needle: str) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(toml)
    assert main(["compare", BASE, AA, "--thresholds", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_thresholds_file_changes_the_verdict(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text('[stacks."flask-gunicorn-sync"]\ncpu_us_per_req = 0.25\n')
    assert main(["compare", BASE, REGRESSED, "--thresholds", str(path)]) == 0


@pytest.mark.parametrize(("args", "needle"), [
    (["compare", BASE, "no-such-run"], "no-such-run: no such run folder, baseline file or baseline name"),
    (["compare", str(DATA / "expected"), AA], "not a stackmark run folder (no run.json)"),
    (["baseline", "save", BASE, "../up"], "baseline name '../up' cannot name a folder"),
    (["baseline", "save", "no-such-run", "x"], "no-such-run: no such folder"),
])
def test_unusable_input_is_exit_2_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           args: list[str], needle: str) -> None:
    assert main([*args, *(["--out-dir", str(tmp_path)] if args[0] == "baseline" else [])]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
