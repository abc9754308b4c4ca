"""GetDownloadHandler(ByVersion), DownloadFileChunk, DeleteDownloadHandler."""

import base64
import os
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from chunked_upload.models import Document, DownloadHandler
from tests.factories import PASSWORD, UserFactory
from tests.srv import crc

pytestmark = pytest.mark.django_db(transaction=True)
DATA = os.urandom(700_000)


@pytest.fixture
def document(srv, ticket):
    srv.upload(ticket, DATA, 300_000, path="/Finance/Reports/Q1-Report.pdf")
    return Document.objects.get()


def open_handler(srv, ticket, path="/Finance/Reports/Q1-Report.pdf", chunk_size="262144"):
    return srv.call("GetDownloadHandler", AuthenticationTicket=ticket, Path=path,
                    PreferedChunkSize=chunk_size)


def test_get_download_handler_describes_the_latest_version(srv, ticket, document):
    answer = open_handler(srv, ticket)
    assert answer.tag == "response"
    assert list(answer.element.attrib) == [
        "success", "Size", "ContentType", "ModificationDate", "VersionNumber",
        "AlterDocumentName", "RenderedContent", "CRC32", "ChunkSize", "downloadhandler"]
    assert answer["Size"] == str(len(DATA))
    assert answer["ContentType"] == "application/pdf"
    assert answer["ModificationDate"] == timezone.now().strftime("%Y-%m-%d")
    assert (answer["VersionNumber"], answer["RenderedContent"]) == ("0", "false")
    assert answer["AlterDocumentName"] == "Q1-Report.pdf"
    assert answer["CRC32"] == crc(DATA)
    assert answer["ChunkSize"] == "262144"
    assert uuid.UUID(answer["downloadhandler"])


def test_document_id_paths(srv, ticket, document):
    assert open_handler(srv, ticket, path=f"~D{document.pk}").ok
    assert open_handler(srv, ticket, path=f"~d{document.pk}.pdf").ok
    assert open_handler(srv, ticket, path="~D999999").error == "Document not found."


def test_download_round_trip_in_chunks(srv, ticket, document):
    assert srv.download(ticket, "/finance/reports/q1-report.pdf") == DATA


def test_download_chunk_attributes(srv, ticket, document):
    handler = open_handler(srv, ticket)["downloadhandler"]
    answer = srv.call("DownloadFileChunk", authenticationTicket=ticket, DownloadHandler=handler,
                      StartOffset="600000", ChunkSize="262144")
    assert list(answer.element.attrib) == ["success", "filelength", "chunklength", "lastchunk",
                                           "chunkCRC32"]
    data = base64.b64decode(answer.text)
    assert data == DATA[600_000:]
    assert (answer["filelength"], answer["chunklength"], answer["lastchunk"]) == (
        str(len(DATA)), "100000", "true")
    assert answer["chunkCRC32"] == crc(data)


@pytest.mark.parametrize("requested, expected", [("0", 262144), ("-1", 262144), ("1", 262144),
                                                 ("300000", 300000), (None, 262144)])
def test_download_chunk_size(srv, ticket, document, requested, expected):
    handler = open_handler(srv, ticket)["downloadhandler"]
    params = {} if requested is None else {"ChunkSize": requested}
    answer = srv.call("DownloadFileChunk", authenticationTicket=ticket, DownloadHandler=handler,
                      StartOffset="0", **params)
    assert answer["chunklength"] == str(expected)
    assert answer["lastchunk"] == "false"


@pytest.mark.parametrize("offset", ["700001", "-1"])
def test_start_offset_past_the_end(srv, ticket, document, offset):
    handler = open_handler(srv, ticket)["downloadhandler"]
    answer = srv.call("DownloadFileChunk", authenticationTicket=ticket, DownloadHandler=handler,
                      StartOffset=offset, ChunkSize="0")
    assert answer.error == "Invalid parameter: StartOffset."


def test_start_offset_is_64_bit(srv, ticket, document):
    handler = open_handler(srv, ticket)["downloadhandler"]
    answer = srv.call("DownloadFileChunk", authenticationTicket=ticket, DownloadHandler=handler,
                      StartOffset=str(5 << 30), ChunkSize="0")
    assert answer.error == "Invalid parameter: StartOffset."  # parsed, then past the end


