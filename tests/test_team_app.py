"""A team's own app and locustfile: a matrix file outside servers/, `--locustfile`, the smoke check."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from apps.contract import ENDPOINTS
from scenarios.catalog import PHASES_FILE, load_scenarios, locustfile_scenario
from servers.launcher import child_env
from servers.matrix import MatrixError, load_matrix
from stackmark.bench import verify_served
from stackmark.errors import UserError
from stackmark.loadgen import LoadSettings, locust_command
from stackmark.plan import BenchPlan, Overrides
from stackmark.smoke import StackChecks, classify, smoke_check, smoke_findings
from stackmark.target import ExternalServer
from stackmark.verify import Finding, VerifyResult

DATA = Path(__file__).resolve().parent / "data"
MATRIX = DATA / "team_matrix.toml"
LOCUSTFILE = DATA / "team_locustfile.py"
STACK, BROKEN = "team-gunicorn-sync", "team-broken-gunicorn-sync"


# ---- the matrix: source, contract, tables taken from servers/matrix.toml ---------------------------------

def test_a_team_matrix_adds_its_app_by_import_path_interface_and_source() -> None:
    m = load_matrix(MATRIX)
    assert set(m.stacks) == {STACK, BROKEN}
    team = m.stacks[STACK]
    assert (team.target, team.interface, team.server) == ("team_service:app", "wsgi", "gunicorn")
    assert team.source == DATA / "team_app" and not team.contract
    assert "quick" in m.profiles  # what the file leaves out comes from servers/matrix.toml
    assert team.to_dict()["source"] == str(DATA / "team_app")  # stack.json stays plain JSON
    assert importlib.util.find_spec("team_service") is None  # importable only through `source`


def test_an_apps_only_file_runs_on_the_reference_server_variants(tmp_path: Path) -> None:
    (tmp_path / "svc").mkdir()
    path = tmp_path / "m.toml"
    path.write_text('[apps.svc]\nframework = "flask"\ninterface = "asgi"\ntarget = "svc:app"\nsource = "svc"\n')
    m = load_matrix(path)
    assert {s.variant for s in m.stacks.values()} == {"gunicorn-uvicorn", "gunicorn-asgi", "uvicorn", "hypercorn",
                                                      "granian", "daphne"}
    assert all(s.contract and s.source == tmp_path / "svc" for s in m.stacks.values())
    # the reference quick profile skips its fair-comparison variants here too; the reference app names it
    # also skips (django-asgi-async) are not in this file, and that is no error
    quick = BenchPlan.from_profile(m, Overrides(profile="quick")).stacks
    assert {s.variant for s in quick} == {"gunicorn-uvicorn", "uvicorn", "hypercorn", "granian"}


@pytest.mark.parametrize(("line", "needle"), [
    ('source = "no-such-folder"', "source folder 'no-such-folder' does not exist"),
    ('source = 3', "source must be a folder path"),
    ('contract = "no"', "contract must be true or false"),
])
def test_a_bad_source_or_contract_is_one_line_naming_the_file(tmp_path: Path, line: str, needle: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(f'[apps.svc]\nframework = "x"\ninterface = "wsgi"\ntarget = "svc:app"\n{line}\n')
    with pytest.raises(MatrixError) as info:
        load_matrix(path)
    assert needle in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_the_source_folder_is_first_on_the_servers_path_and_reference_stacks_are_unchanged(tmp_path: Path) -> None:
    env = child_env({"PYTHONPATH": "/elsewhere"}, root=Path("/checkout"), source=tmp_path)
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tmp_path), "/checkout", "/elsewhere"]
    assert child_env({"PYTHONPATH": ""}, root=Path("/checkout"))["PYTHONPATH"] == "/checkout"
    assert all(s.source is None and s.contract for s in load_matrix().stacks.values())


# ---- the scenario: one rule for what a stack serves ------------------------------------------------------

def test_a_locustfile_is_a_scenario_without_a_contract_endpoint(tmp_path: Path) -> None:
    custom = locustfile_scenario(LOCUSTFILE)
    assert (custom.name, custom.endpoint, custom.is_custom, custom.locust_args()) == ("team_locustfile", None,
                                                                                     True, [])
    cmd = locust_command(custom, "http://127.0.0.1:1", LoadSettings(8, 1.0, 0.0, 0.0, []), tmp_path)
    assert cmd[cmd.index("-f") + 1] == f"{LOCUSTFILE},{PHASES_FILE}"
    assert "--endpoint" not in cmd and "--method" not in cmd and cmd[cmd.index("--phase-users") + 1] == "8"
    team, reference = load_matrix(MATRIX).stacks[STACK], load_matrix().stacks["bare-wsgi-gunicorn-sync"]
    assert team.serves(None) and reference.serves(None)  # any stack may run a team's locustfile
    assert not team.serves("json") and reference.serves("json")  # only contract apps serve contract endpoints


def test_the_plan_runs_the_locustfile_instead_of_the_profile_scenarios() -> None:
    matrix = load_matrix(MATRIX)
    plan = BenchPlan.from_profile(matrix, Overrides(locustfile=str(LOCUSTFILE)))
    assert [s.name for s in plan.scenarios] == ["team_locustfile"] and plan.cells == 2
    both = BenchPlan.from_profile(load_matrix(), Overrides(stacks=["bare-wsgi-gunicorn-sync"], scenarios=["json"],
                                                           locustfile=str(LOCUSTFILE)))
    assert [s.name for s in both.scenarios] == ["json", "team_locustfile"] and both.cells == 2
    with pytest.raises(UserError, match="contract = false"):
        BenchPlan.from_profile(matrix, Overrides())


def test_a_locustfile_named_like_a_catalog_scenario_is_refused(tmp_path: Path) -> None:
    clash = tmp_path / "json.py"
    clash.write_text(LOCUSTFILE.read_text())
    with pytest.raises(ValueError, match="already a scenario"):
        locustfile_scenario(clash, load_scenarios())


# ---- the smoke check's pure part: Locust's CSV rows -> findings -----------------------------------------

def _stats(**counts: int) -> list[dict[str, str]]:
    rows = [{"Type": "GET", "Name": name, "Request Count": str(n)} for name, n in counts.items()]
    return rows + [{"Type": "", "Name": "Aggregated", "Request Count": str(sum(counts.values()))}]


def _failure(name: str, error: str, times: int = 2) -> dict[str, str]:
    return {"Method": "GET", "Name": name, "Error": error, "Occurrences": str(times)}


@pytest.mark.parametrize(("error", "kind"), [  # error texts as Locust 2.x writes them
    ("LocustBadStatusCode(code=500)", "5xx"),
    ("HTTPError('503 Server Error: Service Unavailable for url: /a')", "5xx"),
    ("LocustBadStatusCode(code=404)", "4xx"),
    ("HTTPError('404 Client Error: Not Found for url: /a')", "4xx"),
    ("ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port=1): Read timed out.\"))", "timeout"),
    ("RetriesExceeded('http://127.0.0.1:1/slow', 0, original=timed out)", "timeout"),
    ("ConnectionRefusedError(111, 'Connection refused')", "connection"),
    ("RemoteDisconnected('Remote end closed connection without response')", "connection"),
    ("CatchResponseError('body wrong')", "failure"),
])
def test_locust_errors_are_told_apart(error: str, kind: str) -> None:
    assert classify(error) == kind


def test_a_5xx_a_timeout_or_a_refused_connection_fails_its_request_name() -> None:
    found = smoke_findings("team", _stats(**{"/a": 5, "/b": 4, "/c": 3, "/ok": 9}), [
        _failure("/a", "LocustBadStatusCode(code=500)"), _failure("/b", "ReadTimeout('timed out')"),
        _failure("/c", "ConnectionRefusedError(111, 'Connection refused')", 3)])
    assert [(f.endpoint, f.level, f.check) for f in found] == [
        ("/a", "fail", "status"), ("/b", "fail", "timeout"), ("/c", "fail", "connection")]
    assert found[0].actual.startswith("2 of 5 requests") and found[2].request == "GET /c"


def test_only_4xx_is_a_warn_and_a_clean_run_has_no_findings() -> None:
    gone = _failure("/gone", "LocustBadStatusCode(code=404)")
    found = smoke_findings("team", _stats(**{"/gone": 4, "/ok": 9}), [gone])
    assert [(f.endpoint, f.level) for f in found] == [("/gone", "warn")]
    assert VerifyResult("warn", found).failed_endpoints == []
    assert smoke_findings("team", _stats(**{"/ok": 9}), []) == []


def test_no_request_at_all_is_a_fail() -> None:
    for stats in ([], _stats(), _stats(**{"/a": 0})):
        found = smoke_findings("team", stats, [])
        assert [(f.endpoint, f.level, f.actual.split(" (")[0]) for f in found] == [
            ("team", "fail", "the locustfile made no request")]


def test_a_failed_smoke_run_blocks_its_scenario_and_only_that() -> None:
    custom, json_scenario = locustfile_scenario(LOCUSTFILE), load_scenarios()["json"]
    bad = VerifyResult("fail", [Finding("/orders", "fail", "status", "no 5xx", "500")], ["/orders"])
    contract_ok = VerifyResult("ok", [], ["json"])
    checks = StackChecks(contract_ok, {custom.name: bad})
    assert checks.blocks(custom) and not checks.blocks(json_scenario)
    assert checks.result.status == "fail" and checks.result.endpoints == ["json", "/orders"]
    assert not StackChecks(contract_ok, {custom.name: VerifyResult("warn", [], [])}).blocks(custom)


def test_verify_of_an_app_without_the_contract_only_warns_and_sends_nothing() -> None:
    team = load_matrix(MATRIX).stacks[STACK]
    result = verify_served(ExternalServer(team, "127.0.0.1", 1, []), list(ENDPOINTS.values()), None)
    assert (result.status, result.failed_endpoints, result.findings[0].check) == ("warn", [], "not checked")


@pytest.mark.integration
@pytest.mark.parametrize(("body", "check"), [
    ("import no_such_module_anywhere\n", "locust"),  # Locust cannot load it: no stats at all
    ("from locust import User, constant, task\n\nclass Idle(User):\n    wait_time = constant(0.5)\n\n"
     "    @task\n    def nothing(self) -> None:\n        pass\n", "requests"),
])
def test_a_smoke_run_that_cannot_measure_anything_fails(tmp_path: Path, body: str, check: str) -> None:
    locustfile = tmp_path / "team_smoke.py"
    locustfile.write_text(body)
    server = ExternalServer(load_matrix(MATRIX).stacks[STACK], "127.0.0.1", 1, [])
    result = smoke_check(server, locustfile_scenario(locustfile), tmp_path / "smoke", [])
    assert result.status == "fail" and [(f.endpoint, f.check) for f in result.findings] == [("team_smoke", check)]


# ---- through the command line ----------------------------------------------------------------------------

def _bench(stackmark_cmd: list[str], out: Path, *args: str,
           locustfile: Path = LOCUSTFILE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*stackmark_cmd, "bench", "--matrix", str(MATRIX), "--locustfile", str(locustfile), "--concurrency", "4",
         "--duration", "1", "--warmup", "0.5", "--primer", "0.5", "--out", str(out), *args],
        capture_output=True, text=True, timeout=240)


def test_a_locustfile_name_that_cannot_name_a_folder_is_refused(stackmark_cmd: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "team locust.py"
    bad.write_text(LOCUSTFILE.read_text())
    r = _bench(stackmark_cmd, tmp_path / "out", locustfile=bad)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "cannot name a folder" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # refused before any run folder or load


@pytest.mark.integration
def test_bench_measures_a_team_app_under_its_own_locustfile(stackmark_cmd: list[str], tmp_path: Path) -> None:
    r = _bench(stackmark_cmd, tmp_path, "--stacks", STACK)
    assert r.returncode == 0, r.stdout + r.stderr
    (run,) = tmp_path.glob("2*")
    verify = json.loads((run / "stacks" / STACK / "stack.json").read_text())["verify"]
    assert verify["status"] == "ok" and sorted(verify["endpoints"]) == ["/health", "/orders"]
    cell = run / "stacks" / STACK / "team_locustfile-c4-r0"
    assert json.loads((cell / "cell.json").read_text())["status"] == "ok"
    latency = json.loads((cell / "latency.json").read_text())
    assert set(latency["requests"]) == {"/health", "/orders"}  # phases.py counts each request name
    assert latency["users"]["seen"] == 4 and latency["users"]["starved"] == 0
    summary = pd.read_csv(run / "summary.csv")
    assert list(summary["scenario"]) == ["team_locustfile"] and list(summary["status"]) == ["ok"]
    requests = sum(int(v["count"]) for v in latency["requests"].values())
    assert int(summary["requests"].iloc[0]) == requests > 0 and int(summary["errors"].iloc[0]) == 0
    with pytest.raises(UserError, match="cannot be resumed"):
        BenchPlan.from_run(run, load_matrix(MATRIX))


@pytest.mark.integration
def test_a_500_on_one_path_fails_verification_and_is_not_measured(stackmark_cmd: list[str],
                                                                  tmp_path: Path) -> None:
    r = _bench(stackmark_cmd, tmp_path, "--stacks", BROKEN)
    assert r.returncode == 1, r.stdout + r.stderr
    (run,) = tmp_path.glob("2*")
    verify = json.loads((run / "stacks" / BROKEN / "stack.json").read_text())["verify"]
    assert verify["status"] == "fail" and verify["failed_endpoints"] == ["/orders"]
    assert {f["check"] for f in verify["findings"]} == {"status"}
    assert f"{BROKEN}: failed verification on /orders" in r.stdout + r.stderr
    assert not list((run / "stacks" / BROKEN).glob("*/cell.json"))  # nothing measured
