"""ASGI entry point of Django with async views: ``apps.django_app.asgi_async:application``.

The same project as asgi.py (models, database, templates, middleware) with
another URLconf (settings_async.py -> async_urls.py -> async_views.py): every
view is a coroutine, so Django runs it on the server's event loop, and the
ORM is reached through its async API.  /ws and lifespan are answered before
Django (raw_asgi.py), as in asgi.py.
"""

import os

from django.core.asgi import get_asgi_application

from .raw_asgi import with_websocket_and_lifespan

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apps.django_app.settings_async")
# The async ORM runs each query in Django's per-request thread (sync_to_async,
# thread-sensitive), so a kept connection would outlive it: close it per request.
os.environ.setdefault("DJANGO_CONN_MAX_AGE", "0")

django_application = get_asgi_application()
application = with_websocket_and_lifespan(django_application)
