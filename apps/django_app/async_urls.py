"""The URLconf of Django with async views (settings_async.py): the same paths as urls.py."""

from django.urls import path

from . import async_views as views

urlpatterns = [
    path("plaintext", views.plaintext, name="plaintext"),
    path("json", views.json_view, name="json"),
    path("db", views.db, name="db"),
    path("queries", views.queries, name="queries"),
    path("fortunes", views.fortunes, name="fortunes"),
    path("updates", views.updates, name="updates"),
    path("io", views.io, name="io"),
    path("cpu", views.cpu, name="cpu"),
    path("echo", views.echo, name="echo"),
    path("stream", views.stream, name="stream"),
]
