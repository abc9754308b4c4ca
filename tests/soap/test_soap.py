"""SOAP 1.1 and 1.2 at ``/srv.asmx``: raw envelopes as the vendor's pages write them.

The answer node is the HTTP bindings' one, inside ``<MethodResponse><MethodResult>``;
protocol errors stay answers, and only a request that is no usable SOAP call
is a Fault.
"""

import base64
import os
import textwrap
import tracemalloc
from xml.etree import ElementTree as ET

import pytest

from chunked_upload.models import UploadHandler
from chunked_upload.wire.soap import SoapView
from tests.factories import PASSWORD
from tests.srv import crc

from .envelopes import (
    TNS,
    call,
    chunk_body,
    envelope,
    post,
    result,
    status,
)

pytestmark = pytest.mark.django_db(transaction=True)


# The vendor pages' examples ---------------------------------------------------

VENDOR_AUTHENTICATE = """\
<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <AuthenticateUser xmlns="http://tempuri.org/">
      <UID>{uid}</UID>
      <PWD>{pwd}</PWD>
    </AuthenticateUser>
  </soap:Body>
</soap:Envelope>"""

VENDOR_CREATE = """
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"

               xmlns:tns="http://tempuri.org/">

  <soap:Body>

    <tns:CreateUploadHandler>

      <tns:authenticationTicket>{ticket}</tns:authenticationTicket>

      <tns:PreferedChunkSize>1048576</tns:PreferedChunkSize>

    </tns:CreateUploadHandler>

  </soap:Body>

</soap:Envelope>
"""

VENDOR_FINALIZE = """<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
               xmlns:tns="http://tempuri.org/">
  <soap:Body>
    <tns:UploadDocumentWithHandler2>
      <tns:authenticationTicket>{ticket}</tns:authenticationTicket>
      <tns:path>/Finance/Reports/Q1-2024-Report.pdf</tns:path>
      <tns:uploadHandler>{handler}</tns:uploadHandler>
      <tns:versionComments>Released for review</tns:versionComments>
      <tns:mpVersionMajor>2</tns:mpVersionMajor>
      <tns:mpVersionMinor>0</tns:mpVersionMinor>
      <tns:mpVersionRevision>1</tns:mpVersionRevision>
    </tns:UploadDocumentWithHandler2>
  </soap:Body>
</soap:Envelope>
"""

VENDOR_GET_DOWNLOAD = """
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"

               xmlns:tns="http://tempuri.org/">

  <soap:Body>

    <tns:GetDownloadHandler>

      <tns:AuthenticationTicket>{ticket}</tns:AuthenticationTicket>

      <tns:Path>/Finance/Reports/Q1-2024-Report.pdf</tns:Path>

      <tns:PreferedChunkSize>1048576</tns:PreferedChunkSize>

    </tns:GetDownloadHandler>

  </soap:Body>

</soap:Envelope>
"""

VENDOR_DOWNLOAD_CHUNK = """
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"

               xmlns:tns="http://tempuri.org/">

  <soap:Body>

    <tns:DownloadFileChunk>

      <tns:authenticationTicket>{ticket}</tns:authenticationTicket>

      <tns:DownloadHandler>{handler}</tns:DownloadHandler>

      <tns:StartOffset>0</tns:StartOffset>

      <tns:ChunkSize>65536</tns:ChunkSize>

    </tns:DownloadFileChunk>

  </soap:Body>

</soap:Envelope>
"""

VENDOR_LOGOUT = """\
<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <LogOut xmlns="http://tempuri.org/">
      <AuthenticationTicket>{ticket}</AuthenticationTicket>
    </LogOut>
  </soap:Body>
</soap:Envelope>"""

VENDOR_DELETE_HANDLER = """
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"

               xmlns:tns="http://tempuri.org/">

  <soap:Body>

    <tns:DeleteUploadHandler>

      <tns:authenticationTicket>{ticket}</tns:authenticationTicket>

      <tns:UploadHandler>{handler}</tns:UploadHandler>

    </tns:DeleteUploadHandler>

  </soap:Body>

</soap:Envelope>
"""


