"""CreateUploadHandler, GetUploadHandlerStatus, DeleteUploadHandler and handler scope."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from chunked_upload.models import UploadHandler
from chunked_upload.staging import get_staging
from tests.factories import PASSWORD, TicketFactory, UploadHandlerFactory

pytestmark = pytest.mark.django_db(transaction=True)
NOT_FOUND = "Upload handler not found or expired."


@pytest.mark.parametrize("preferred, expected", [
    (None, 1 << 20), ("0", 1 << 20), ("-5", 1 << 20), ("1", 262144), ("262144", 262144),
    ("5000000", 5000000), ("33554432", 33554432), ("999999999", 33554432),
])
def test_create_upload_handler_negotiates_the_chunk_size(srv, ticket, preferred, expected):
    params = {} if preferred is None else {"PreferedChunkSize": preferred}
    answer = srv.call("CreateUploadHandler", authenticationTicket=ticket, **params)
    assert answer.tag == "response"
    assert list(answer.element.attrib) == ["success", "error", "UploadHandler", "ChunkSize"]
    assert answer["error"] == ""
    assert answer["ChunkSize"] == str(expected)
    assert UploadHandler.objects.get(pk=answer["UploadHandler"]).chunk_size == expected


def test_default_chunk_size_is_configurable(srv, ticket, config):
    config(DEFAULT_CHUNK_SIZE=4 << 20)
    answer = srv.call("CreateUploadHandler", authenticationTicket=ticket, PreferedChunkSize="0")
    assert answer["ChunkSize"] == str(4 << 20)


def test_malformed_chunk_size_is_invalid_parameter(srv, ticket):
    answer = srv.call("CreateUploadHandler", authenticationTicket=ticket, PreferedChunkSize="1MB")
    assert answer.error == "Invalid parameter: PreferedChunkSize."


def test_status_reports_where_the_upload_stands(srv, ticket):
    handler = srv.create_handler(ticket)
    srv.send_chunk(ticket, handler, b"x" * 1000, last=False)
    answer = srv.call("GetUploadHandlerStatus", authenticationTicket=ticket, uploadHandler=handler)
    assert answer.ok
    assert answer["UploadHandler"] == handler
    assert (answer["offset"], answer["chunks"], answer["complete"]) == ("1000", "1", "false")
    assert answer["ChunkSize"] == str(1 << 20)
    assert answer["expireOn"].endswith("Z")


def test_a_client_that_logged_in_again_resumes_its_own_upload(srv, user, ticket):
    """The default scope ("user"): crash, log in again, ask where it stands, resume."""
    handler = srv.create_handler(ticket)
    assert srv.send_chunk(ticket, handler, b"a" * 1000, last=False, chunkOffset=0).ok
    # The client crashes: its ticket is lost with it. It logs in again.
    again = srv.login(user.username, PASSWORD)
    status = srv.call("GetUploadHandlerStatus", authenticationTicket=again, uploadHandler=handler)
    assert status.ok and status["offset"] == "1000"
    answer = srv.send_chunk(again, handler, b"b" * 500, last=True,
                            chunkOffset=status["offset"])
    assert answer.ok and answer["offset"] == "1500"
    done = srv.call("UploadDocumentWithHandler", authenticationTicket=again,
                    path="/resumed.bin", uploadHandler=handler)
    assert done.ok, done


def test_another_users_ticket_never_reaches_a_handler(srv, ticket):
    handler = srv.create_handler(ticket)
    stranger = TicketFactory()
    assert srv.call("GetUploadHandlerStatus", authenticationTicket=str(stranger.key),
                    uploadHandler=handler).error == NOT_FOUND


def test_handler_scope_ticket_binds_a_handler_to_its_ticket(srv, user, ticket, config):
    config(HANDLER_SCOPE="ticket")
    handler = srv.create_handler(ticket)
    other_ticket_same_user = srv.login(user.username, PASSWORD)
    answer = srv.call("GetUploadHandlerStatus", authenticationTicket=other_ticket_same_user,
                      uploadHandler=handler)
    assert answer.error == NOT_FOUND
    assert srv.call("GetUploadHandlerStatus", authenticationTicket=ticket,
                    uploadHandler=handler).ok


def test_malformed_handler_is_refused_before_the_ticket_is_looked_at(srv):
    answer = srv.call("DeleteUploadHandler", authenticationTicket="nonsense",
                      UploadHandler="not-a-guid")
    assert answer.error == "Invalid upload handler."
    assert answer["errorCode"] == "4000"


def test_unknown_handler_of_a_valid_ticket(srv, ticket):
    answer = srv.call("DeleteUploadHandler", authenticationTicket=ticket,
                      UploadHandler=str(uuid.uuid4()))
    assert answer.error == NOT_FOUND
    assert answer.tag == "response"


def test_delete_discards_the_handler_and_its_staged_bytes(srv, ticket):
    handler = srv.create_handler(ticket)
    srv.send_chunk(ticket, handler, b"abc", last=False)
    staged = get_staging().path(handler)
    assert staged.exists()
    answer = srv.call("DeleteUploadHandler", authenticationTicket=ticket, UploadHandler=handler)
    assert answer.ok
    assert list(answer.element.attrib) == ["success", "error"]
    assert not staged.exists()
    assert not UploadHandler.objects.filter(pk=handler).exists()
    again = srv.call("DeleteUploadHandler", authenticationTicket=ticket, UploadHandler=handler)
    assert again.error == NOT_FOUND


def test_delete_succeeds_when_the_staged_data_is_already_gone(srv, ticket):
    handler = srv.create_handler(ticket)
    get_staging().path(handler).unlink()
    assert srv.call("DeleteUploadHandler", authenticationTicket=ticket, UploadHandler=handler).ok


@pytest.mark.parametrize("field, age", [("last_activity_at", timedelta(days=1, seconds=1)),
                                        ("created_at", timedelta(days=7, seconds=1))])
def test_idle_or_old_handlers_expire(srv, field, age):
    handler = UploadHandlerFactory()
    UploadHandler.objects.filter(pk=handler.pk).update(**{field: timezone.now() - age})
    get_staging().open(str(handler.pk), create=True).close()
    answer = srv.call("GetUploadHandlerStatus", authenticationTicket=str(handler.ticket.key),
                      uploadHandler=str(handler.pk))
    assert answer.error == NOT_FOUND
    assert UploadHandler.objects.get(pk=handler.pk).state == UploadHandler.State.EXPIRED
    assert not get_staging().path(str(handler.pk)).exists()


def test_status_calls_do_not_keep_a_handler_alive(srv, ticket):
    handler = srv.create_handler(ticket)
    before = UploadHandler.objects.get(pk=handler).last_activity_at
    srv.call("GetUploadHandlerStatus", authenticationTicket=ticket, uploadHandler=handler)
    assert UploadHandler.objects.get(pk=handler).last_activity_at == before


def test_a_full_staging_disk_refuses_new_handlers_clearly(srv, ticket, monkeypatch):
    import errno

    from chunked_upload.staging import StagingError
    from chunked_upload.staging.local import LocalStaging

    def full(self, path):
        raise StagingError("cannot create staged file: No space left on device", errno.ENOSPC)

    monkeypatch.setattr(LocalStaging, "_create", full)
    answer = srv.call("CreateUploadHandler", authenticationTicket=ticket, PreferedChunkSize="0")
    assert (answer.error, answer["errorCode"]) == ("Limit exceeded: staging space.", "4130")
    assert not UploadHandler.objects.exists()
