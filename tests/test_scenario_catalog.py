"""The catalog's groups, `uses` and `args` (scenarios/catalog.py), and every place that decides whether a
stack takes a scenario or verification blocks it, over all the endpoints a scenario requests."""
from __future__ import annotations

from pathlib import Path

import pytest

import stackmark.select as select
from scenarios.catalog import groups, load_scenarios
from servers.matrix import load_matrix
from stackmark.errors import UserError
from stackmark.select import select_scenarios
from stackmark.smoke import StackChecks
from stackmark.verify import Finding, VerifyResult

CATALOG = load_scenarios()
MATRIX = load_matrix()


def test_a_group_name_selects_its_members_in_catalog_order() -> None:
    assert groups(CATALOG) == {"io-bound": ["io-bound-10ms", "io-bound-100ms"],
                               "payload": ["payload-1k", "payload-10k", "payload-100k"]}
    picked = select_scenarios(["payload-10k,payload", "json"], [])
    assert [s.name for s in picked] == ["payload-10k", "payload-1k", "payload-100k", "json"]
    assert [s.name for s in select_scenarios([], ["io-bound"])] == ["io-bound-10ms", "io-bound-100ms"]


def test_an_unknown_scenario_lists_the_groups_too() -> None:
    with pytest.raises(UserError) as err:
        select_scenarios(["payloads"], [])
    text = str(err.value)
    assert "did you mean 'payload'" in text and "io-bound," in text and "\n" not in text


def test_scenarios_answering_the_issue_are_in_the_catalog() -> None:
    mix, soak = CATALOG["mix"], CATALOG["soak"]
    assert mix.endpoints == soak.endpoints == ("json", "db", "fortunes", "echo")
    assert CATALOG["json"].endpoints == ("json",)
    assert [CATALOG[f"payload-{k}"].path for k in ("1k", "10k", "100k")] == [
        "/stream?kb=1", "/stream?kb=10", "/stream?kb=100"]
    assert CATALOG["ramp"].locust_args() == ["--endpoint", "/json", "--shape", "ramp", "--ramp-steps", "6",
                                             "--slo-p99-ms", "100", "--max-error-pct", "1"]
    assert CATALOG["spike"].locust_args() == ["--endpoint", "/json", "--shape", "spike", "--spike-factor", "10"]


def test_a_locustfile_of_several_endpoints_gets_no_endpoint_and_the_ui_no_shape() -> None:
    assert CATALOG["mix"].locust_args() == []
    assert CATALOG["soak"].locust_args() == ["--shape", "soak", "--think-ms", "10"]
    assert CATALOG["soak"].locust_args(phases=False) == ["--think-ms", "10"]
    assert CATALOG["ramp"].locust_args(phases=False) == ["--endpoint", "/json"]
    assert CATALOG["open-json"].locust_args() == ["--endpoint", "/json", "--rate", "500"]
    assert CATALOG["echo"].locust_args(phases=False) == CATALOG["echo"].locust_args()


def test_a_stack_takes_a_mix_only_if_it_serves_every_endpoint_of_it() -> None:
    flask, bare = MATRIX.stacks["flask-gunicorn-sync"], MATRIX.stacks["bare-wsgi-gunicorn-sync"]
    assert bare.serves("json") and not bare.serves("db")
    assert CATALOG["json"].served_by(bare) and CATALOG["ramp"].served_by(bare)
    assert not CATALOG["mix"].served_by(bare) and not CATALOG["soak"].served_by(bare)
    assert CATALOG["mix"].served_by(flask) and not CATALOG["ws"].served_by(flask)


def _failed(endpoint: str) -> VerifyResult:
    return VerifyResult("fail", [Finding(endpoint, "fail", "status", "200", "500")], [endpoint])


def test_a_failed_endpoint_the_mix_uses_blocks_it() -> None:
    checks = StackChecks(_failed("fortunes"))
    assert checks.blocks(CATALOG["mix"]) and checks.blocks(CATALOG["fortunes"])
    assert not checks.blocks(CATALOG["json"]) and not checks.blocks(CATALOG["spike"])


def _catalog(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text('[json]\nlocustfile = "closed.py"\nendpoint = "json"\n\n' + entry)
    return path


@pytest.mark.parametrize(("entry", "says"), [
    ('[m]\nlocustfile = "mix.py"\nendpoint = "json"\nuses = "db"\n', "[m] uses must be a list of contract endpoint"),
    ('[m]\nlocustfile = "mix.py"\nendpoint = "json"\nuses = ["dbb"]\n', "[m] uses 'dbb', which is not another"),
    ('[m]\nlocustfile = "mix.py"\nendpoint = "json"\nuses = ["json"]\n', "[m] uses 'json', which is not another"),
    ('[m]\nlocustfile = "closed.py"\nendpoint = "json"\nargs = ["--shape", 3]\n', "[m] args must be a list of strings"),
    ('[m]\nlocustfile = "closed.py"\nendpoint = "json"\ngroup = 7\n', "[m] group must be a name"),
    ('[m]\nlocustfile = "closed.py"\nendpoint = "json"\ngroup = "json"\n', "group 'json' is also a scenario's name"),
    ('[m]\nlocustfile = "nope.py"\nendpoint = "json"\n', "[m] locustfile must be the name of a .py file"),
    ('[m]\nlocustfile = "closed.py"\nendpoint = "json"\nagrs = []\n', "[m] has unknown key 'agrs'"),
    ('[m]\nlocustfile = "closed.py"\n', "[m] has no endpoint"),
])
def test_a_bad_catalog_entry_is_one_line_naming_the_file_the_scenario_and_the_fix(
        tmp_path: Path, entry: str, says: str) -> None:
    with pytest.raises(ValueError) as err:
        load_scenarios(_catalog(tmp_path, entry))
    text = str(err.value)
    assert text.startswith("catalog.toml: ") and says in text and "\n" not in text


def test_a_bad_catalog_reaches_the_user_as_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _catalog(tmp_path, '[m]\nlocustfile = "closed.py"\nendpoint = "json"\nuses = "db"\n')
    monkeypatch.setattr(select, "load_scenarios", lambda: load_scenarios(bad))
    with pytest.raises(UserError, match=r"^scenarios/catalog.toml: \[m\] uses must be"):
        select_scenarios(["json"], [])