def test_the_vendor_pages_examples_work_as_written(client, user):
    action = TNS + "{}"
    login = result(post(client, VENDOR_AUTHENTICATE.format(uid=user.username, pwd=PASSWORD),
                        action=action.format("AuthenticateUser")), "AuthenticateUser")
    ticket = login.get("ticket")
    created = result(post(client, VENDOR_CREATE.format(ticket=ticket),
                          action=action.format("CreateUploadHandler")), "CreateUploadHandler")
    assert created.get("ChunkSize") == "1048576"
    handler = created.get("UploadHandler")
    data = b"%PDF-1.7 quarterly figures"
    sent = post(client, envelope(chunk_body(ticket, handler, data, last=True,
                                            names=("authenticationTicket", "uploadHandler",
                                                   "fileChunk", "chunkHEXCRC", "lastChunk"))))
    assert result(sent, "UploadFileChunk").get("filehexcrc") == crc(data)
    done = result(post(client, VENDOR_FINALIZE.format(ticket=ticket, handler=handler)),
                  "UploadDocumentWithHandler2")
    assert done.get("success") == "true" and done.get("DocumentId")

    download = result(post(client, VENDOR_GET_DOWNLOAD.format(ticket=ticket)),
                      "GetDownloadHandler").get("downloadhandler")
    chunk = result(post(client, VENDOR_DOWNLOAD_CHUNK.format(ticket=ticket, handler=download)),
                   "DownloadFileChunk")
    assert base64.b64decode(chunk.text) == data and chunk.get("lastchunk") == "true"

    out = result(post(client, VENDOR_LOGOUT.format(ticket=ticket), action=action.format("LogOut")),
                 "LogOut")
    assert out.get("success") == "true"


def test_delete_upload_handler_from_the_vendor_page(client, ticket, handler):
    answer = result(post(client, VENDOR_DELETE_HANDLER.format(ticket=ticket, handler=handler)),
                    "DeleteUploadHandler")
    assert answer.tag == "response" and answer.get("success") == "true"
    assert not UploadHandler.objects.filter(state=UploadHandler.State.OPEN).exists()


# The answer ------------------------------------------------------------------

def test_the_answer_node_is_the_http_bindings_node_in_no_namespace(client, user):
    response = post(client, envelope(
        f"<tns:AuthenticateUser><tns:UID>{user.username}</tns:UID>"
        f"<tns:PWD>{PASSWORD}</tns:PWD></tns:AuthenticateUser>"))
    assert b'<AuthenticateUserResponse xmlns="http://tempuri.org/">' in response.content
    assert b'<AuthenticateUserResult><root xmlns="" success="true" ticket=' in response.content
    node = result(response, "AuthenticateUser")
    assert node.tag == "root"  # no namespace
    assert list(node.attrib) == ["success", "ticket", "userid", "username", "firstName",
                                 "lastName", "fullname", "email", "expireOn", "isAuthenticated"]


def test_soap12_is_answered_in_soap12(client, user):
    node = call(client, "AuthenticateUser", "1.2", UID=user.username, PWD=PASSWORD)
    assert node.get("success") == "true"


def test_the_envelope_namespace_decides_the_version(client):
    text = envelope("<tns:isValidTicket><tns:AuthenticationTicket>x</tns:AuthenticationTicket>"
                    "</tns:isValidTicket>", "1.2")
    response = client.post("/srv.asmx", text, content_type="text/xml")
    assert result(response, "isValidTicket", "1.2").get("success") == "false"


def test_a_missing_soapaction_is_fine_the_body_decides(client, user):
    response = post(client, VENDOR_AUTHENTICATE.format(uid=user.username, pwd=PASSWORD))
    assert result(response, "AuthenticateUser").get("success") == "true"


def test_protocol_errors_are_answers_not_faults(client, handler):
    node = call(client, "UploadFileChunk", AuthenticationTicket="nonsense", UploadHandler=handler,
                FileChunk="AAAA", ChunkHEXCRC="0", LastChunk="false")
    assert node.get("success") == "false" and node.get("error") == "[900] Authentication failed"


def test_get_upload_handler_status_answers_over_soap(client, ticket, handler):
    node = status(client, ticket, handler)
    assert node.get("offset") == "0" and node.get("complete") == "false"


# Chunks ---------------------------------------------------------------------

@pytest.mark.parametrize("names", [
    ("AuthenticationTicket", "UploadHandler", "FileChunk", "ChunkHEXCRC", "LastChunk"),
    ("authenticationTicket", "uploadHandler", "fileChunk", "chunkHEXCRC", "lastChunk"),
    ("AUTHENTICATIONTICKET", "UPLOADHANDLER", "FILECHUNK", "CHUNKHEXCRC", "LASTCHUNK"),
])
def test_element_names_match_case_insensitively(client, ticket, handler, names):
    data = b"chunk bytes"
    sent = post(client, envelope(chunk_body(ticket, handler, data, names=names)))
    assert result(sent, "UploadFileChunk").get("offset") == str(len(data))


def test_unqualified_parameter_elements_bind(client, ticket, handler):
    body = (f"<tns:UploadFileChunk><AuthenticationTicket>{ticket}</AuthenticationTicket>"
            f"<UploadHandler>{handler}</UploadHandler><FileChunk>AAEC</FileChunk>"
            f"<ChunkHEXCRC>{crc(bytes([0, 1, 2]))}</ChunkHEXCRC><LastChunk>true</LastChunk>"
            "</tns:UploadFileChunk>")
    assert result(post(client, envelope(body)), "UploadFileChunk").get("offset") == "3"


