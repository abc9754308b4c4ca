"""The SOAP bindings: ``POST <mount>/srv.asmx`` (SOAP 1.1 and 1.2) and ``GET ?WSDL``.

Document/literal wrapped, namespace ``http://tempuri.org/``, as the legacy
ASMX service: the envelope's namespace decides the version, the Body's
element decides the method (a SOAPAction naming another one is a fault).
The view is a thin adapter over :class:`.views.ServiceView`: the envelope
reader names the method and hands over its parameter elements as fields, and
the call runs exactly as over HTTP (limits, throttling, the streamed chunk,
the checks); its answer node is sent back, in no namespace, as
``<MethodResponse><MethodResult><root …/></MethodResult></MethodResponse>``.

Faults (HTTP 500, as ASMX) are for requests that are not a usable SOAP call:
malformed XML, an unknown operation, a contradicting SOAPAction. What the
method refuses is its usual ``success="false"`` answer inside the result;
what is refused before any call is read (size, rate) is the HTTP bindings'
plain ``<root …/>`` answer with its status.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from xml.etree import ElementTree as ET

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import parse_header_parameters
from rest_framework.request import Request
from rest_framework.response import Response

from ..exceptions import UnknownMethod
from .answers import Answer, Base64Text, RequestRefused
from .renderers import XML_DECLARATION, AnswerXMLRenderer, iter_answer
from .soap_envelope import SOAP11, SOAP12, TNS, EnvelopeReader, SoapFault, SoapVersion
from .views import ServiceView
from .wsdl import render_schema, render_wsdl


@dataclass(frozen=True)
class SoapResult:
    """A method's answer, to be sent inside its SOAP envelope."""

    version: SoapVersion
    method_name: str
    answer: Answer

    def __iter__(self) -> Iterator[bytes]:
        # The HTTP bindings' node, declared in no namespace inside the result.
        node = replace(self.answer, attributes={"xmlns": "", **self.answer.attributes})
        pieces = iter_answer(node)
        opening = _RESULT_OPEN.format(namespace=self.version.namespace,
                                      name=self.method_name).encode()
        yield XML_DECLARATION + opening + next(pieces).removeprefix(XML_DECLARATION)
        yield from pieces
        yield _RESULT_CLOSE.format(name=self.method_name).encode()


@dataclass(frozen=True)
class SoapFaultMessage:
    """A SOAP Fault in the request's envelope version."""

    version: SoapVersion
    fault: SoapFault

    def __iter__(self) -> Iterator[bytes]:
        version, fault = self.version, self.fault
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
        yield _envelope(version, element)


# The shell around a result holds no value, only our constants and a name from
# the method table; the answer node inside is written by the renderer's serializer.
_RESULT_OPEN = ('<soap:Envelope xmlns:soap="{namespace}" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
                '<{name}Response xmlns="' + TNS + '"><{name}Result>')
_RESULT_CLOSE = "</{name}Result></{name}Response></soap:Body></soap:Envelope>"


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


class SoapRenderer(AnswerXMLRenderer):
    """DRF renderer for SOAP results and faults (and the plain answers of refusals)."""

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: dict[str, Any] | None = None) -> bytes:
        if isinstance(data, SoapResult | SoapFaultMessage):
            return b"".join(data)
        return super().render(data, accepted_media_type, renderer_context)


class SoapView(ServiceView):
    """``<mount>/srv.asmx``: SOAP calls by POST, the WSDL by ``GET ?WSDL``."""

    renderer_classes = (SoapRenderer,)
    reader: EnvelopeReader | None = None
    #: Until the envelope is read, the media type's guess.
    version: SoapVersion = SOAP11

    def get(self, request: Request) -> HttpResponseBase:
        if any(part.name.lower() == "wsdl" for part in self.query(request)):
            # The address clients will call is this one, as the client reached it
            # (forwarded host and scheme are honoured as the site's settings say).
            location = request.build_absolute_uri(request.path)
            return HttpResponse(render_wsdl(location), content_type="text/xml; charset=utf-8")
        if (schema := render_schema(request.GET.get("xsd", ""))) is not None:
            return HttpResponse(schema, content_type="text/xml; charset=utf-8")
        raise RequestRefused(UnknownMethod(), 404)

    def post(self, request: Request) -> HttpResponseBase:
        media_type, options = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
        # The envelope decides the version; until it is read, the media type guesses.
        self.version = SOAP12 if media_type.lower() == SOAP12.content_type else SOAP11
        action = options.get("action") or request.META.get("HTTP_SOAPACTION", "")
        self.reader = EnvelopeReader(self.body(request))
        self.method = self.reader.open(action.strip().strip('"') or None)
        response = self.call(self.method, self.reader.parts(self.method, self.limits.max_fields))
        if self.reader.fault is not None:  # malformed after the parameters were read
            raise self.reader.fault
        return response

    def respond(self, answer: Answer) -> HttpResponseBase:
        result = SoapResult(self.reader.version, self.method.name, answer)
        content_type = f"{result.version.content_type}; charset=utf-8"
        if isinstance(answer.text, Base64Text):  # a download chunk: streamed out, as over HTTP
            return StreamingHttpResponse(iter(result), content_type=content_type)
        return Response(result, content_type=content_type)

    def failure_response(self, exc: Exception) -> HttpResponseBase:
        reader = self.reader
        fault = reader.fault if reader is not None else None
        if fault is None and isinstance(exc, SoapFault):
            fault = exc
        if fault is not None:
            version = reader.version if reader is not None and reader.version else self.version
            return Response(SoapFaultMessage(version, fault), status=500,
                            content_type=f"{version.content_type}; charset=utf-8")
        return super().failure_response(exc)
