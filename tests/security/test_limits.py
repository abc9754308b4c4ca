"""Issue 14, findings 2 and 7: limits on everything a client controls, each refused
before the work it guards, each answered ``Limit exceeded: …`` (4130).

Every test is the attack as it was run against a live instance, scaled down
through the settings where the default needs thousands of requests.
"""

import os
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chunked_upload.conf import CONFIG_DEFAULTS
from chunked_upload.models import Chunk, Document, DownloadHandler, Folder, UploadHandler
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def finalize(srv, ticket, handler, path):
    return srv.call("UploadDocumentWithHandler", authenticationTicket=ticket, path=path,
                    uploadHandler=handler)


def is_limit(answer, what):
    return (answer.ok, answer.error, answer["errorCode"]) == (
        False, f"Limit exceeded: {what}.", "4130")


# Paths ------------------------------------------------------------------------

def test_a_path_of_30000_levels_is_refused_before_any_folder_is_made(srv, ticket):
    handler = srv.upload(ticket, b"x", 1)
    path = "/a" * 30_000 + "/x.txt"
    with CaptureQueriesContext(connection) as queries:
        answer = finalize(srv, ticket, handler, path)
    assert is_limit(answer, "path depth"), answer  # was 35 s making 30,000 folder rows
    assert not Folder.objects.exists()
    # Refused while the parameters were parsed: not even the ticket was read.
    assert not [q for q in queries.captured_queries if "folder" in q["sql"]]
    assert UploadHandler.objects.get(pk=handler).state == UploadHandler.State.COMPLETE


def test_depth_limit_is_a_setting(srv, ticket, config):
    config(MAX_PATH_DEPTH=3)
    handler = srv.upload(ticket, b"x", 1)
    assert is_limit(finalize(srv, ticket, handler, "/a/b/c/x.txt"), "path depth")
    assert finalize(srv, ticket, handler, "/a/b/x.txt").ok


def test_a_path_over_4200_characters_is_refused_before_any_folder_is_made(srv, ticket):
    # On PostgreSQL this was a DataError (SystemError 5000) after all folders were made.
    handler = srv.upload(ticket, b"x", 1)
    path = ("/" + "d" * 200) * 22 + "/x.txt"  # 22 levels, 4,428 characters
    answer = finalize(srv, ticket, handler, path)
    assert is_limit(answer, "path length"), answer
    assert not Folder.objects.exists()


def test_path_length_counts_the_casefolded_key(srv, ticket, config):
    config(MAX_PATH_LENGTH=100)
    handler = srv.upload(ticket, b"x", 1)
    # 60 characters as typed, 117 once casefolded (ß -> ss): over the limit.
    assert is_limit(finalize(srv, ticket, handler, "/" + "ß" * 57 + ".t"), "path length")
    assert finalize(srv, ticket, handler, "/" + "ß" * 40 + ".t").ok


def test_a_name_of_128_sharp_s_is_refused_not_a_database_error(srv, ticket):
    # 128 characters, but its casefolded key has 256: it overflowed name_key on PostgreSQL.
    handler = srv.upload(ticket, b"x", 1)
    answer = finalize(srv, ticket, handler, "/" + "ß" * 128)
    assert (answer.error, answer["errorCode"]) == ("Invalid parameter: path.", "4000")
    answer = srv.call("UploadNewDocumentWidthHandler", authenticationTicket=ticket,
                      folderPath="/", documentName="ß" * 128, uploadHandler=handler,
                      xmlParameters="")
    assert answer.error == "Invalid parameter: documentName."
    assert finalize(srv, ticket, handler, "/" + "ß" * 127).ok  # 254 once folded: fits
    assert Document.objects.get().name_key == "ss" * 127


def test_name_length_is_a_setting_bounded_by_the_columns(srv, ticket, config):
    config(MAX_NAME_LENGTH=10)
    handler = srv.upload(ticket, b"x", 1)
    assert finalize(srv, ticket, handler, "/abcdefghijk").error == "Invalid parameter: path."
    config(MAX_NAME_LENGTH=100_000)  # never past what the columns hold
    assert finalize(srv, ticket, handler, "/" + "n" * 256).error == "Invalid parameter: path."


# Quotas -----------------------------------------------------------------------

