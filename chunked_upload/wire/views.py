"""The endpoint: one DRF view class for every binding, and the HTTP bindings.

:class:`ServiceView` is what every binding shares, DRF doing its part:
renderers write the XML answers, DRF's throttling runs before anything is
read (``THROTTLE_CLASSES``), and DRF's exception handling turns every
failure into a protocol answer (:func:`exception_handler`). The call itself
is :func:`.dispatch.invoke`, the same for all bindings; a binding is a thin
adapter that names the method and hands over its fields.

``<mount>/srv.asmx/<Method>`` by GET, POST form or multipart is
:class:`ServiceMethodView`; SOAP is :class:`.soap.SoapView`. Tickets
authenticate these endpoints, so there is no session authentication and
therefore no CSRF check here.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.utils.module_loading import import_string
from rest_framework.exceptions import MethodNotAllowed, Throttled
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from ..conf import get_config
from ..exceptions import HttpMethodNotAllowed, LimitExceeded, UnknownMethod
from .answers import Answer, Base64Text, RequestRefused
from .bodies import Part, Readable, iter_parts, iter_query
from .dispatch import PartLike, invoke, protocol_error
from .limits import Limits
from .methods import METHODS, Method
from .renderers import AnswerXMLRenderer, iter_answer

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class AlwaysXML(BaseContentNegotiation):
    """Legacy clients send any Accept header; the answer is XML regardless."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponseBase:
    """DRF's exception handler for the service: every failure is a protocol answer."""
    if isinstance(exc, Throttled):
        wait = str(exc.wait or 1)  # whole seconds, rounded up by DRF
        error = LimitExceeded("request rate")
        error.attributes["retryAfter"] = wait
        exc = RequestRefused(error, 429, {"Retry-After": wait})
    elif isinstance(exc, MethodNotAllowed):  # DRF's, for PUT, DELETE…
        exc = RequestRefused(HttpMethodNotAllowed(), 405)
    return context["view"].failure_response(exc)


class ServiceView(APIView):
    """What every binding shares: limits, throttling, the call and its answers."""

    authentication_classes = ()  # tickets authenticate, inside the call
    permission_classes = ()
    parser_classes = ()  # bodies are streamed by .bodies and .soap_envelope, never buffered
    renderer_classes = (AnswerXMLRenderer,)
    content_negotiation_class = AlwaysXML
    http_method_names = ["get", "post"]
    #: For DRF's ScopedRateThrottle: ``DEFAULT_THROTTLE_RATES["chunked_upload"]``.
    throttle_scope = "chunked_upload"
    #: The method being called, once known: failures answer with its root element.
    method: Method | None = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        # Never inside ATOMIC_REQUESTS' transaction: a chunk's body may take any
        # time to arrive. Marked on the view function itself, because
        # method_decorator on dispatch would build a wrapper on every call.
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # The engine takes Django's own HttpRequest (authenticate() and its backends
        # want one). DRF hands it to this documented dispatch hook before wrapping
        # it: keeping it here avoids reaching into Request._request.
        self.http_request = request
        return super().initialize_request(request, *args, **kwargs)

    def get_throttles(self) -> list[Any]:
        classes = get_config()["THROTTLE_CLASSES"]
        if classes is None:
            classes = api_settings.DEFAULT_THROTTLE_CLASSES
        return [import_string(c)() if isinstance(c, str) else c() for c in classes]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # throttling among it
        self.limits = Limits.current()
        self.declared_length = self.limits.check_declared_size(request.META)

    def get_exception_handler(self):
        return exception_handler

    def call(self, method: Method, parts: Iterable[PartLike]) -> HttpResponseBase:
        """Run ``method`` on the fields ``parts`` and answer it."""
        return self.respond(invoke(method, parts, self.http_request, self.limits))

    def respond(self, answer: Answer) -> HttpResponseBase:
        """The answer as XML; a download chunk streams out, never held encoded whole."""
        if isinstance(answer.text, Base64Text):
            return StreamingHttpResponse(iter_answer(answer), status=answer.status,
                                         content_type="text/xml; charset=utf-8")
        return Response(answer, status=answer.status)

    def failure_response(self, exc: Exception) -> HttpResponseBase:
        """The answer to a failure: refused requests as ``root``, the rest as the method's."""
        if isinstance(exc, RequestRefused):
            answer = Answer.failure("root", exc.error, exc.status)
            return Response(answer, status=exc.status, headers=exc.headers)
        if self.method is None:  # nothing was called: no method's answer to give
            return Response(Answer.failure("root", protocol_error(exc)))
        return self.respond(Answer.failure(self.method.root, protocol_error(exc)))

    def query(self, request: Request) -> Iterator[Part]:
        """The query string's fields, read as a form body is.

        Not Django's QueryDict: it would enforce its own field limit with a 500
        (TooManyFieldsSent), and decode escapes otherwise than a form body.
        """
        query = request.META.get("QUERY_STRING", "")
        try:
            raw = query.encode("iso-8859-1")  # WSGI gives the bytes as latin-1 (PEP 3333)
        except UnicodeEncodeError:  # an ASGI server decoded them as UTF-8
            raw = query.encode("utf-8")
        return iter_query(raw, max_fields=self.limits.max_fields)

    def body(self, request: Request) -> Readable:
        """The body as a stream, through DRF's public ``Request.stream`` (never buffered)."""
        return request.stream or io.BytesIO()  # None: no Content-Length, no body


class ServiceMethodView(ServiceView):
    """``<mount>/srv.asmx/<Method>``: parameters in the query string or a form body."""

    def get(self, request: Request, method_name: str) -> HttpResponseBase:
        self.method = _lookup(method_name)
        return self.call(self.method, self.query(request))

    def post(self, request: Request, method_name: str) -> HttpResponseBase:
        self.method = _lookup(method_name)
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.split(";")[0].strip().lower() not in FORM_TYPES:
            return self.call(self.method, ())  # not a form: no parameters
        return self.call(self.method, iter_parts(self.body(request), content_type,
                                                 max_fields=self.limits.max_fields,
                                                 length=self.declared_length))


def _lookup(method_name: str) -> Method:
    method = METHODS.get(method_name)
    if method is None:
        raise RequestRefused(UnknownMethod(), 404)
    return method

