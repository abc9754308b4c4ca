"""The engine's signals fire once each, with the arguments ``signals.py`` documents;
the ``chunked_upload`` logger writes one line per state change and no secrets."""

from __future__ import annotations

import logging
import zlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from chunked_upload import signals
from chunked_upload.models import Chunk, Document, DocumentVersion, UploadHandler
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)
NAMES = ("handler_created", "chunk_accepted", "crc_mismatch", "upload_completed",
         "document_finalized", "handler_expired", "handler_deleted")


@pytest.fixture
def received():
    """Every signal sent during the test: name -> list of (sender, kwargs)."""
    calls = {name: [] for name in NAMES}
    receivers = []
    for name in NAMES:
        def receiver(sender, _name=name, **kwargs):
            kwargs.pop("signal")
            calls[_name].append((sender, kwargs))
        getattr(signals, name).connect(receiver)
        receivers.append((name, receiver))
    yield calls
    for name, receiver in receivers:
        getattr(signals, name).disconnect(receiver)


def only(calls, name):
    """The one call of signal ``name``, checked to be the only signal of its kind."""
    assert len(calls[name]) == 1, calls[name]
    sender, kwargs = calls[name][0]
    assert sender is UploadHandler
    return kwargs


def fired(calls):
    return {name: len(sent) for name, sent in calls.items() if sent}


def test_handler_created(srv, ticket, received):
    guid = srv.create_handler(ticket)
    kwargs = only(received, "handler_created")
    assert set(kwargs) == {"handler"}
    assert str(kwargs["handler"].id) == guid
    assert fired(received) == {"handler_created": 1}


def test_chunk_accepted(srv, ticket, received):
    guid = srv.create_handler(ticket)
    srv.send_chunk(ticket, guid, b"abc", last=False)
    kwargs = only(received, "chunk_accepted")
    assert set(kwargs) == {"handler", "chunk"}
    assert str(kwargs["handler"].id) == guid
    chunk = kwargs["chunk"]
    assert isinstance(chunk, Chunk)
    assert (chunk.index, chunk.offset, chunk.length, chunk.crc32) == (0, 0, 3, zlib.crc32(b"abc"))
    assert fired(received) == {"handler_created": 1, "chunk_accepted": 1}


def test_crc_mismatch(srv, ticket, received):
    guid = srv.create_handler(ticket)
    answer = srv.call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=guid,
                      fileChunk="YWJj", chunkHEXCRC="1234", lastChunk="false")
    assert answer["tryagain"] == "true"
    kwargs = only(received, "crc_mismatch")
    assert set(kwargs) == {"handler", "expected", "received", "length"}
    assert str(kwargs["handler"].id) == guid
    assert (kwargs["expected"], kwargs["received"], kwargs["length"]) == (
        0x1234, zlib.crc32(b"abc"), 3)
    assert fired(received) == {"handler_created": 1, "crc_mismatch": 1}


def test_upload_completed(srv, ticket, received):
    guid = srv.create_handler(ticket)
    srv.send_chunk(ticket, guid, b"abc", last=False)
    srv.send_chunk(ticket, guid, b"def", last=True)
    kwargs = only(received, "upload_completed")
    assert set(kwargs) == {"handler"}
    assert str(kwargs["handler"].id) == guid
    assert kwargs["handler"].state == UploadHandler.State.COMPLETE
    assert kwargs["handler"].committed_size == 6
    assert fired(received) == {"handler_created": 1, "chunk_accepted": 2, "upload_completed": 1}


def test_document_finalized_tells_whether_the_document_is_new(srv, ticket, received):
    srv.upload(ticket, b"one", 1 << 20, path="/F/a.txt")
    first = only(received, "document_finalized")
    assert set(first) == {"handler", "document", "version", "created"}
    assert first["created"] is True
    assert first["document"] == Document.objects.get()
    assert first["version"] == DocumentVersion.objects.get()
    assert first["handler"].state == UploadHandler.State.FINALIZED

    srv.upload(ticket, b"two", 1 << 20, path="/F/a.txt")
    second = received["document_finalized"][1][1]
    assert second["created"] is False
    assert second["version"].number == 2
    assert fired(received)["document_finalized"] == 2


def test_handler_expired(srv, ticket, received):
    guid = srv.create_handler(ticket)
    srv.send_chunk(ticket, guid, b"x" * 50, last=False)
    UploadHandler.objects.update(last_activity_at=timezone.now() - timedelta(days=2))
    call_command("expire_upload_handlers", stdout=None)
    kwargs = only(received, "handler_expired")
    assert set(kwargs) == {"handler", "staged_bytes"}
    assert str(kwargs["handler"].id) == guid
    assert kwargs["staged_bytes"] == 50
    assert "handler_deleted" not in fired(received)


def test_handler_deleted(srv, ticket, received):
    guid = srv.create_handler(ticket)
    srv.send_chunk(ticket, guid, b"x" * 20, last=False)
    assert srv.call("DeleteUploadHandler", authenticationTicket=ticket, UploadHandler=guid).ok
    kwargs = only(received, "handler_deleted")
    assert set(kwargs) == {"handler", "staged_bytes"}
    assert str(kwargs["handler"].id) == guid
    assert kwargs["staged_bytes"] == 20
    assert "handler_expired" not in fired(received)


def test_the_log_has_one_line_per_state_change_and_no_secret(srv, user, caplog):
    caplog.set_level(logging.INFO, logger="chunked_upload")
    ticket = srv.login(user.username, PASSWORD)
    kept = srv.create_handler(ticket)
    srv.send_chunk(ticket, kept, b"abc", last=False)
    srv.call("UploadFileChunk", authenticationTicket=ticket, uploadHandler=kept,
             fileChunk="YWJj", chunkHEXCRC="0", lastChunk="true")
    srv.send_chunk(ticket, kept, b"def", last=True)
    srv.call("UploadDocumentWithHandler", authenticationTicket=ticket, path="/a.txt",
             uploadHandler=kept)
    dropped = srv.create_handler(ticket)
    srv.call("DeleteUploadHandler", authenticationTicket=ticket, UploadHandler=dropped)
    lines = [r.getMessage() for r in caplog.records if r.name == "chunked_upload"]

    assert not any(ticket in line or PASSWORD in line for line in lines)
    about_kept = [line for line in lines if kept in line]
    changes = ("created", "CRC mismatch", "complete", "finalized")
    assert len(about_kept) == len(changes)
    assert all(word in line for word, line in zip(changes, about_kept, strict=True))
    about_dropped = [line for line in lines if dropped in line]
    assert len(about_dropped) == 2
    assert "created" in about_dropped[0] and "deleted" in about_dropped[1]
