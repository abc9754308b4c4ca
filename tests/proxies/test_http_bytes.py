"""The exact bytes .NET's generated HttpGet/HttpPost proxies send (issue 18).

``HttpGetClientProtocol`` and ``HttpPostClientProtocol`` escape non-ASCII text
as ``%uXXXX`` and send every parameter of the message, ``Name=`` for a null
one. The same bytes must mean the same thing on both bindings.
"""

from __future__ import annotations

import pytest

from chunked_upload.models import Document
from tests.factories import UserFactory
from tests.srv import Answer

pytestmark = pytest.mark.django_db(transaction=True)

USERNAME, PASSWORD = "zoë.rc", "p&w<\"ü'>1"
LOGIN = "UID=zo%u00EB.rc&PWD=p%26w%3C%22%u00FC'%3E1"
HTTP = ("get", "post")


def send(srv, binding: str, method: str, query: str) -> Answer:
    """``query`` as a .NET proxy sends it: in the URL, or as the form body."""
    url = f"/srv.asmx/{method}"
    if binding == "get":
        return Answer(srv.client.get(f"{url}?{query}"))
    return Answer(srv.client.post(url, query.encode("latin-1"),
                                  content_type="application/x-www-form-urlencoded"))


@pytest.fixture
def dotnet_user(db):
    return UserFactory(username=USERNAME, password=PASSWORD)


@pytest.mark.parametrize("binding", HTTP)
def test_a_non_ascii_login_as_dotnet_escapes_it(srv, dotnet_user, binding):
    answer = send(srv, binding, "AuthenticateUser", LOGIN)
    assert answer.ok, answer
    assert answer["username"] == USERNAME


@pytest.mark.parametrize("binding", HTTP)
def test_a_non_ascii_document_name_as_dotnet_escapes_it(srv, dotnet_user, binding):
    ticket = srv.login(USERNAME, PASSWORD)
    handler = srv.upload(ticket, b"data", chunk_size=1024)
    answer = send(srv, binding, "UploadDocumentWithHandler",
                  f"AuthenticationTicket={ticket}&Path=/x/Gr%u00FC%u00DFe.txt"
                  f"&UploadHandler={handler}")
    assert answer.ok, answer
    assert Document.objects.get().name == "Grüße.txt"
    assert srv.download(ticket, "/x/Grüße.txt") == b"data"


@pytest.mark.parametrize("binding", HTTP)
def test_an_empty_optional_parameter_is_absent(srv, dotnet_user, binding):
    # A proxy generated from a WSDL with ChunkOffset sends it empty when null.
    ticket = srv.login(USERNAME, PASSWORD)
    handler = srv.create_handler(ticket)
    for offset in ("", "", "8"):
        answer = send(srv, binding, "UploadFileChunk",
                      f"AuthenticationTicket={ticket}&UploadHandler={handler}"
                      f"&FileChunk=YWJjZA%3D%3D&ChunkHEXCRC=ED82CD11&LastChunk=false"
                      f"&ChunkOffset={offset}")
        assert answer.ok, answer
    assert answer["offset"] == "12"
    answer = send(srv, binding, "CreateUploadHandler",
                  f"AuthenticationTicket={ticket}&PreferedChunkSize=")
    assert answer.ok, answer


@pytest.mark.parametrize("binding", HTTP)
def test_a_malformed_escape_is_literal_text_on_both_bindings(srv, binding):
    UserFactory(username="percent", password="100%zz%u12")
    answer = send(srv, binding, "AuthenticateUser", "UID=percent&PWD=100%zz%u12")
    assert answer.ok, answer


@pytest.mark.parametrize("binding", HTTP)
def test_a_value_that_is_not_utf8_is_refused_by_name_on_both_bindings(srv, binding):
    answer = send(srv, binding, "AuthenticateUser", "UID=a&PWD=%FF")
    assert answer.error == "Invalid parameter: PWD."


@pytest.mark.parametrize("binding", HTTP)
def test_upload_file_chunk_at_offset_is_upload_file_chunk_with_its_offset(
        srv, dotnet_user, binding):
    ticket = srv.login(USERNAME, PASSWORD)
    handler = srv.create_handler(ticket)
    chunk = (f"AuthenticationTicket={ticket}&UploadHandler={handler}"
             f"&FileChunk=YWJjZA%3D%3D&ChunkHEXCRC=ED82CD11&LastChunk=false")
    assert send(srv, binding, "UploadFileChunkAtOffset", f"{chunk}&ChunkOffset=0")["offset"] == "4"
    behind = send(srv, binding, "UploadFileChunkAtOffset", f"{chunk}&ChunkOffset=1")
    assert behind.error == "Offset mismatch." and behind["offset"] == "4"
    assert send(srv, binding, "UploadFileChunk", chunk)["offset"] == "8"
