"""`stackmark verify --locustfile`: a team app (contract = false) checked by a smoke run of its own requests;
and the run records which locustfile (path and digest) its load came from."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from runformat.records import Settings, conform
from servers.matrix import load_matrix
from stackmark.plan import BenchPlan, Overrides

DATA = Path(__file__).resolve().parent / "data"
MATRIX = DATA / "team_matrix.toml"
LOCUSTFILE = DATA / "team_locustfile.py"
STACK, BROKEN = "team-gunicorn-sync", "team-broken-gunicorn-sync"


def _verify(stackmark_cmd: list[str], tmp_path: Path, *stacks: str, locustfile: bool = True) -> str:
    r = subprocess.run([*stackmark_cmd, "verify", "--matrix", str(MATRIX), *stacks, "--log-dir", str(tmp_path),
                        *(["--locustfile", str(LOCUSTFILE)] if locustfile else [])],
                       capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "250"})
    return f"rc={r.returncode}\n{r.stdout}{r.stderr}"


def _row(output: str, stack: str) -> str:
    return next(line for line in output.splitlines() if f" {stack} " in line)


@pytest.mark.integration
def test_verify_smoke_checks_a_team_app_with_its_locustfile(stackmark_cmd: list[str], tmp_path: Path) -> None:
    output = _verify(stackmark_cmd, tmp_path, STACK, BROKEN)
    assert output.startswith("rc=1"), output  # the broken one fails
    assert " ok " in _row(output, STACK), output
    assert " fail " in _row(output, BROKEN) and "/orders" in output, output
    assert (tmp_path / f"{STACK}-smoke").is_dir()


@pytest.mark.integration
def test_verify_without_a_locustfile_only_warns_for_such_an_app(stackmark_cmd: list[str], tmp_path: Path) -> None:
    output = _verify(stackmark_cmd, tmp_path, BROKEN, locustfile=False)
    assert output.startswith("rc=0") and " warn " in _row(output, BROKEN), output  # nothing to compare with


def test_a_missing_locustfile_is_one_line(stackmark_cmd: list[str], tmp_path: Path) -> None:
    r = subprocess.run([*stackmark_cmd, "verify", "--matrix", str(MATRIX), STACK, "--locustfile",
                        str(tmp_path / "nope.py")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such .py file" in r.stderr, r.stderr


def test_the_run_records_which_locustfile_it_ran() -> None:
    plan = BenchPlan.from_profile(load_matrix(MATRIX), Overrides(stacks=[STACK], locustfile=str(LOCUSTFILE)))
    settings = plan.settings()
    assert settings["locustfiles"] == {"team_locustfile": {
        "path": str(LOCUSTFILE), "sha256": hashlib.sha256(LOCUSTFILE.read_bytes()).hexdigest()}}
    conform(settings, Settings, "run.json settings")  # the format owner accepts it
    catalog_only = BenchPlan.from_profile(load_matrix(), Overrides(stacks=["fastapi-uvicorn"])).settings()
    assert "locustfiles" not in catalog_only
