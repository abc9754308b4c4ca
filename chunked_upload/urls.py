"""Include with ``path("", include("chunked_upload.urls"))`` to serve ``/srv.asmx/…``.

Also serves the browser side's session-ticket endpoint (:mod:`.web`).
"""

from .web.urls import urlpatterns as web_urlpatterns
from .wire.urls import urlpatterns as wire_urlpatterns

app_name = "chunked_upload"

urlpatterns = [*wire_urlpatterns, *web_urlpatterns]

__all__ = ["app_name", "urlpatterns"]
