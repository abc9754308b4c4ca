"""The chunk path's prepared statements read and write exactly what the ORM does."""

import gc
import uuid
import weakref
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chunked_upload.engine import prepared
from chunked_upload.engine.prepared import PreparedGet
from chunked_upload.models import Chunk, Ticket, UploadHandler
from tests.factories import TicketFactory, UploadHandlerFactory

pytestmark = pytest.mark.django_db

BY_HASH = PreparedGet(Ticket, "key_hash", "0" * 64, related=("user",))
LOCK = PreparedGet(UploadHandler, "pk", uuid.UUID(int=0), for_update=True)


def fields(obj):
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_get_reads_what_the_orm_reads():
    handler = UploadHandlerFactory(sha256_state=b"\x01state", completed_at=timezone.now())
    with transaction.atomic():
        found = LOCK.get(handler.pk, "default")
    assert fields(found) == fields(UploadHandler.objects.get(pk=handler.pk))
    assert isinstance(found.id, uuid.UUID)
    assert found._state.adding is False
    assert found._state.db == "default"


def test_get_attaches_related_rows():
    ticket = TicketFactory(revoked_at=timezone.now())
    found = BY_HASH.get(ticket.key_hash, "default")
    assert fields(found) == fields(Ticket.objects.get(pk=ticket.pk))
    with CaptureQueriesContext(connection) as queries:
        user = found.user
    assert len(queries) == 0  # joined in, as select_related would
    assert fields(user) == fields(ticket.user)


def test_get_of_a_missing_row_is_none():
    assert BY_HASH.get("f" * 64, "default") is None


def test_get_runs_one_statement():
    ticket = TicketFactory()
    BY_HASH.get(ticket.key_hash, "default")  # compiled on first use
    with CaptureQueriesContext(connection) as queries:
        BY_HASH.get(ticket.key_hash, "default")
    assert len(queries) == 1


@pytest.mark.django_db(transaction=True)
def test_locking_get_needs_a_transaction():
    handler = UploadHandlerFactory()
    with pytest.raises(TransactionManagementError):
        LOCK.get(handler.pk, "default")


def test_insert_stores_what_save_stores():
    handler = UploadHandlerFactory()
    chunk = Chunk(handler=handler, index=3, offset=7, length=11, crc32=0xFFFFFFFF)
    prepared.insert(chunk, "default")
    assert chunk.pk is not None
    assert chunk._state.adding is False
    stored = Chunk.objects.get(pk=chunk.pk)
    assert fields(stored) == fields(chunk)
    assert stored.received_at is not None  # auto_now_add, filled in as save() would


def test_update_writes_only_the_named_fields():
    handler = UploadHandlerFactory(chunk_count=1)
    later = timezone.now() + timedelta(hours=1)
    handler.committed_size, handler.sha256_state, handler.last_activity_at = 5, b"\x00s", later
    handler.chunk_count = 99  # not named: must not be written
    prepared.update(handler, ["committed_size", "sha256_state", "last_activity_at"], "default")
    stored = UploadHandler.objects.get(pk=handler.pk)
    assert (stored.committed_size, bytes(stored.sha256_state)) == (5, b"\x00s")
    assert stored.last_activity_at == later
    assert stored.chunk_count == 1


def test_update_of_a_deleted_row_fails():
    handler = UploadHandlerFactory()
    UploadHandler.objects.filter(pk=handler.pk).delete()
    with pytest.raises(DatabaseError):
        prepared.update(handler, ["committed_size"], "default")


def test_converters_are_looked_up_once_per_connection(monkeypatch):
    ticket = TicketFactory(revoked_at=timezone.now())
    BY_HASH.get(ticket.key_hash, "default")  # compiled, converters included

    def looked_up_again(*args):
        raise AssertionError("converters looked up for a row")

    monkeypatch.setattr(prepared, "_converters", looked_up_again)
    found = BY_HASH.get(ticket.key_hash, "default")
    assert fields(found) == fields(Ticket.objects.get(pk=ticket.pk))  # still converted


def test_compiled_statements_do_not_keep_a_connection_alive():
    # Each thread of a threaded server has its own connection object; what is
    # compiled for one (converters bound to it) must go when it goes.
    other = connections.create_connection("default")
    assert BY_HASH._compile(other, "default") is not None
    prepared._cached_sql(other, ("probe",), lambda: "SELECT 1")
    gone = weakref.ref(other)
    del other
    gc.collect()
    assert gone() is None
