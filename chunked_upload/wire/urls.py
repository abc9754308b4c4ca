"""URLs of the web service, to include wherever the site mounts it."""

from django.urls import path

from .soap import SoapView
from .views import ServiceMethodView

urlpatterns = [
    path("srv.asmx/<str:method_name>", ServiceMethodView.as_view(), name="method"),
    # SOAP 1.1 and 1.2 by POST, the WSDL by GET ?WSDL.
    path("srv.asmx", SoapView.as_view(), name="soap"),
]
