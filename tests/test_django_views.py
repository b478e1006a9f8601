"""Django's two ASGI apps: async_views.py is really async, and serves every path the sync views serve.

Each entry point is imported in a fresh interpreter (Django's settings are
process-wide, and the two entry points pick different settings modules), as
a server would import it, and reports what Django itself resolves: each URL
pattern's view and whether Django's handler takes it for a coroutine function
(``asgiref.sync.iscoroutinefunction``, the check Django uses to call a view
on the event loop instead of in a thread). That the async views use only the
async ORM is shown by the contract tests: the sync ORM in an async view raises
SynchronousOnlyOperation, a 500 the verifier fails.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from servers.matrix import load_matrix

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import importlib, json, sys
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.urls import get_resolver

entry = importlib.import_module(sys.argv[1])
views = {str(p.pattern): {"async": iscoroutinefunction(p.callback), "module": p.callback.__module__}
         for p in get_resolver().url_patterns}
print(json.dumps({"urlconf": settings.ROOT_URLCONF, "views": views,
                  "application_async": iscoroutinefunction(entry.application)}))
"""


def _resolve(entry_module: str) -> dict[str, Any]:
    """What Django resolves once `entry_module` (a server's import target) is imported, with no database."""
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", PROBE, entry_module], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def async_app() -> dict[str, Any]:
    return _resolve("apps.django_app.asgi_async")


@pytest.fixture(scope="module")
def sync_app() -> dict[str, Any]:
    return _resolve("apps.django_app.asgi")


def test_every_async_view_is_a_coroutine_function_from_async_views(async_app: dict[str, Any]) -> None:
    assert async_app["urlconf"] == "apps.django_app.async_urls"
    assert async_app["views"], "no URL patterns resolved"
    not_async = [route for route, view in async_app["views"].items() if not view["async"]]
    assert not_async == [], f"sync views in the async app: {not_async}"
    assert {view["module"] for view in async_app["views"].values()} == {"apps.django_app.async_views"}
    assert async_app["application_async"]


def test_the_async_app_serves_every_path_of_the_sync_app(async_app: dict[str, Any],
                                                         sync_app: dict[str, Any]) -> None:
    assert set(async_app["views"]) == set(sync_app["views"])


def test_the_sync_app_keeps_its_sync_views(sync_app: dict[str, Any]) -> None:
    """Today's django-asgi stacks stay as they were measured: sync views, /io the one async view
    (the probe tells the two kinds apart, so the async test above can fail)."""
    assert sync_app["urlconf"] == "apps.django_app.urls"
    assert {route for route, view in sync_app["views"].items() if view["async"]} == {"io"}
    assert {view["module"] for view in sync_app["views"].values()} == {"apps.django_app.views"}


def test_the_matrix_runs_async_views_wherever_it_runs_sync_views_under_asgi() -> None:
    stacks = load_matrix().stacks.values()
    sync_variants = {s.variant for s in stacks if s.app == "django-asgi"}
    async_variants = {s.variant for s in stacks if s.app == "django-asgi-async"}
    assert sync_variants == async_variants and "uvicorn" in async_variants
    assert {s.target for s in stacks if s.app == "django-asgi-async"} == {"apps.django_app.asgi_async:application"}
    assert {s.target for s in stacks if s.app == "django-asgi"} == {"apps.django_app.asgi:application"}
