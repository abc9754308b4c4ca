"""Include with ``path("", include("chunked_upload.urls"))`` to serve ``/srv.asmx/…``."""

from .wire.urls import urlpatterns

app_name = "chunked_upload"

__all__ = ["app_name", "urlpatterns"]
