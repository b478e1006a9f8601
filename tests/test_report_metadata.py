"""Every package that ran is recorded in run.json: each server the matrix can launch, each framework it
serves, and what they run on (a report that leaves out Granian's version cannot say what was measured)."""
from __future__ import annotations

from servers.matrix import load_matrix
from servers.registry import SERVERS
from stackmark import metadata

# what a server or framework of the matrix is installed as, where the names differ
DISTRIBUTIONS = {"none": None}  # the bare apps: no framework


def test_every_server_and_framework_of_the_matrix_is_recorded():
    matrix = load_matrix()
    servers = {s.server for s in matrix.stacks.values()} | set(SERVERS)
    frameworks = {s.framework for s in matrix.stacks.values()}
    names = {d for n in servers | frameworks if (d := DISTRIBUTIONS.get(n, n)) is not None}
    assert {"granian", "daphne", "uvicorn", "gunicorn", "flask", "django", "fastapi"} <= names
    assert names <= set(metadata.PACKAGES), sorted(names - set(metadata.PACKAGES))


def test_recorded_versions_include_granian_and_the_drivers():
    versions = metadata.package_versions()
    for name in ("granian", "daphne", "twisted", "uvicorn-worker", "aiosqlite", "psycopg", "jinja2"):
        assert versions[name], name  # installed with stackmark, so a version, never None

