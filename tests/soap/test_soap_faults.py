"""SOAP Faults, and XML the endpoint refuses: nothing it refuses touches stored data."""

import base64
import os

import pytest

from chunked_upload.models import UploadHandler
from tests.factories import PASSWORD
from tests.srv import crc

from .envelopes import (
    SOAP11,
    TNS,
    call,
    chunk_body,
    envelope,
    fault,
    post,
    result,
    status,
)

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN = "<tns:AuthenticateUser><tns:UID>u</tns:UID><tns:PWD>p</tns:PWD></tns:AuthenticateUser>"


@pytest.mark.parametrize("version, code", [("1.1", "soap:Client"), ("1.2", "soap:Sender")])
def test_malformed_xml_is_a_client_fault(client, version, code):
    response = post(client, envelope(LOGIN, version).replace("</tns:PWD>", "</PWD>"), version)
    got, reason = fault(response, version)
    assert got == code and "not well-formed" in reason


@pytest.mark.parametrize("version, code", [("1.1", "soap:Client"), ("1.2", "soap:Sender")])
def test_an_unknown_operation_is_a_client_fault(client, version, code):
    body = "<tns:UploadTiffAsPDF><tns:Path>/x</tns:Path></tns:UploadTiffAsPDF>"
    got, reason = fault(post(client, envelope(body, version), version), version)
    assert got == code and "UploadTiffAsPDF" in reason


def test_an_operation_outside_the_service_namespace_is_unknown(client):
    body = '<AuthenticateUser xmlns="urn:other"><UID>u</UID><PWD>p</PWD></AuthenticateUser>'
    assert fault(post(client, envelope(body)))[0] == "soap:Client"


def test_operation_names_match_exactly_as_asmx_does(client):
    body = LOGIN.replace("AuthenticateUser", "authenticateuser")
    assert fault(post(client, envelope(body)))[0] == "soap:Client"


@pytest.mark.parametrize("version, code", [("1.1", "soap:Client"), ("1.2", "soap:Sender")])
def test_a_soapaction_naming_another_operation_is_a_client_fault(client, version, code):
    response = post(client, envelope(LOGIN, version), version, action=TNS + "LogOut")
    got, reason = fault(response, version)
    assert got == code and "LogOut" in reason and "AuthenticateUser" in reason


def test_a_foreign_envelope_namespace_is_a_version_mismatch(client):
    text = envelope(LOGIN).replace(SOAP11, "urn:not-soap")
    assert fault(post(client, text))[0] == "soap:VersionMismatch"


@pytest.mark.parametrize("text", [
    f'<tns:AuthenticateUser xmlns:tns="{TNS}"/>',
    f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Header/></soap:Envelope>',
    f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body/></soap:Envelope>',
    "",
], ids=["not an envelope", "no body", "empty body", "no XML at all"])
def test_an_envelope_without_an_operation_is_a_client_fault(client, text):
    assert fault(post(client, text))[0] == "soap:Client"


def test_a_second_operation_in_the_body_is_a_fault_and_runs_neither(client, ticket):
    create = (f"<tns:CreateUploadHandler><tns:AuthenticationTicket>{ticket}"
              "</tns:AuthenticationTicket></tns:CreateUploadHandler>")
    assert fault(post(client, envelope(create + create)))[0] == "soap:Client"
    assert not UploadHandler.objects.exists()


def test_a_header_that_must_be_understood_is_a_fault(client):
    header = ('<soap:Header><wsse:Security xmlns:wsse="urn:wsse" soap:mustUnderstand="1"/>'
              "</soap:Header>")
    assert fault(post(client, envelope(LOGIN, header=header)))[0] == "soap:MustUnderstand"


def test_other_headers_are_ignored(client, user):
    header = '<soap:Header><tns:Trace xmlns:tns="urn:trace">42</tns:Trace></soap:Header>'
    body = LOGIN.replace(">u<", f">{user.username}<").replace(">p<", f">{PASSWORD}<")
    assert result(post(client, envelope(body, header=header)), "AuthenticateUser").get("ticket")


