"""Django settings for the app under test: the smallest project that serves
the contract, usable under both WSGI and ASGI.

Only CommonMiddleware is enabled: it is what adds Content-Length (Django
sends none without it).  No sessions, auth, CSRF, messages or database, so
the benchmark measures request handling, not unused middleware.
"""

import os

SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "stackmark-benchmark-not-secret-do-not-deploy"
)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]

ROOT_URLCONF = "apps.django_app.urls"
WSGI_APPLICATION = "apps.django_app.wsgi.application"

DATABASES: dict[str, dict] = {}

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

# Quiet under load: no per-request 404 warnings, but server errors still show.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
