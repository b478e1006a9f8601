"""Django settings for the app under test: the smallest project that serves
the contract, usable under both WSGI and ASGI.

Only CommonMiddleware is enabled: it is what adds Content-Length (Django
sends none without it).  No sessions, auth, CSRF or messages, so the
benchmark measures request handling, not unused middleware.

The database comes from ``DATABASE_URL`` (set by the harness in the server's
environment), parsed here without extra packages:

- ``sqlite:////abs/path.sqlite3``: the sqlite3 backend, waiting up to 15 s
  for a lock, and ``BEGIN IMMEDIATE`` for ``transaction.atomic()`` so
  concurrent ``/updates`` queue for the write lock instead of failing.
  Connections are kept per thread under WSGI (``CONN_MAX_AGE=None``).
  Under ASGI Django runs each sync view in a thread of its own request
  context, so a kept connection would be orphaned with that thread: asgi.py
  sets ``DJANGO_CONN_MAX_AGE=0`` (close at the end of each request), as
  Django's docs advise for async mode.
- ``postgresql://user:pass@host:port/db``: the postgresql backend on psycopg 3
  with Django's own connection pool (``OPTIONS["pool"]``, psycopg_pool; one
  pool per worker process, opened on first use, so after fork), which is
  also how Django's docs say to avoid a new connection per request under ASGI.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "stackmark-benchmark-not-secret-do-not-deploy"
)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

# The app itself is installed only so its unmanaged models have a home.
INSTALLED_APPS: list[str] = ["apps.django_app"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]

ROOT_URLCONF = "apps.django_app.urls"
WSGI_APPLICATION = "apps.django_app.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"context_processors": []},
    }
]


def database_from_url(url: str) -> dict:
    """DATABASES["default"] for a sqlite:// or postgresql:// URL ({} if unset)."""
    if not url:
        return {}
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        max_age = os.environ.get("DJANGO_CONN_MAX_AGE")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": url.split("://", 1)[1][1:],  # sqlite:////abs/path -> /abs/path
            "CONN_MAX_AGE": int(max_age) if max_age else None,
            "OPTIONS": {"timeout": 15, "transaction_mode": "IMMEDIATE"},
        }
    if parts.scheme in ("postgresql", "postgres"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 0,  # the pool keeps the connections
            "OPTIONS": {"pool": {"min_size": 1, "max_size": 4}},
        }
    raise ValueError("DATABASE_URL must be sqlite:////path or postgresql://...")


_default = database_from_url(os.environ.get("DATABASE_URL", ""))
DATABASES: dict[str, dict] = {"default": _default} if _default else {}

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# Quiet under load: no per-request 404 warnings, but server errors still show.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
