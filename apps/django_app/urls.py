from types import ModuleType

from django.urls import URLPattern, path

from . import views

# path -> view function name; the same in views.py and async_views.py
ROUTES = {"plaintext": "plaintext", "json": "json_view", "db": "db", "queries": "queries", "fortunes": "fortunes",
          "updates": "updates", "io": "io", "cpu": "cpu", "echo": "echo", "stream": "stream"}


def patterns(module: ModuleType) -> list[URLPattern]:
    """Every route of the contract to `module`'s view of that name (sync views here, async in async_urls.py)."""
    return [path(route, getattr(module, view), name=route) for route, view in ROUTES.items()]


urlpatterns = patterns(views)
