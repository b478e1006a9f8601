"""The tuned configuration: each server's workers and threads as its docs recommend for its CPUs."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import psutil
import pytest

from procs import wait_for
from servers.base import LaunchSpec
from servers.launcher import launch
from servers.matrix import MATRIX_FILE, Count, MatrixError, load_matrix
from servers.registry import SERVERS
from stackmark.bench import _stack_record, new_run
from stackmark.errors import UserError
from stackmark.plan import BenchPlan, Overrides, server_cpu_count, tuned_stacks
from stackmark.verify import verify_stack

# stack -> (workers, the tuned options) at 1, 2 and 4 CPUs, as servers/matrix.toml's comments cite them
DOCUMENTED: dict[str, dict[int, tuple[int, dict[str, int]]]] = {
    "flask-gunicorn-sync": {1: (3, {}), 2: (5, {}), 4: (9, {})},  # (2 x cores) + 1
    "flask-gunicorn-gthread": {1: (3, {"threads": 4}), 2: (5, {"threads": 8}), 4: (9, {"threads": 16})},
    "fastapi-gunicorn-uvicorn": {1: (3, {}), 2: (5, {}), 4: (9, {})},
    "fastapi-gunicorn-asgi": {1: (3, {}), 2: (5, {}), 4: (9, {})},
    "flask-uwsgi": {1: (1, {"threads": 2}), 2: (2, {"threads": 2}), 4: (4, {"threads": 2})},
    "fastapi-uvicorn": {1: (1, {}), 2: (2, {}), 4: (4, {})},
    "fastapi-hypercorn": {1: (1, {}), 2: (2, {}), 4: (4, {})},
    "flask-granian": {1: (1, {"blocking_threads": 3}), 2: (2, {"blocking_threads": 5}),
                      4: (4, {"blocking_threads": 9})},
    "fastapi-daphne": {1: (1, {}), 2: (1, {}), 4: (1, {})},  # one process: tuned is its default
}


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_the_rules_give_each_servers_documented_numbers(cpus: int) -> None:
    m = load_matrix()
    stacks = tuned_stacks([m.stacks[sid] for sid in DOCUMENTED], m.tuned, cpus)
    for stack in stacks:
        workers, added = DOCUMENTED[stack.id][cpus]
        default = m.stacks[stack.id]
        assert (stack.workers, stack.options) == (workers, {**default.options, **added}), stack.id
        assert stack.configuration == "tuned" and default.configuration == "default"


def test_the_command_lines_carry_the_tuned_threads() -> None:
    m = load_matrix()
    by_id = {s.id: s for s in tuned_stacks(list(m.stacks.values()), m.tuned, 2)}

    def command(sid: str) -> list[str]:
        s = by_id[sid]
        return SERVERS[s.server].command(LaunchSpec(s.target, s.interface, "127.0.0.1", 45678, s.workers,
                                                    s.backlog, s.options))

    def after(cmd: list[str], flag: str) -> str:
        return cmd[cmd.index(flag) + 1]

    assert after(command("flask-granian"), "--blocking-threads") == "5"
    assert after(command("flask-granian"), "--workers") == "2"
    assert "--blocking-threads" not in command("fastapi-granian")  # ASGI: fixed at one, more is an error
    assert after(command("flask-uwsgi"), "--threads") == "2" and after(command("flask-uwsgi"), "--processes") == "2"
    gthread = command("flask-gunicorn-gthread")
    assert (after(gthread, "--workers"), after(gthread, "--threads")) == ("5", "8")
    assert "--threads" not in command("flask-gunicorn-sync")  # threads would turn sync into gthread
    assert after(command("fastapi-uvicorn"), "--workers") == "2"
    # the defaults' command lines are unchanged: no thread flags
    default = m.stacks["flask-uwsgi"]
    assert "--threads" not in SERVERS["uwsgi"].command(
        LaunchSpec(default.target, "wsgi", "127.0.0.1", 45678, 1, 2048, default.options))


def test_the_tuned_plan_changes_workers_not_ids() -> None:
    m = load_matrix()
    quick = BenchPlan.from_profile(m, Overrides(profile="quick", no_pin=True))
    tuned = BenchPlan.from_profile(m, Overrides(profile="tuned", no_pin=True))
    assert [s.id for s in tuned.stacks] == [s.id for s in quick.stacks]
    cpus = server_cpu_count(tuned.server_cpus)
    assert cpus == os.cpu_count()  # unpinned: every CPU of the machine
    by_id = {s.id: s for s in tuned.stacks}
    assert by_id["flask-gunicorn-sync"].workers == 2 * cpus + 1
    assert {s.workers for s in quick.stacks} == {1}
    assert (quick.configuration, tuned.configuration) == ("default", "tuned")
    assert tuned.settings()["configuration"] == "tuned" and quick.settings()["configuration"] == "default"
    assert tuned.concurrency == [64]
    # --configuration on any profile does the same; on tuned, default gives back the one-worker stacks
    overridden = BenchPlan.from_profile(m, Overrides(profile="quick", no_pin=True, configuration="tuned"))
    assert overridden.stacks == tuned.stacks
    back = BenchPlan.from_profile(m, Overrides(profile="tuned", no_pin=True, configuration="default"))
    assert back.stacks == quick.stacks


def test_stack_json_records_the_configuration_and_its_hash() -> None:
    m = load_matrix()
    plan = BenchPlan.from_profile(m, Overrides(profile="tuned", no_pin=True, stacks=["flask-gunicorn-sync"]))
    record = _stack_record(plan, plan.stacks[0], 0)
    assert record["configuration"] == "tuned" and record.get("workers") == plan.stacks[0].workers
    assert record["config_hash"] == plan.stacks[0].config_hash() != m.stacks["flask-gunicorn-sync"].config_hash()


def test_the_hash_changes_with_workers_and_options_and_nothing_else() -> None:
    stack = load_matrix().stacks["flask-gunicorn-gthread"]
    h = stack.config_hash()
    assert len(h) == 12 and int(h, 16) >= 0
    assert dataclasses.replace(stack, workers=2).config_hash() != h
    assert dataclasses.replace(stack, options={**stack.options, "threads": 8}).config_hash() != h
    assert dataclasses.replace(stack, worker="sync").config_hash() != h
    # the same configuration: another app, id or label, options in another order
    same = dataclasses.replace(stack, id="x", app="django-wsgi", target="apps.django_app.wsgi:application",
                               configuration="tuned", options=dict(reversed(list(stack.options.items()))))
    assert same.config_hash() == h


def test_a_one_process_server_never_gets_more_workers(tmp_path: Path) -> None:
    text = MATRIX_FILE.read_text() + "\n[tuned.daphne]\nworkers = { per_cpu = 1 }\n"
    (tmp_path / "matrix.toml").write_text(text)
    with pytest.raises(MatrixError, match=r"\[tuned.daphne\] daphne runs at most 1 worker"):
        load_matrix(tmp_path / "matrix.toml")
    m = load_matrix()
    with pytest.raises(MatrixError, match="runs at most 1"):
        tuned_stacks([m.stacks["fastapi-daphne"]], {"daphne": {"workers": Count(plus=2)}}, 1)


@pytest.mark.parametrize("rule", ["0", "{ per_cpu = -1 }", '"many"', "{ cores = 2 }"])
def test_a_bad_rule_names_its_table(tmp_path: Path, rule: str) -> None:
    (tmp_path / "matrix.toml").write_text(MATRIX_FILE.read_text().replace(
        "workers = { per_cpu = 2, plus = 1 }", f"workers = {rule}"))
    with pytest.raises(MatrixError, match=r"\[tuned.gunicorn.workers\] must be a whole number"):
        load_matrix(tmp_path / "matrix.toml")


def test_every_tuned_table_names_a_server_or_a_variant() -> None:
    """A typo would tune nothing (unknown names are allowed for a team's matrix file, as for `skip`)."""
    m = load_matrix()
    names = {s.server for s in m.stacks.values()} | {s.variant for s in m.stacks.values()}
    assert set(m.tuned) <= names and {"gunicorn", "uwsgi", "uvicorn", "hypercorn", "granian"} <= set(m.tuned)


def test_a_target_has_no_tuned_configuration() -> None:
    with pytest.raises(UserError, match="drop --configuration tuned"):
        BenchPlan.from_profile(load_matrix(), Overrides(profile="tuned", target="http://127.0.0.1:9"))


def _group(pgid: int) -> list[psutil.Process]:
    procs = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid:
                procs.append(p)
        except (ProcessLookupError, psutil.Error):
            continue
    return procs


@pytest.mark.integration
def test_a_tuned_stack_runs_its_rules_worker_count_and_meets_the_contract(tmp_path: Path) -> None:
    m = load_matrix()
    (stack,) = tuned_stacks([m.stacks["flask-gunicorn-sync"]], m.tuned, 2)
    assert stack.workers == 5
    with launch(stack, tmp_path / "server.log") as server:
        assert server.command[server.command.index("--workers"):][:2] == ["--workers", "5"]
        procs = wait_for(lambda: (g := _group(server.pid)) and len(g) == 1 + 5 and g, timeout=20)
        assert sum(p.pid != server.pid for p in procs) == 5  # the master and its five workers
        verdict = verify_stack(server.host, server.port)
        assert verdict.status == "ok", verdict.to_dict()


def test_a_resumed_tuned_run_runs_tuned_again(tmp_path: Path) -> None:
    m = load_matrix()
    plan = BenchPlan.from_profile(m, Overrides(profile="tuned", no_pin=True, stacks=["flask-gunicorn-gthread"]))
    run = new_run(plan, tmp_path)
    resumed, _ = BenchPlan.from_run(run.path, m)
    assert resumed.configuration == "tuned" and resumed.stacks == plan.stacks
    assert resumed.stacks[0].workers == 2 * server_cpu_count(plan.server_cpus) + 1
