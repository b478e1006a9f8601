from django.urls import path

from . import views

urlpatterns = [
    path("plaintext", views.plaintext, name="plaintext"),
    path("json", views.json_view, name="json"),
]