def test_base64_with_line_breaks_is_accepted(client, ticket, handler):
    data = bytes(range(256)) * 4
    wrapped = "\n".join(textwrap.wrap(base64.b64encode(data).decode(), 76))
    sent = post(client, envelope(chunk_body(ticket, handler, data, base64_text=wrapped)))
    assert result(sent, "UploadFileChunk").get("offset") == str(len(data))


def test_a_crc_mismatch_appends_nothing(client, ticket, handler):
    sent = post(client, envelope(chunk_body(ticket, handler, b"data", crc_text="1234")))
    node = result(sent, "UploadFileChunk")
    assert node.get("success") == "true" and node.get("tryagain") == "true"
    assert status(client, ticket, handler).get("offset") == "0"


def test_invalid_base64_is_an_invalid_parameter(client, ticket, handler):
    sent = post(client, envelope(chunk_body(ticket, handler, b"", base64_text="!!!!")))
    assert result(sent, "UploadFileChunk").get("error") == "Invalid parameter: fileChunk."
    assert status(client, ticket, handler).get("offset") == "0"


def test_the_chunk_offset_extension_works_over_soap(client, ticket, handler):
    body = chunk_body(ticket, handler, b"abc").replace(
        "</tns:UploadFileChunk>", "<tns:ChunkOffset>7</tns:ChunkOffset></tns:UploadFileChunk>")
    node = result(post(client, envelope(body)), "UploadFileChunk")
    assert node.get("error") == "Offset mismatch." and node.get("offset") == "0"


def test_xsi_nil_means_absent(client, ticket, handler):
    body = chunk_body(ticket, handler, b"x").replace(
        f"<tns:ChunkHEXCRC>{crc(b'x')}</tns:ChunkHEXCRC>",
        '<tns:ChunkHEXCRC xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>')
    node = result(post(client, envelope(body)), "UploadFileChunk")
    assert node.get("error") == "Missing parameter: chunkHEXCRC."


def test_an_element_inside_a_value_is_an_invalid_parameter(client, user):
    body = (f"<tns:AuthenticateUser><tns:UID><b>{user.username}</b></tns:UID>"
            f"<tns:PWD>{PASSWORD}</tns:PWD></tns:AuthenticateUser>")
    node = result(post(client, envelope(body)), "AuthenticateUser")
    assert node.get("error") == "Invalid parameter: UID."


def test_a_value_over_the_text_limit_is_refused(client, user):
    body = (f"<tns:AuthenticateUser><tns:UID>{'u' * ((1 << 20) + 1)}</tns:UID>"
            f"<tns:PWD>{PASSWORD}</tns:PWD></tns:AuthenticateUser>")
    node = result(post(client, envelope(body)), "AuthenticateUser")
    assert node.get("error") == "Limit exceeded: parameter size."


def test_a_request_over_the_size_limit_is_refused_before_reading(client, config):
    config(MAX_REQUEST_SIZE=1000)
    response = post(client, envelope("<tns:LogOut/>") + " " * 1000)
    assert response.status_code == 413
    # No "Connection: close": WSGI forbids hop-by-hop headers from the app (issue 14).
    assert "Connection" not in response
    assert ET.fromstring(response.content).get("error") == "Limit exceeded: request size."


def test_a_chunk_is_streamed_not_held_in_memory(client, ticket, handler, rf):
    """An 8 MiB chunk (11 MB of Base64) costs far less memory than its size."""
    data = os.urandom(8 << 20)
    request = rf.post("/srv.asmx", envelope(chunk_body(ticket, handler, data)).encode(),
                      content_type="text/xml; charset=utf-8")
    view = SoapView.as_view()
    tracemalloc.start()
    try:
        response = view(request)
        response.render()  # a DRF view: rendering is part of answering
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result(response, "UploadFileChunk").get("offset") == str(len(data))
    assert peak < 4 << 20, f"peak {peak} bytes"


def test_a_download_chunk_is_streamed_out(client, ticket, handler):
    data = os.urandom(300_000)
    post(client, envelope(chunk_body(ticket, handler, data, last=True)))
    call(client, "UploadDocumentWithHandler", AuthenticationTicket=ticket, Path="/d.bin",
         UploadHandler=handler)
    download = call(client, "GetDownloadHandler", AuthenticationTicket=ticket, Path="/d.bin",
                    PreferedChunkSize="0").get("downloadhandler")
    response = post(client, envelope(
        f"<tns:DownloadFileChunk><tns:AuthenticationTicket>{ticket}</tns:AuthenticationTicket>"
        f"<tns:DownloadHandler>{download}</tns:DownloadHandler><tns:StartOffset>0"
        "</tns:StartOffset><tns:ChunkSize>0</tns:ChunkSize></tns:DownloadFileChunk>"))
    assert response.streaming
    node = result(response, "DownloadFileChunk")
    assert base64.b64decode(node.text) == data and node.get("chunkCRC32") == crc(data)
