"""A generated SOAP proxy (zeep) drives the whole workflow, from either WSDL.

zeep loads the vendor's production WSDL, or ours from ``/srv.asmx?WSDL``,
and calls the live test server over SOAP 1.1 and SOAP 1.2 exactly as it
would call the legacy ASMX server.
"""

import base64
import os
import zlib
from pathlib import Path

import pytest
from zeep import Client
from zeep.exceptions import Fault
from zeep.transports import Transport

from chunked_upload.engine.checksums import format_crc
from tests.factories import PASSWORD
from tests.requirements import vendor_file

pytestmark = pytest.mark.django_db(transaction=True)

SOAP_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
LOCAL_SOAP_ENCODING = Path(__file__).parent / "data" / "soap-encoding.xsd"
TNS = "{http://tempuri.org/}"
CHUNK = 256 * 1024


class LocalTransport(Transport):
    """zeep's transport, serving the SOAP-encoding schema the vendor WSDL imports
    from a local copy (the tests have no internet)."""

    def load(self, url):
        if url.rstrip("/") == SOAP_ENCODING.rstrip("/"):
            return LOCAL_SOAP_ENCODING.read_bytes()
        return super().load(url)


@pytest.fixture(scope="module")
def vendor_client():
    return Client(str(vendor_file("inforouter/srv.wsdl")), transport=LocalTransport())


@pytest.fixture(params=["vendor", "ours"])
def wsdl(request, live_server):
    """A zeep client from the named WSDL; ours is fetched from the server."""
    if request.param == "vendor":
        return request.getfixturevalue("vendor_client")
    return Client(f"{live_server.url}/srv.asmx?WSDL", transport=LocalTransport())


@pytest.fixture(params=["srvSoap", "srvSoap12"])
def service(request, wsdl, live_server):
    """The proxy for one SOAP binding, calling the live test server."""
    return wsdl.create_service(TNS + request.param, f"{live_server.url}/srv.asmx")


def crc(data: bytes) -> str:
    return format_crc(zlib.crc32(data))


def test_the_whole_workflow_over_a_generated_proxy(service, user):
    data = os.urandom(2 * CHUNK + 1000)
    login = service.AuthenticateUser(UID=user.username, PWD=PASSWORD)
    assert login.tag == "root" and login.get("success") == "true", login.attrib
    ticket = login.get("ticket")

    created = service.CreateUploadHandler(AuthenticationTicket=ticket, PreferedChunkSize=CHUNK)
    assert created.tag == "response" and created.get("success") == "true"
    handler, size = created.get("UploadHandler"), int(created.get("ChunkSize"))
    assert size == CHUNK

    pieces = [data[i:i + size] for i in range(0, len(data), size)]
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        if i == 1:  # damaged in transit: refused, nothing appended, sent again
            damaged = service.UploadFileChunk(
                AuthenticationTicket=ticket, UploadHandler=handler, FileChunk=piece,
                ChunkHEXCRC=crc(piece + b"x"), LastChunk=last)
            assert damaged.get("tryagain") == "true"
        answer = service.UploadFileChunk(AuthenticationTicket=ticket, UploadHandler=handler,
                                         FileChunk=piece, ChunkHEXCRC=crc(piece), LastChunk=last)
        assert answer.get("success") == "true" and answer.get("tryagain") == "false"
        assert answer.get("offset") == str(sum(map(len, pieces[:i + 1])))
    assert answer.get("filehexcrc") == crc(data)

    done = service.UploadDocumentWithHandler3(
        AuthenticationTicket=ticket, Path="/SOAP/report.bin", UploadHandler=handler,
        xmlParameters='<xmlparameters><item NAME="DESCRIPTION" VALUE="via zeep"/></xmlparameters>')
    assert done.get("success") == "true" and done.get("DocumentId"), done.attrib

    assert _download(service, ticket, "/SOAP/report.bin") == data

    assert service.LogOut(AuthenticationTicket=ticket).get("success") == "true"
    assert service.isValidTicket(AuthenticationTicket=ticket).get("success") == "false"


def _download(service, ticket: str, path: str) -> bytes:
    opened = service.GetDownloadHandler(AuthenticationTicket=ticket, Path=path,
                                        PreferedChunkSize=CHUNK)
    assert opened.get("success") == "true", opened.attrib
    handler, data = opened.get("downloadhandler"), b""
    while True:
        chunk = service.DownloadFileChunk(AuthenticationTicket=ticket, DownloadHandler=handler,
                                          StartOffset=len(data), ChunkSize=0)
        assert chunk.get("success") == "true", chunk.attrib
        piece = base64.b64decode(chunk.text or "")
        assert chunk.get("chunkCRC32") == crc(piece)
        data += piece
        if chunk.get("lastchunk") == "true":
            break
    closed = service.DeleteDownloadHandler(AuthenticationTicket=ticket, DownloadHandler=handler)
    assert closed.get("success") == "true"
    return data


def test_protocol_errors_come_back_as_results_not_faults(service):
    answer = service.CreateUploadHandler(AuthenticationTicket="not-a-ticket", PreferedChunkSize=0)
    assert answer.get("success") == "false"
    assert answer.get("error") == "[900] Authentication failed"


def test_our_wsdl_offers_the_extensions(live_server, user):
    # No help needed: what the WSDL imports comes from the same server.
    client = Client(f"{live_server.url}/srv.asmx?WSDL")
    service = client.service
    ticket = service.AuthenticateUser(UID=user.username, PWD=PASSWORD).get("ticket")
    handler = service.CreateUploadHandler(AuthenticationTicket=ticket,
                                          PreferedChunkSize=0).get("UploadHandler")
    sent = service.UploadFileChunkAtOffset(
        AuthenticationTicket=ticket, UploadHandler=handler, FileChunk=b"abc",
        ChunkHEXCRC=crc(b"abc"), LastChunk=False, ChunkOffset=0)
    assert sent.get("offset") == "3"
    behind = service.UploadFileChunkAtOffset(
        AuthenticationTicket=ticket, UploadHandler=handler, FileChunk=b"def",
        ChunkHEXCRC=crc(b"def"), LastChunk=False, ChunkOffset=1)
    assert behind.get("error") == "Offset mismatch." and behind.get("offset") == "3"
    legacy = service.UploadFileChunk(AuthenticationTicket=ticket, UploadHandler=handler,
                                     FileChunk=b"def", ChunkHEXCRC=crc(b"def"), LastChunk=False)
    assert legacy.get("offset") == "6"
    status = service.GetUploadHandlerStatus(AuthenticationTicket=ticket, UploadHandler=handler)
    assert status.get("offset") == "6" and status.get("complete") == "false"


@pytest.mark.parametrize("binding, code", [("srvSoap", "Client"), ("srvSoap12", "Sender")])
def test_an_operation_we_do_not_implement_is_a_soap_fault_in_the_proxy(
        vendor_client, live_server, binding, code):
    service = vendor_client.create_service(TNS + binding, f"{live_server.url}/srv.asmx")
    with pytest.raises(Fault) as raised:
        service.UploadTiffAsPDF(AuthenticationTicket="x", Path="/a.pdf", FileContent=b"II*")
    assert "UploadTiffAsPDF" in raised.value.message
    assert raised.value.code.endswith(code)
