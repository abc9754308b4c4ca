"""Fuzzing the readers of every binding at and past every limit (issue 14, "Tests").

Query strings, forms, multipart bodies and SOAP envelopes with field counts,
value sizes and encodings drawn around the limits: every request gets a
well-formed XML answer (never a SystemError, never a 500 other than a SOAP
Fault), and the memory one request costs stays bounded.
"""

import io
import tracemalloc
from urllib.parse import quote_from_bytes
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chunked_upload.wire.soap import SoapView
from chunked_upload.wire.views import ServiceMethodView

pytestmark = pytest.mark.django_db(transaction=True)

LIMITS = {"MAX_FIELDS": 12, "MAX_PARAMETER_SIZE": 3000, "MAX_TEXT_SIZE": 5000,
          "MAX_REQUEST_SIZE": 120_000}
# One request may hold a read buffer, a value and its decoded copies: far less than this.
MEMORY_BOUND = 3 << 20
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://tempuri.org/"

METHOD_NAMES = ["AuthenticateUser", "isValidTicket", "UploadFileChunk", "RenewTicket"]
PARAM_NAMES = ["UID", "PWD", "authenticationTicket", "uploadHandler", "fileChunk",
               "FILECHUNK", "chunkHEXCRC", "lastChunk", "chunkOffset", "OldTicket"]

# Around each limit: counts of fields and sizes of values just under, at and past it.
counts = st.sampled_from([0, 1, 11, 12, 13, 40]) | st.integers(0, 20)
sizes = st.sampled_from([0, 1, 2600, 2999, 3000, 3001, 5001, 30_000]) | st.integers(0, 100)
# AuthenticateUser's own parameters come up most, so that their values add up.
names = st.sampled_from(PARAM_NAMES[:2]) | st.sampled_from(PARAM_NAMES) | st.text(max_size=8)
paddings = st.sampled_from([0, 0, 0, 0, 0, 130_000])  # past MAX_REQUEST_SIZE, now and then
alphabets = st.sampled_from([b"a", b"AZaz09+/=", b"%&=+ ;\"\r\n", "é€\U0001f600".encode(),
                             bytes(range(256))])


@st.composite
def fields(draw):
    result = []
    for _ in range(draw(counts)):
        name = draw(names)
        alphabet = draw(alphabets)
        size = draw(sizes)
        seed = draw(st.integers(0, 255))
        value = bytes(alphabet[(seed + i * 7) % len(alphabet)] for i in range(size))
        result.append((name, value))
    return result


def form_body(items, raw: bool) -> bytes:
    if raw:  # as sent, unescaped: stray "%", "&" and "=" included
        return b"&".join(name.encode() + b"=" + value for name, value in items)
    return b"&".join(quote_from_bytes(name.encode()).encode() + b"="
                     + quote_from_bytes(value).encode() for name, value in items)


def multipart_body(items, files: bool) -> bytes:
    out = b""
    for name, value in items:
        filename = '; filename="f"' if files else ""
        out += (f'--B0undary\r\nContent-Disposition: form-data; name="{name}"{filename}'
                "\r\n\r\n").encode("utf-8", "surrogatepass") + value + b"\r\n"
    return out + b"--B0undary--\r\n"


def soap_body(method, items, version) -> bytes:
    namespace = SOAP11 if version == "1.1" else SOAP12
    inner = ""
    for name, value in items:
        tag = "".join(c for c in name if c.isalnum()) or "x"
        if tag[0].isdigit():
            tag = "x" + tag
        inner += f"<tns:{tag}>{escape(value.decode('latin-1'))}</tns:{tag}>"
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{namespace}" '
            f'xmlns:tns="{TNS}"><soap:Body><tns:{method}>{inner}</tns:{method}>'
            "</soap:Body></soap:Envelope>").encode()


def run(view, path, environ, **kwargs):
    request = RequestFactory().generic(environ.pop("REQUEST_METHOD", "POST"), path, **environ)
    tracemalloc.start()
    try:
        response = view(request, **kwargs)
        if hasattr(response, "render"):
            response.render()
        content = (b"".join(response.streaming_content) if response.streaming
                   else response.content)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"peak {peak} bytes"
    return response.status_code, content


def check_answer(status, content, soap: bool):
    root = ET.fromstring(content)  # well-formed, whatever happened
    if soap and root.tag.endswith("}Envelope"):
        body = root[-1]
        fault = body.find(f"{{{root.tag[1:].split('}')[0]}}}Fault")
        if fault is not None:
            assert status == 500
            event("SOAP Fault")
            return
        assert status == 200
        root = body[0][0][0]  # MethodResponse / MethodResult / the answer node
    assert status in (200, 400, 413)
    assert root.get("success") in ("true", "false"), content
    event(f"{status} {root.get('error')}")
    assert root.get("errorCode") != "5000", content  # never a SystemError


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(binding=st.sampled_from(["get", "form", "raw-form", "multipart", "files", "soap11",
                                "soap12"]),
       method=st.sampled_from(METHOD_NAMES), items=fields(), pad=paddings)
def test_every_request_gets_a_well_formed_answer_in_bounded_memory(
        config, binding, method, items, pad):
    config(**LIMITS)
    if binding == "get":
        query = form_body(items, raw=False).decode() + "&" * pad
        environ = {"REQUEST_METHOD": "GET", "QUERY_STRING": query}
        status, content = run(ServiceMethodView.as_view(), f"/srv.asmx/{method}", environ,
                              method_name=method)
        return check_answer(status, content, soap=False)
    if binding.startswith("soap"):
        body = soap_body(method, items, binding[4] + "." + binding[5]) + b" " * pad
        content_type = "text/xml; charset=utf-8" if binding == "soap11" else \
            "application/soap+xml; charset=utf-8"
        view, path, kwargs = SoapView.as_view(), "/srv.asmx", {}
    else:
        if binding in ("form", "raw-form"):
            body = form_body(items, raw=binding == "raw-form") + b"&" * pad
            content_type = "application/x-www-form-urlencoded"
        else:
            body = multipart_body(items, files=binding == "files") + b"\r\n" * (pad // 2)
            content_type = "multipart/form-data; boundary=B0undary"
        view, path, kwargs = ServiceMethodView.as_view(), f"/srv.asmx/{method}", \
            {"method_name": method}
    environ = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    status, content = run(view, path, environ, **kwargs)
    check_answer(status, content, soap=binding.startswith("soap"))
