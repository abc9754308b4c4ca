"""suds (the community fork), from either WSDL: the vendor's signatures, and the
whole workflow over SOAP 1.1 (suds has no SOAP 1.2 or HTTP bindings)."""

from __future__ import annotations

import base64
import zlib

import pytest
from suds.client import Client

from tests.requirements import vendor_file

from .toolchains import LEGACY, PASSWORD, USERNAME, stored_document

pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture(scope="module")
def vendor_client() -> Client:
    # suds serves the SOAP-encoding schema the vendor imports from its own store.
    return Client(vendor_file("inforouter/srv.wsdl").as_uri(), cache=None)


@pytest.fixture
def our_client(live_server) -> Client:
    return Client(f"{live_server.url}/srv.asmx?WSDL", cache=None)


def signatures(client: Client) -> dict[tuple[str, str], list[tuple[str, str]]]:
    return {(port.name, name): [(str(p[0]), p[1].resolve().name) for p in params]
            for port, methods in client.sd[0].ports for name, params in methods}


def test_suds_derives_the_vendors_signature_for_every_legacy_operation(
        our_client, vendor_client):
    ours, vendor = signatures(our_client), signatures(vendor_client)
    ports = {port for port, _ in ours}
    assert ports == {"srvSoap", "srvSoap12"}
    for port in ports:
        for name in LEGACY:
            assert ours[port, name] == vendor[port, name], (port, name)


def answer(result, step: str) -> dict[str, str]:
    """The answer node's attributes, and its text as ``value`` (a suds object's)."""
    node = result.root if hasattr(result, "root") else result.response
    attributes = {name.lstrip("_"): str(value) for name, value in node}
    assert attributes.get("success") == "true", (step, attributes)
    return attributes


def crc(data: bytes) -> str:
    return f"{zlib.crc32(data):X}"


@pytest.mark.parametrize("wsdl", ["vendor_client", "our_client"])
def test_suds_runs_the_whole_workflow(
        request, live_server, proxy_user, payload, document_path, wsdl):
    client = request.getfixturevalue(wsdl)
    client.set_options(location=f"{live_server.url}/srv.asmx")
    service = client.service
    data = payload[0]
    login = answer(service.AuthenticateUser(USERNAME, PASSWORD), "AuthenticateUser")
    assert login["username"] == USERNAME
    ticket = login["ticket"]
    created = answer(service.CreateUploadHandler(ticket, 256 * 1024), "CreateUploadHandler")
    handler, size = created["UploadHandler"], int(created["ChunkSize"])
    for offset in range(0, len(data), size):
        chunk = data[offset:offset + size]
        # suds sends a base64Binary parameter as given: the Base64 text.
        sent = answer(service.UploadFileChunk(ticket, handler, base64.b64encode(chunk).decode(),
                                              crc(chunk), offset + size >= len(data)),
                      "UploadFileChunk")
        assert sent["offset"] == str(min(offset + size, len(data)))
    answer(service.UploadDocumentWithHandler(ticket, document_path, handler),
           "UploadDocumentWithHandler")
    opened = answer(service.GetDownloadHandler(ticket, document_path, 256 * 1024),
                    "GetDownloadHandler")
    received = b""
    while True:
        chunk = answer(service.DownloadFileChunk(ticket, opened["downloadhandler"],
                                                 len(received), 0), "DownloadFileChunk")
        piece = base64.b64decode(chunk.get("value", ""))
        assert chunk["chunkCRC32"] == crc(piece)
        received += piece
        if chunk["lastchunk"] == "true":
            break
    answer(service.DeleteDownloadHandler(ticket, opened["downloadhandler"]),
           "DeleteDownloadHandler")
    answer(service.LogOut(ticket), "LogOut")
    assert received == data
    assert stored_document().owner == proxy_user
