"""The HTTP bindings: ``<mount>/srv.asmx/<Method>`` by GET, POST form or multipart.

Views only turn requests into parameters and answers into XML; the work is
in :mod:`.dispatch` and the engine. Tickets authenticate these endpoints, so
there is no session authentication and therefore no CSRF check here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction
from django.http import HttpResponseBase, StreamingHttpResponse
from django.utils.decorators import method_decorator
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..conf import get_config
from ..exceptions import HttpMethodNotAllowed, LimitExceeded, UnknownMethod
from .answers import Answer, Base64Text
from .bodies import iter_parts, iter_query
from .chunks import TEXT_LIMIT, PartLike, upload_file_chunk
from .dispatch import failure, invoke
from .methods import METHODS
from .params import Raw
from .renderers import AnswerXMLRenderer, iter_answer

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class AlwaysXML(BaseContentNegotiation):
    """Legacy clients send any Accept header; the answer is XML regardless."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class ServiceMethodView(APIView):
    """One endpoint per method name; the method table says what it does."""

    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()  # bodies are streamed by .bodies, never buffered by DRF
    renderer_classes = (AnswerXMLRenderer,)
    content_negotiation_class = AlwaysXML
    http_method_names = ["get", "post"]

    def get(self, request: Request, method_name: str) -> HttpResponseBase:
        # Read as an urlencoded body is (%uXXXX included), not by QueryDict, so
        # that the same bytes mean the same thing in both HTTP bindings.
        query = request.META.get("QUERY_STRING", "")
        try:
            raw = query.encode("iso-8859-1")  # WSGI gives the bytes as latin-1 (PEP 3333)
        except UnicodeEncodeError:  # an ASGI server decoded them as UTF-8
            raw = query.encode("utf-8")
        return self._call(request, method_name, lambda: iter_query(raw))

    def post(self, request: Request, method_name: str) -> HttpResponseBase:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > get_config()["MAX_REQUEST_SIZE"]:
            # Refused from the headers alone: the body is never read. (No
            # "Connection: close" here: WSGI forbids hop-by-hop headers; the
            # server closes or drains the connection itself.)
            return self._respond(Answer.failure("root", LimitExceeded("request size"), 413))
        content_type = request.META.get("CONTENT_TYPE", "")
        is_form = content_type.split(";")[0].strip().lower() in FORM_TYPES
        return self._call(
            request, method_name,
            lambda: iter_parts(request._request, content_type) if is_form else (),
        )

    def _call(self, request: Request, method_name: str,
              read_parts: Callable[[], Iterable[PartLike]]) -> HttpResponseBase:
        method = METHODS.get(method_name)
        if method is None:
            return self._respond(Answer.failure("root", UnknownMethod(), 404))
        django_request = request._request
        try:
            parts = read_parts()
            if method.operation is None:
                answer = upload_file_chunk(parts, django_request)
            else:
                answer = invoke(method, _read_all(parts), django_request)
        except Exception as exc:  # a body that cannot be read still gets an answer
            answer = failure(method.root, exc)
        return self._respond(answer)

    def http_method_not_allowed(self, request: Request, *args, **kwargs) -> HttpResponseBase:
        return self._respond(
            Answer.failure("root", HttpMethodNotAllowed(), status=405)
        )

    def _respond(self, answer: Answer) -> HttpResponseBase:
        if isinstance(answer.text, Base64Text):  # a download chunk: streamed out
            return StreamingHttpResponse(iter_answer(answer), status=answer.status,
                                         content_type="text/xml; charset=utf-8")
        return Response(answer, status=answer.status, headers=answer.headers)


def _read_all(parts: Iterable[PartLike]) -> Raw:
    return Raw((part.name, part.read_text(TEXT_LIMIT)) for part in parts)
