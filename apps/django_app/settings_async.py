"""Settings of Django with async views: the same project (settings.py: models, database, templates,
middleware), with the URLconf of async views (async_urls.py).  asgi_async.py selects it."""

from .settings import *  # noqa: F403 (the whole project's settings, unchanged)

ROOT_URLCONF = "apps.django_app.async_urls"
