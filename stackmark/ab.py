"""A/B on one machine: the base and the candidate interleaved, then compared.

Both sides run on the same machine in one job, repeat by repeat (A B, then B A,
so slow drift lands on both alike), every repeat a fresh start of every
stack: both share the runner's noise, which is what lets a gate on a shared
2-core runner tell a change from the weather. The base is either a git ref
(a worktree of this repository at that commit: its apps and its matrix,
run by this harness with this Locust and these scenarios, so the load is held
equal) or another Python environment (`--base-python`: a virtualenv with other
server or framework versions).
"""
from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from runformat.paths import new_run_id
from servers.base import REPO_ROOT, Runtime
from servers.matrix import MATRIX_FILE, MatrixError, load_matrix
from stackmark.bench import BenchResult, cells_to_run, database_env, new_run, plan_cell_s, run_repeat
from stackmark.errors import UserError
from stackmark.plan import BenchPlan, configured
from stackmark.progress import PlainProgress, Progress

SIDES = ("base", "candidate")


@dataclass
class AbResult:
    base: BenchResult
    candidate: BenchResult

    @property
    def folder(self) -> Path:
        return self.base.run.path.parent


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=120)


def resolve_ref(ref: str) -> str:
    """The commit a ref names in this repository, or one line saying how to get it."""
    if not ref or ref.startswith("-"):
        raise UserError(f"--base {ref!r} is not a git ref; pass a branch, tag or commit")
    r = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if r.returncode != 0:
        raise UserError(f"--base {ref!r} names no commit of this repository; fetch it first (in CI: "
                        "actions/checkout with fetch-depth: 0) or pass another branch, tag or commit")
    return r.stdout.strip()


def check_python(python: str) -> str:
    """An interpreter that runs, as given (a virtualenv's bin/python keeps its own site-packages)."""
    try:
        r = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2] >= (3, 11))"],
                           capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise UserError(f"--base-python {python}: cannot run it ({exc.strerror}); pass a virtualenv's "
                        "bin/python") from None
    if r.returncode != 0 or r.stdout.strip() != "True":
        raise UserError(f"--base-python {python}: not a Python 3.11 or newer; pass a virtualenv's bin/python")
    return python


@contextlib.contextmanager
def base_runtime(ref: str | None, python: str | None) -> Iterator[Runtime]:
    """The base side's runtime; a worktree made for a git ref is removed afterwards, whatever happens."""
    interpreter = check_python(python) if python else Runtime().python
    if ref is None:
        yield Runtime(python=interpreter)
        return
    sha = resolve_ref(ref)
    folder = Path(tempfile.mkdtemp(prefix="stackmark-ab-base-"))
    r = _git("worktree", "add", "--detach", str(folder), sha)
    if r.returncode != 0:
        raise UserError(f"cannot make a worktree of {ref} ({r.stderr.strip()[:200]}); is this a git checkout?")
    try:
        yield Runtime(python=interpreter, root=folder)
    finally:
        _git("worktree", "remove", "--force", str(folder))


def base_plan(candidate: BenchPlan, runtime: Runtime, matrix_file: Path = MATRIX_FILE) -> BenchPlan:
    """The candidate's plan with the base's stacks and runtime.

    For a git ref the stacks come from the base checkout's copy of the same matrix file (a team's
    matrix included, its app sources relative to it, the tables it inherits from the base's
    servers/matrix.toml), so the base runs the base's apps and options.
    """
    if runtime.root == REPO_ROOT:
        return dataclasses.replace(candidate, runtime=runtime)
    try:
        relative = matrix_file.resolve().relative_to(REPO_ROOT)
    except ValueError:
        raise UserError(f"--base reads the base's copy of the matrix, but {matrix_file} is outside this "
                        "repository; commit it here, or compare environments with --base-python") from None
    if not (runtime.root / relative).is_file():
        raise UserError(f"{relative} does not exist at the base ref; land it on the base branch first, or "
                        "compare environments with --base-python")
    try:
        matrix = load_matrix(runtime.root / relative, runtime.root / MATRIX_FILE.relative_to(REPO_ROOT))
    except MatrixError as exc:
        raise UserError(f"the base's matrix cannot be read: {exc}") from None
    stacks = [matrix.stacks[s.id] for s in candidate.stacks if s.id in matrix.stacks]
    if not stacks:
        raise UserError("none of the selected stacks exists at the base ref; pick stacks both sides have")
    if candidate.configuration != "default" and not matrix.tuned:
        raise UserError("the base ref has no [tuned.*] rules in its matrix, so it cannot run tuned; pick a later "
                        "base or --configuration default")
    stacks = configured(stacks, candidate.configuration, matrix.tuned, candidate.server_cpus)  # the base's rules
    return dataclasses.replace(candidate, stacks=stacks, runtime=runtime)


def run_ab(base: BenchPlan, candidate: BenchPlan, out: Path, progress: Progress | None = None) -> AbResult:
    """Both sides into out/ab-<time>/base and .../candidate, repeat by repeat, alternating which goes first."""
    progress = progress or PlainProgress()
    folder = Path(out) / f"ab-{new_run_id()}"
    runs = {side: new_run(plan, folder, side) for side, plan in zip(SIDES, (base, candidate), strict=True)}
    plans = dict(zip(SIDES, (base, candidate), strict=True))
    results = {side: BenchResult(runs[side]) for side in SIDES}
    envs = {side: database_env(plans[side], runs[side]) for side in SIDES}
    progress.line(f"A/B folder: {folder}")
    progress.begin(sum(cells_to_run(plans[side], runs[side]) for side in SIDES), plan_cell_s(candidate))
    for repeat in range(candidate.repeat):
        for side in SIDES if repeat % 2 == 0 else SIDES[::-1]:
            progress.line(f"[{repeat}] {side}")
            run_repeat(plans[side], runs[side], repeat, envs[side], results[side], progress)
    for side in SIDES:
        runs[side].finish()
    return AbResult(results["base"], results["candidate"])
