"""The stack matrix: expansion by rule, stable ids, clear errors, safe command lines."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from servers.base import LaunchSpec
from servers.matrix import MatrixError, load_matrix
from servers.registry import SERVERS
from stackmark.plan import BenchPlan, Overrides
from stackmark.select import named


def test_default_matrix_covers_all_frameworks_and_servers() -> None:
    m = load_matrix()
    assert len(m.stacks) >= 12
    assert {s.framework for s in m.stacks.values()} == {"flask", "django", "fastapi", "none"}
    assert {s.server for s in m.stacks.values()} == {"gunicorn", "uwsgi", "uvicorn", "hypercorn", "granian", "daphne"}
    # the bare apps give every server column its floor
    for server in ("gunicorn", "uwsgi", "uvicorn", "hypercorn", "granian", "daphne"):
        assert any(s.framework == "none" and s.server == server for s in m.stacks.values()), server
    for sid, s in m.stacks.items():
        assert sid == s.id and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", sid)


def test_wsgi_apps_never_land_on_pure_asgi_servers_and_vice_versa() -> None:
    m = load_matrix()
    for s in m.stacks.values():
        assert s.interface in SERVERS[s.server].interfaces
    assert "flask-uvicorn" not in m.stacks
    assert "fastapi-uwsgi" not in m.stacks
    assert "fastapi-gunicorn-sync" not in m.stacks
    assert {"fastapi-uvicorn", "flask-gunicorn-gthread", "django-wsgi-uwsgi", "django-asgi-hypercorn"} <= set(m.stacks)


def test_bare_apps_serve_only_what_they_declare() -> None:
    m = load_matrix()
    bare = m.stacks["bare-asgi-uvicorn"]
    assert bare.serves("json") and not bare.serves("db")
    assert m.stacks["fastapi-uvicorn"].serves("db")


def test_fair_defaults_one_worker_everywhere() -> None:
    assert {s.workers for s in load_matrix().stacks.values()} == {1}


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "matrix.toml"
    p.write_text(text)
    return p


BASE = """
[apps.flask]
framework = "flask"
interface = "wsgi"
target = "apps.flask_app.app:app"
[variants.gunicorn-sync]
server = "gunicorn"
interfaces = ["wsgi"]
[variants.uvicorn]
server = "uvicorn"
interfaces = ["asgi"]
[variants.uwsgi]
server = "uwsgi"
"""


def test_exclude_rule_removes_a_combination_with_its_reason(tmp_path: Path) -> None:
    m = load_matrix(_write(tmp_path, BASE + '[[exclude]]\napp = "flask"\nvariant = "uwsgi"\nreason = "testing"\n'))
    assert set(m.stacks) == {"flask-gunicorn-sync"}
    assert m.excluded == {"flask-uwsgi": "testing"}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (BASE.replace('server = "uvicorn"', 'server = "uvicron"'), "unknown server 'uvicron'"),
        (BASE.replace('interface = "wsgi"', 'interface = "cgi"'), "interface must be"),
        (BASE + "[apps.broken\n", "invalid TOML"),
        (BASE.replace('target = "apps.flask_app.app:app"', ""), "missing 'target'"),
    ],
)
def test_invalid_matrix_names_file_and_problem(tmp_path: Path, text: str, needle: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(MatrixError) as info:
        load_matrix(path)
    assert str(path) in str(info.value) and needle in str(info.value)
    assert "\n" not in str(info.value)


def test_every_command_is_an_argument_list_bound_to_loopback() -> None:
    for s in load_matrix().stacks.values():
        spec = LaunchSpec(s.target, s.interface, "127.0.0.1", 45678, s.workers, s.backlog, s.options)
        cmd = SERVERS[s.server].command(spec)
        assert all(isinstance(a, str) for a in cmd)
        joined = " ".join(cmd)
        assert "127.0.0.1" in joined and "0.0.0.0" not in joined
        assert "45678" in joined


# ---- the fair-comparison stacks: Django's async views, Gunicorn's own ASGI worker, Daphne --------------------

ASGI_APPS = ("django-asgi", "django-asgi-async", "fastapi", "bare-asgi")


def test_gunicorns_native_asgi_worker_runs_every_asgi_app() -> None:
    m = load_matrix()
    asgi_apps = {s.app for s in m.stacks.values() if s.interface == "asgi"}
    assert asgi_apps == set(ASGI_APPS)
    for app in asgi_apps:
        native, uvicorn_worker = m.stacks[f"{app}-gunicorn-asgi"], m.stacks[f"{app}-gunicorn-uvicorn"]
        assert (native.server, native.worker, uvicorn_worker.worker) == ("gunicorn", "asgi", "uvicorn")
    spec = LaunchSpec("apps.fastapi_app.app:app", "asgi", "127.0.0.1", 45678, 1, 2048,
                      m.stacks["fastapi-gunicorn-asgi"].options)
    cmd = SERVERS["gunicorn"].command(spec)
    assert cmd[cmd.index("--worker-class") + 1] == "asgi" and cmd[cmd.index("--asgi-loop") + 1] == "uvloop"
    assert "--asgi-loop" not in SERVERS["gunicorn"].command(
        LaunchSpec("apps.flask_app.app:app", "wsgi", "127.0.0.1", 45678, 1, 2048, {"worker_class": "sync"}))


def test_daphne_runs_every_asgi_app_on_loopback_with_the_shared_backlog() -> None:
    m = load_matrix()
    assert {s.app for s in m.stacks.values() if s.server == "daphne"} == set(ASGI_APPS)
    stack = m.stacks["django-asgi-async-daphne"]
    spec = LaunchSpec(stack.target, stack.interface, "127.0.0.1", 45678, stack.workers, stack.backlog, stack.options)
    cmd = SERVERS["daphne"].command(spec)
    assert cmd[1:3] == ["-m", "servers.daphne_main"] and cmd[-1] == "apps.django_app.asgi_async:application"
    assert cmd[cmd.index("--endpoint") + 1] == "tcp:port=45678:interface=127.0.0.1:backlog=2048"
    ipv6 = SERVERS["daphne"].command(LaunchSpec(stack.target, "asgi", "::1", 45678, 1, 2048))
    assert ipv6[ipv6.index("--endpoint") + 1] == "tcp:port=45678:interface=\\:\\:1:backlog=2048"


def test_a_one_process_server_given_more_workers_is_a_matrix_error(tmp_path: Path) -> None:
    text = BASE.replace('interface = "wsgi"', 'interface = "asgi"') + (
        '[variants.daphne]\nserver = "daphne"\nworkers = 2\n')
    with pytest.raises(MatrixError, match=r"\[variants.daphne\] daphne runs at most 1 worker\(s\), not 2"):
        load_matrix(_write(tmp_path, text))
    assert "flask-daphne" in load_matrix(_write(tmp_path, text.replace("workers = 2", "workers = 1"))).stacks


NEW_APPS_AND_VARIANTS = ("django-asgi-async", "gunicorn-asgi", "daphne")  # what quick skips


def test_quick_skips_the_fair_comparison_stacks_and_full_runs_them_all() -> None:
    m = load_matrix()
    new = {s.id for s in m.stacks.values() if any(named(s, n) for n in NEW_APPS_AND_VARIANTS)}
    assert {"django-asgi-async-uvicorn", "fastapi-gunicorn-asgi", "django-asgi-async-gunicorn-asgi",
            "django-asgi-daphne", "bare-asgi-daphne"} <= new
    assert len(new) == 12
    assert set(m.profiles["quick"]["skip"]) == set(NEW_APPS_AND_VARIANTS)
    quick = {s.id for s in BenchPlan.from_profile(m, Overrides(profile="quick")).stacks}
    assert quick == set(m.stacks) - new and "django-asgi-uvicorn" in quick
    assert {s.id for s in BenchPlan.from_profile(m, Overrides(profile="full")).stacks} == set(m.stacks)
    # --stacks is the user's choice: a skipped stack runs when named
    picked = BenchPlan.from_profile(m, Overrides(profile="quick", stacks=["django-asgi-async-uvicorn"])).stacks
    assert [s.id for s in picked] == ["django-asgi-async-uvicorn"]


def test_every_name_a_profile_skips_names_a_stack() -> None:
    """A typo in `skip` would silently skip nothing (unknown names are allowed for a team's matrix file)."""
    m = load_matrix()
    for name, profile in m.profiles.items():
        for skipped in profile.get("skip", []):
            assert any(named(s, skipped) for s in m.stacks.values()), f"[profiles.{name}] skip {skipped!r}"
