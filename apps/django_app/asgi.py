"""ASGI entry point: ``apps.django_app.asgi:application``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apps.django_app.settings")

application = get_asgi_application()
