"""URLs of the browser side; part of ``chunked_upload.urls``."""

from django.urls import path

from .views import SessionTicketView

urlpatterns = [
    path("chunked-upload/session-ticket", SessionTicketView.as_view(), name="session-ticket"),
]
