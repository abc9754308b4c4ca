"""Raw SOAP requests for the tests, as the vendor's pages and WSDL proxies write them."""

import base64
from xml.etree import ElementTree as ET

from tests.srv import crc

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://tempuri.org/"


def envelope(body: str, version: str = "1.1", header: str = "") -> str:
    """A document/literal request; ``tns`` is bound to the service's namespace."""
    namespace = SOAP11 if version == "1.1" else SOAP12
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<soap:Envelope xmlns:soap="{namespace}" '
            f'xmlns:tns="{TNS}">{header}<soap:Body>{body}</soap:Body></soap:Envelope>')


def post(client, text: str | bytes, version: str = "1.1", action: str | None = None):
    """POST a SOAP request as a client of that version sends it."""
    if version == "1.1":
        extra = {} if action is None else {"HTTP_SOAPACTION": f'"{action}"'}
        return client.post("/srv.asmx", text, content_type="text/xml; charset=utf-8", **extra)
    action_param = "" if action is None else f'; action="{action}"'
    return client.post("/srv.asmx", text,
                       content_type=f"application/soap+xml; charset=utf-8{action_param}")


def call(client, method: str, version: str = "1.1", **params: str) -> ET.Element:
    """Call ``method`` with PascalCase elements, as WSDL proxies do; the answer node."""
    body = "".join(f"<tns:{name}>{value}</tns:{name}>" for name, value in params.items())
    response = post(client, envelope(f"<tns:{method}>{body}</tns:{method}>", version), version,
                    TNS + method)
    return result(response, method, version)


def content(response) -> bytes:
    """The body, whether streamed (a download chunk) or not."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def result(response, method: str, version: str = "1.1") -> ET.Element:
    """The answer node inside ``<MethodResponse><MethodResult>``."""
    body = content(response)
    assert response.status_code == 200, body
    media = "text/xml" if version == "1.1" else "application/soap+xml"
    assert response["Content-Type"] == f"{media}; charset=utf-8"
    root = ET.fromstring(body)
    namespace = SOAP11 if version == "1.1" else SOAP12
    assert root.tag == f"{{{namespace}}}Envelope"
    answer = root.find(f"{{{namespace}}}Body/{{{TNS}}}{method}Response/{{{TNS}}}{method}Result")
    assert answer is not None and len(answer) == 1, body
    return answer[0]


def fault(response, version: str = "1.1") -> tuple[str, str]:
    """(fault code, reason) of a SOAP Fault answer."""
    assert response.status_code == 500, response.content
    media = "text/xml" if version == "1.1" else "application/soap+xml"
    assert response["Content-Type"] == f"{media}; charset=utf-8"
    root = ET.fromstring(response.content)
    if version == "1.1":
        element = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
        return element.findtext("faultcode"), element.findtext("faultstring")
    element = root.find(f"{{{SOAP12}}}Body/{{{SOAP12}}}Fault")
    return (element.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value"),
            element.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text"))


def chunk_body(ticket, handler, data: bytes, last: bool = False, *, names=None, crc_text=None,
               base64_text=None) -> str:
    names = names or ("AuthenticationTicket", "UploadHandler", "FileChunk", "ChunkHEXCRC",
                      "LastChunk")
    values = (ticket, handler, base64_text or base64.b64encode(data).decode(),
              crc_text or crc(data), "true" if last else "false")
    inner = "".join(f"<tns:{n}>{v}</tns:{n}>" for n, v in zip(names, values, strict=True))
    return f"<tns:UploadFileChunk>{inner}</tns:UploadFileChunk>"


def status(client, ticket, handler) -> ET.Element:
    return call(client, "GetUploadHandlerStatus", AuthenticationTicket=ticket,
                UploadHandler=handler)
