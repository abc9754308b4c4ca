"""URLs of the web service, to include wherever the site mounts it."""

from django.urls import path

from .views import ServiceMethodView

urlpatterns = [
    path("srv.asmx/<str:method_name>", ServiceMethodView.as_view(), name="method"),
]