def test_reading_at_the_end_answers_an_empty_last_chunk(srv, ticket, document):
    handler = open_handler(srv, ticket)["downloadhandler"]
    answer = srv.call("DownloadFileChunk", authenticationTicket=ticket, DownloadHandler=handler,
                      StartOffset=str(len(DATA)), ChunkSize="0")
    assert (answer["chunklength"], answer["lastchunk"]) == ("0", "true")


def test_versions_by_number(srv, ticket, document):
    srv.upload(ticket, b"second", 6, path="/Finance/Reports/Q1-Report.pdf")
    answer = srv.call("GetDownloadHandlerByVersion", AuthenticationTicket=ticket,
                      Path="/Finance/Reports/Q1-Report.pdf", VersionNumber="1",
                      PreferedChunkSize="0")
    assert (answer["VersionNumber"], answer["Size"]) == ("1", str(len(DATA)))
    answer = srv.call("GetDownloadHandlerByVersion", AuthenticationTicket=ticket,
                      Path="/Finance/Reports/Q1-Report.pdf", VersionNumber="3",
                      PreferedChunkSize="0")
    assert answer.error == "Document not found."
    assert open_handler(srv, ticket)["Size"] == "6"


@pytest.mark.parametrize("path", ["/Finance/Reports/Nope.pdf", "/Nope/Q1-Report.pdf"])
def test_missing_documents(srv, ticket, document, path):
    answer = open_handler(srv, ticket, path=path)
    assert (answer.error, answer["errorCode"]) == ("Document not found.", "4041")


def test_reading_needs_read_permission(srv, document):
    # Refused as if missing (issue 14: "Access denied." told strangers which paths exist).
    stranger = UserFactory()
    stranger_ticket = srv.login(stranger.username, PASSWORD)
    assert open_handler(srv, stranger_ticket).error == "Document not found."
    stranger.user_permissions.add(Permission.objects.get(codename="view_document"))
    assert open_handler(srv, stranger_ticket).ok


def test_staff_alone_may_not_read(srv, document):
    # Issue 14: is_staff means "may log into the admin", not "reads every document".
    staff = UserFactory(is_staff=True)
    assert open_handler(srv, srv.login(staff.username, PASSWORD)).error == "Document not found."


def test_download_handlers_are_bound_to_their_ticket(srv, user, ticket, document, config):
    config(HANDLER_SCOPE="ticket")  # under the default ("user") any ticket of the owner works
    handler = open_handler(srv, ticket)["downloadhandler"]
    other = srv.login(user.username, PASSWORD)
    answer = srv.call("DownloadFileChunk", authenticationTicket=other, DownloadHandler=handler,
                      StartOffset="0", ChunkSize="0")
    assert answer.error == "Download handler not found or expired."


def test_malformed_download_handler(srv, ticket):
    answer = srv.call("DownloadFileChunk", authenticationTicket="x", DownloadHandler="nope",
                      StartOffset="0", ChunkSize="0")
    assert answer.error == "Invalid download handler."


def test_expired_download_handler(srv, ticket, document):
    handler = open_handler(srv, ticket)["downloadhandler"]
    DownloadHandler.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = srv.call("DownloadFileChunk", authenticationTicket=ticket, DownloadHandler=handler,
                      StartOffset="0", ChunkSize="0")
    assert answer.error == "Download handler not found or expired."


def test_delete_download_handler(srv, ticket, document):
    handler = open_handler(srv, ticket)["downloadhandler"]
    answer = srv.call("DeleteDownloadHandler", authenticationTicket=ticket, DownloadHandler=handler)
    assert answer.element.attrib == {"success": "true", "error": ""}
    again = srv.call("DeleteDownloadHandler", authenticationTicket=ticket, DownloadHandler=handler)
    assert again.error == "Download handler not found or expired."
    assert Document.objects.exists()


def test_opening_a_download_copies_nothing(srv, ticket, document, settings, tmp_path):
    before = sum(len(files) for _, _, files in os.walk(settings.MEDIA_ROOT))
    open_handler(srv, ticket)
    assert sum(len(files) for _, _, files in os.walk(settings.MEDIA_ROOT)) == before