def test_open_upload_handlers_per_user(srv, ticket, user, config):
    config(MAX_OPEN_UPLOADS_PER_USER=3)
    handlers = [srv.create_handler(ticket) for _ in range(3)]
    answer = srv.call("CreateUploadHandler", authenticationTicket=ticket, PreferedChunkSize="0")
    assert answer.tag == "response" and is_limit(answer, "open upload handlers"), answer
    assert UploadHandler.objects.count() == 3
    # Another user is not affected; a finished handler frees its place.
    other = srv.login(UserFactory().username, PASSWORD)
    assert srv.call("CreateUploadHandler", authenticationTicket=other).ok
    srv.call("DeleteUploadHandler", authenticationTicket=ticket, UploadHandler=handlers[0])
    assert srv.call("CreateUploadHandler", authenticationTicket=ticket).ok


def test_staged_bytes_per_user(srv, ticket, config):
    config(MAX_STAGED_BYTES_PER_USER=1000)
    first = srv.create_handler(ticket)
    assert srv.send_chunk(ticket, first, b"a" * 700, last=False).ok
    second = srv.create_handler(ticket)
    answer = srv.send_chunk(ticket, second, b"b" * 400, last=False)
    assert is_limit(answer, "staged bytes per user"), answer
    assert UploadHandler.objects.get(pk=second).committed_size == 0
    assert srv.send_chunk(ticket, second, b"b" * 300, last=False).ok  # what fits, fits
    # Someone else still has room: one user cannot fill the staging disk for all.
    other = srv.login(UserFactory().username, PASSWORD)
    assert srv.send_chunk(other, srv.create_handler(other), b"c" * 900, last=True).ok


def test_total_staged_bytes(srv, ticket, config):
    config(MAX_STAGED_BYTES=1000)
    assert srv.send_chunk(ticket, srv.create_handler(ticket), b"a" * 800, last=False).ok
    other = srv.login(UserFactory().username, PASSWORD)
    answer = srv.send_chunk(other, srv.create_handler(other), b"c" * 300, last=False)
    assert is_limit(answer, "staged bytes"), answer


def test_chunks_per_handler(srv, ticket, config):
    config(MAX_CHUNKS_PER_HANDLER=3)
    handler = srv.create_handler(ticket)
    for _ in range(3):
        assert srv.send_chunk(ticket, handler, b"x", last=False).ok
    assert is_limit(srv.send_chunk(ticket, handler, b"x", last=True), "chunks per handler")
    assert Chunk.objects.count() == 3


def test_zero_length_chunks_are_not_free_ledger_rows(srv, ticket):
    handler = srv.create_handler(ticket)
    most = CONFIG_DEFAULTS["MAX_EMPTY_CHUNKS_PER_HANDLER"]
    for _ in range(most):
        assert srv.send_chunk(ticket, handler, b"", last=False).ok
    assert is_limit(srv.send_chunk(ticket, handler, b"", last=False), "empty chunks")
    assert Chunk.objects.count() == most
    # Bytes still go in, and the upload still finishes.
    answer = srv.send_chunk(ticket, handler, b"data", last=True)
    assert answer.ok and answer["offset"] == "4"


def test_download_handlers_per_user(srv, ticket, config):
    config(MAX_DOWNLOADS_PER_USER=2)
    srv.upload(ticket, os.urandom(10), 10, path="/d.bin")
    for _ in range(2):
        assert srv.call("GetDownloadHandler", AuthenticationTicket=ticket, Path="/d.bin").ok
    answer = srv.call("GetDownloadHandler", AuthenticationTicket=ticket, Path="/d.bin")
    assert answer.tag == "response" and is_limit(answer, "download handlers"), answer
    assert DownloadHandler.objects.count() == 2


def test_every_limit_has_a_documented_default():
    docs = SECURITY_DOC.read_text()
    for key in ("MAX_PATH_DEPTH", "MAX_PATH_LENGTH", "MAX_NAME_LENGTH",
                "MAX_OPEN_UPLOADS_PER_USER", "MAX_STAGED_BYTES_PER_USER", "MAX_STAGED_BYTES",
                "MAX_CHUNKS_PER_HANDLER", "MAX_EMPTY_CHUNKS_PER_HANDLER",
                "MAX_DOWNLOADS_PER_USER", "TICKET_MAX_AGE"):
        assert CONFIG_DEFAULTS[key], key
        assert f"`{key}`" in docs, key
