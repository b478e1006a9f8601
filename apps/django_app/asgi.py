"""ASGI entry point of Django with sync views: ``apps.django_app.asgi:application``.

The views are views.py's (ROOT_URLCONF in settings.py); Django runs each
sync view in a thread under ASGI.  asgi_async.py is the same project with
async views.  /ws and lifespan are answered before Django (raw_asgi.py).
"""

import os

from django.core.asgi import get_asgi_application

from .raw_asgi import with_websocket_and_lifespan

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apps.django_app.settings")
# Under ASGI each sync view runs in a thread of its own request, so a kept
# database connection would outlive its thread: close it per request.
os.environ.setdefault("DJANGO_CONN_MAX_AGE", "0")

django_application = get_asgi_application()
application = with_websocket_and_lifespan(django_application)
