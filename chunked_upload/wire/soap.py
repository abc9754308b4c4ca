"""The SOAP bindings: ``POST <mount>/srv.asmx`` (SOAP 1.1 and 1.2) and ``GET ?WSDL``.

Document/literal wrapped, namespace ``http://tempuri.org/``, as the legacy
ASMX service: the envelope's namespace decides the version, the Body's
element decides the method (a SOAPAction naming another one is a fault).
Each method runs exactly as over HTTP (:func:`.dispatch.invoke`, or
:func:`.chunks.upload_file_chunk` with the chunk streamed from the parser),
and its answer node is sent back, in no namespace, as
``<MethodResponse><MethodResult><root …/></MethodResult></MethodResponse>``.

Faults (HTTP 500, as ASMX) are for requests that are not a usable SOAP call:
malformed XML, an unknown operation, a contradicting SOAPAction. What the
method refuses is its usual ``success="false"`` answer inside the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from xml.etree import ElementTree as ET

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.decorators import method_decorator
from django.utils.http import parse_header_parameters
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from ..conf import get_config
from ..exceptions import HttpMethodNotAllowed, LimitExceeded, UnknownMethod
from .answers import Answer, Base64Text
from .chunks import TEXT_LIMIT, upload_file_chunk
from .dispatch import failure, invoke
from .params import Raw
from .renderers import XML_DECLARATION, iter_answer, render_answer
from .soap_envelope import SOAP11, SOAP12, TNS, EnvelopeReader, SoapFault, SoapVersion
from .wsdl import render_schema, render_wsdl


def call(request: HttpRequest) -> HttpResponseBase:
    """Answer one SOAP request: the method's result, or a fault."""
    media_type, options = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    # The envelope decides the version; until it is read, the media type guesses.
    guess = SOAP12 if media_type.lower() == SOAP12.content_type else SOAP11
    action = options.get("action") or request.META.get("HTTP_SOAPACTION", "")
    action = action.strip().strip('"') or None
    reader = EnvelopeReader(request)
    try:
        method = reader.open(action)
    except SoapFault as fault:
        return fault_response(reader.version or guess, fault)
    parts = reader.parts(method)
    if method.operation is None:  # UploadFileChunk: the chunk streams to staging
        answer = upload_file_chunk(parts, request)
    else:
        try:
            raw = Raw((part.name, part.read_text(TEXT_LIMIT)) for part in parts)
        except Exception as exc:  # every failure must become an answer or a fault
            answer = failure(method.root, exc)
        else:
            answer = invoke(method, raw, request)
    if reader.fault is not None:
        return fault_response(reader.version, reader.fault)
    return result_response(reader.version, method.name, answer)


# The shell around a result holds no value, only our constants and a name from
# the method table; the answer node inside is written by the renderer's serializer.
_RESULT_OPEN = ('<soap:Envelope xmlns:soap="{namespace}" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
                '<{name}Response xmlns="' + TNS + '"><{name}Result>')
_RESULT_CLOSE = "</{name}Result></{name}Response></soap:Body></soap:Envelope>"


def _iter_result(version: SoapVersion, method_name: str, answer: Answer) -> Iterator[bytes]:
    # The HTTP bindings' node, declared in no namespace inside the result.
    node = replace(answer, attributes={"xmlns": "", **answer.attributes})
    pieces = iter_answer(node)
    opening = _RESULT_OPEN.format(namespace=version.namespace, name=method_name).encode()
    yield XML_DECLARATION + opening + next(pieces).removeprefix(XML_DECLARATION)
    yield from pieces
    yield _RESULT_CLOSE.format(name=method_name).encode()


def result_response(version: SoapVersion, method_name: str, answer: Answer) -> HttpResponseBase:
    """``<MethodResponse xmlns="http://tempuri.org/"><MethodResult>`` around the answer node."""
    content_type = f"{version.content_type}; charset=utf-8"
    if isinstance(answer.text, Base64Text):  # a download chunk: streamed out, as over HTTP
        return StreamingHttpResponse(_iter_result(version, method_name, answer),
                                     content_type=content_type)
    return HttpResponse(b"".join(_iter_result(version, method_name, answer)),
                        content_type=content_type)


def _envelope(version: SoapVersion, content: ET.Element) -> bytes:
    # Prefixes are written out by hand (ElementTree would invent ns0, ns1…)
    # so that the envelope reads like the legacy server's.
    envelope = ET.Element("soap:Envelope", {
        "xmlns:soap": version.namespace,
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xmlns:xsd": "http://www.w3.org/2001/XMLSchema",
    })
    ET.SubElement(envelope, "soap:Body").append(content)
    return XML_DECLARATION + ET.tostring(envelope, encoding="utf-8", xml_declaration=False)


def fault_response(version: SoapVersion, fault: SoapFault) -> HttpResponse:
    """A SOAP Fault in the request's envelope version, HTTP 500 as ASMX answers it."""
    code = "soap:" + version.fault_codes.get(fault.fault_code, fault.fault_code)
    element = ET.Element("soap:Fault")
    if version is SOAP11:
        ET.SubElement(element, "faultcode").text = code
        ET.SubElement(element, "faultstring").text = fault.text
        ET.SubElement(element, "detail")
    else:
        ET.SubElement(ET.SubElement(element, "soap:Code"), "soap:Value").text = code
        reason = ET.SubElement(ET.SubElement(element, "soap:Reason"), "soap:Text")
        reason.set("xml:lang", "en")
        reason.text = fault.text
        ET.SubElement(element, "soap:Detail")
    return HttpResponse(_envelope(version, element), status=500,
                        content_type=f"{version.content_type}; charset=utf-8")


def _xml_response(answer: Answer) -> HttpResponse:
    response = HttpResponse(render_answer(answer), status=answer.status,
                            content_type="text/xml; charset=utf-8")
    for name, value in answer.headers.items():
        response[name] = value
    return response


@method_decorator(csrf_exempt, name="dispatch")  # tickets authenticate, not sessions
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class SoapView(View):
    """``<mount>/srv.asmx``: SOAP calls by POST, the WSDL by ``GET ?WSDL``."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if any(key.lower() == "wsdl" for key in request.GET):
            # The address clients will call is this one, as the client reached it
            # (forwarded host and scheme are honoured as the site's settings say).
            location = request.build_absolute_uri(request.path)
            return HttpResponse(render_wsdl(location), content_type="text/xml; charset=utf-8")
        if (schema := render_schema(request.GET.get("xsd", ""))) is not None:
            return HttpResponse(schema, content_type="text/xml; charset=utf-8")
        return _xml_response(Answer.failure("root", UnknownMethod(), 404))

    def post(self, request: HttpRequest) -> HttpResponseBase:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > get_config()["MAX_REQUEST_SIZE"]:
            # Refused from the headers alone: the body is never read.
            answer = Answer.failure("root", LimitExceeded("request size"), status=413)
            answer.headers["Connection"] = "close"
            return _xml_response(answer)
        return call(request)

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return _xml_response(Answer.failure("root", HttpMethodNotAllowed(), status=405))

