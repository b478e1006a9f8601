"""`stackmark ab`: a real, short A/B run (base = HEAD in a git worktree), interleaved, then gated.

An A/A pair on a noisy machine may or may not be called a regression by chance with few repeats, so
this asserts the structure (both sides measured, interleaved, the worktree gone, a verdict written),
not the verdict; the verdicts are tested on stored runs (tests/test_compare*.py).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from runformat.read import read_cell, read_phases, read_run_meta
from servers.base import Runtime
from servers.matrix import load_matrix
from stackmark.ab import base_plan
from stackmark.errors import UserError
from stackmark.plan import BenchPlan, Overrides

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
SHORT = ["--stacks", "bare-asgi-uvicorn", "--scenario", "json", "--concurrency", "4", "--duration", "1",
         "--warmup", "0.5", "--primer", "0.5"]


def _worktrees() -> list[str]:
    r = subprocess.run(["git", "-C", str(REPO), "worktree", "list", "--porcelain"], capture_output=True, text=True)
    return [line for line in r.stdout.splitlines() if line.startswith("worktree ")]


def test_ab_interleaves_both_sides_and_writes_a_verdict(tmp_path: Path, stackmark_cmd: list[str]) -> None:
    before = _worktrees()
    r = subprocess.run([*stackmark_cmd, "ab", "--base", "HEAD", *SHORT, "--repeat", "3", "--out", str(tmp_path),
                        "--json", str(tmp_path / "verdict.json"), "--markdown", str(tmp_path / "verdict.md")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode in (0, 1), r.stdout + r.stderr  # 1 only if the gate called the A/A pair a regression
    assert _worktrees() == before  # the base's worktree is removed
    (folder,) = tmp_path.glob("ab-*")
    measures: list[tuple[float, str]] = []
    for side in ("base", "candidate"):
        meta = read_run_meta(folder / side)
        assert meta["runtime"]["root"] != str(REPO) if side == "base" else meta["runtime"]["root"] == str(REPO)
        cells = sorted((folder / side / "stacks" / "bare-asgi-uvicorn").glob("json-c4-r*"))
        assert len(cells) == 3
        for cell in cells:
            record = read_cell(cell)
            assert record is not None and record["status"] == "ok", record
            phases = read_phases(cell)
            assert phases is not None
            measures.append((float(phases["measure"]), f"{side}-{cell.name[-2:]}"))
    order = [name for _, name in sorted(measures)]
    assert order == ["base-r0", "candidate-r0", "candidate-r1", "base-r1", "base-r2", "candidate-r2"]
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict  # the comparison of the two sides was written
    assert (tmp_path / "verdict.md").read_text().strip()


@pytest.mark.parametrize(("args", "needle"), [
    (["--base", "no-such-ref-anywhere"], "names no commit"),
    (["--base=-oops"], "not a git ref"),
    (["--base-python", "/nonexistent/python"], "cannot run it"),
])
def test_ab_bad_base_is_one_line(stackmark_cmd: list[str], args: list[str], needle: str) -> None:
    r = subprocess.run([*stackmark_cmd, "ab", *args, *SHORT], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], r.stderr


def _plan(matrix_file: Path) -> BenchPlan:
    return BenchPlan.from_profile(load_matrix(matrix_file), Overrides(
        stacks=["team-gunicorn-sync"], locustfile=str(REPO / "tests" / "data" / "team_locustfile.py")))


def test_a_team_matrix_is_read_from_the_base_checkout(tmp_path: Path) -> None:
    """The base side takes the team's matrix (and what it inherits) from the base's checkout, not ours."""
    team = REPO / "tests" / "data" / "team_matrix.toml"
    base_root = tmp_path / "base"
    shutil.copytree(REPO / "tests" / "data" / "team_app", base_root / "tests" / "data" / "team_app")
    text = team.read_text(encoding="utf-8").replace('target = "team_service:app"', 'target = "team_service:v0"')
    (base_root / "tests" / "data" / "team_matrix.toml").write_text(text, encoding="utf-8")
    (base_root / "servers").mkdir()
    shutil.copy(REPO / "servers" / "matrix.toml", base_root / "servers" / "matrix.toml")
    base = base_plan(_plan(team), Runtime(root=base_root), team)
    (stack,) = base.stacks
    assert stack.target == "team_service:v0"
    assert stack.source == base_root / "tests" / "data" / "team_app"
    assert base.runtime.root == base_root


def test_a_base_ref_needs_the_matrix_in_the_repository(tmp_path: Path) -> None:
    outside = tmp_path / "team.toml"
    shutil.copy(REPO / "tests" / "data" / "team_matrix.toml", outside)
    (tmp_path / "team_app").mkdir()
    with pytest.raises(UserError, match="outside this repository"):
        base_plan(_plan(outside), Runtime(root=tmp_path), outside)
    team = REPO / "tests" / "data" / "team_matrix.toml"
    with pytest.raises(UserError, match="does not exist at the base ref"):
        base_plan(_plan(team), Runtime(root=tmp_path), team)