# XML attacks ------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<AuthenticateUser xmlns="http://tempuri.org/"><UID>&lol3;</UID><PWD>p</PWD></AuthenticateUser>
</soap:Body></soap:Envelope>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<AuthenticateUser xmlns="http://tempuri.org/"><UID>&xxe;</UID><PWD>p</PWD></AuthenticateUser>
</soap:Body></soap:Envelope>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE soap:Envelope SYSTEM "http://attacker.invalid/evil.dtd">
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<LogOut xmlns="http://tempuri.org/"/></soap:Body></soap:Envelope>"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD],
                         ids=["billion laughs", "external entity", "external DTD"])
def test_dtds_and_entities_are_refused(client, text):
    response = post(client, text)
    code, reason = fault(response)
    assert code == "soap:Client" and "DTD" in reason
    assert b"root:" not in response.content  # /etc/passwd was never read


def test_an_undeclared_entity_is_malformed_xml(client):
    response = post(client, envelope(LOGIN.replace(">u<", ">&xxe;<")))
    assert "not well-formed" in fault(response)[1]


def test_deep_nesting_is_refused(client):
    body = LOGIN.replace(">u<", ">" + "<a>" * 40 + "u" + "</a>" * 40 + "<")
    assert "too deeply" in fault(post(client, envelope(body)))[1]


def test_huge_markup_is_refused(client):
    body = LOGIN.replace("<tns:UID>", f'<tns:UID junk="{"j" * (2 << 20)}">')
    assert "too large" in fault(post(client, envelope(body)))[1]


# Refused requests leave stored data as it was ------------------------------------

def test_a_truncated_chunk_appends_nothing(client, ticket, handler):
    first, second = os.urandom(1000), os.urandom(1000)
    assert result(post(client, envelope(chunk_body(ticket, handler, first))),
                  "UploadFileChunk").get("offset") == "1000"
    text = envelope(chunk_body(ticket, handler, second, last=True))
    cut = text.index("</tns:FileChunk>") - 100
    assert fault(post(client, text[:cut]))[0] == "soap:Client"
    assert status(client, ticket, handler).get("offset") == "1000"
    _finish_and_check(client, ticket, handler, first, second)


def test_malformed_xml_after_a_whole_chunk_appends_nothing(client, ticket, handler):
    """The envelope is checked to its end before the chunk is committed."""
    data = os.urandom(1000)
    text = envelope(chunk_body(ticket, handler, data)).replace("</soap:Body>", "</soap:Bodyy>")
    assert fault(post(client, text))[0] == "soap:Client"
    assert status(client, ticket, handler).get("offset") == "0"
    _finish_and_check(client, ticket, handler, data)


def test_a_second_operation_after_a_chunk_appends_nothing(client, ticket, handler):
    body = chunk_body(ticket, handler, b"abc")
    assert fault(post(client, envelope(body + body)))[0] == "soap:Client"
    assert status(client, ticket, handler).get("offset") == "0"


def _finish_and_check(client, ticket, handler, *pieces):
    """Send the pieces not yet committed, finalize, and read the document back."""
    committed = int(status(client, ticket, handler).get("offset"))
    data = b"".join(pieces)
    rest = data[committed:]
    last = result(post(client, envelope(chunk_body(ticket, handler, rest, last=True))),
                  "UploadFileChunk")
    assert last.get("filehexcrc") == crc(data)
    done = call(client, "UploadDocumentWithHandler", AuthenticationTicket=ticket,
                Path="/checked.bin", UploadHandler=handler)
    assert done.get("success") == "true", done.attrib
    download = call(client, "GetDownloadHandler", AuthenticationTicket=ticket,
                    Path="/checked.bin", PreferedChunkSize="0").get("downloadhandler")
    chunk = call(client, "DownloadFileChunk", AuthenticationTicket=ticket,
                 DownloadHandler=download, StartOffset="0", ChunkSize="0")
    assert base64.b64decode(chunk.text) == data


# Other HTTP methods --------------------------------------------------------------

def test_get_without_wsdl_is_not_a_method(client):
    response = client.get("/srv.asmx")
    assert response.status_code == 404 and response["Content-Type"] == "text/xml; charset=utf-8"


def test_other_http_methods_are_405(client):
    response = client.put("/srv.asmx", "x", content_type="text/xml")
    assert response.status_code == 405 and b"<root " in response.content
