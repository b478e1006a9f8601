"""The URLconf of Django with async views (settings_async.py): the same paths as urls.py."""

from . import async_views
from .urls import patterns

urlpatterns = patterns(async_views)
