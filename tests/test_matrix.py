"""The stack matrix: expansion by rule, stable ids, clear errors, safe command lines."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from servers.base import LaunchSpec
from servers.matrix import MatrixError, load_matrix
from servers.registry import SERVERS


def test_default_matrix_covers_all_frameworks_and_servers() -> None:
    m = load_matrix()
    assert len(m.stacks) >= 12
    assert {s.framework for s in m.stacks.values()} == {"flask", "django", "fastapi", "none"}
    assert {s.server for s in m.stacks.values()} == {"gunicorn", "uwsgi", "uvicorn", "hypercorn", "granian"}
    # the bare apps give every server column its floor
    for server in ("gunicorn", "uwsgi", "uvicorn", "hypercorn", "granian"):
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
