"""The chunk path's plain SQL reads and writes exactly what the ORM does."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chunked_upload.engine import prepared
from chunked_upload.models import Chunk, Ticket, UploadHandler
from tests.factories import TicketFactory, UploadHandlerFactory

pytestmark = pytest.mark.django_db

needs_returning = pytest.mark.skipif(not prepared.has_returning("default"),
                                     reason="the database has no RETURNING: the ORM path runs")


def fields(obj, names=None):
    names = names or [field.attname for field in obj._meta.concrete_fields]
    return {name: getattr(obj, name) for name in names}


def lease(handler, *, now=None, scope=None):
    now = now or timezone.now()
    return prepared.take_lease(
        handler.pk, scope or ("ticket_id", handler.ticket_id), now=now,
        until=now + timedelta(seconds=10), idle_since=now - timedelta(days=1),
        born_since=now - timedelta(days=7), using="default",
    )


def test_a_ticket_and_its_user_are_read_as_the_orm_reads_them_in_one_statement():
    ticket = TicketFactory(revoked_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        found = prepared.ticket_with_user(ticket.key_hash, "default")
        assert found.is_live() is False  # revoked, read as a date-time
        assert found.credentials_current() and found.user.is_active is True
    assert len(queries) == 1  # what the check reads of the user is joined in
    assert fields(found) == fields(Ticket.objects.get(pk=ticket.pk))
    # The user's other fields load on access, as with only().
    assert fields(found.user) == fields(type(found.user).objects.get(pk=ticket.user_id))


def test_a_live_ticket_read_in_plain_sql_is_live():
    ticket = TicketFactory()
    assert prepared.ticket_with_user(ticket.key_hash, "default").is_live()


def test_a_missing_ticket_is_none():
    assert prepared.ticket_with_user("f" * 64, "default") is None


@needs_returning
def test_a_lease_reads_what_the_orm_reads_and_counts_the_generation_up():
    handler = UploadHandlerFactory(sha256_state=b"\x01state", committed_size=9, chunk_count=2,
                                   crc32=0xFFFFFFFF, lease_generation=41)
    leased = lease(handler)
    stored = UploadHandler.objects.get(pk=handler.pk)
    names = ["id", "ticket_id", *prepared.LEASED_FIELDS]
    assert fields(leased, names) == fields(stored, names)
    assert (leased.lease_generation, leased.sha256_state) == (42, b"\x01state")
    assert stored.lease_expires_at > timezone.now()
    assert leased.owner_id == stored.owner_id  # deferred: loads on access


@needs_returning
def test_a_running_lease_an_expired_handler_or_another_ticket_get_no_lease():
    handler = UploadHandlerFactory()
    assert lease(handler) is not None
    assert lease(handler) is None  # the first one runs
    assert lease(handler, now=timezone.now() + timedelta(seconds=11)) is not None  # ran out
    idle = UploadHandlerFactory(last_activity_at=timezone.now() - timedelta(days=2))
    assert lease(idle) is None
    assert lease(handler, scope=("ticket_id", TicketFactory().pk)) is None
    UploadHandler.objects.filter(pk=handler.pk).update(state=UploadHandler.State.FINALIZED,
                                                       lease_expires_at=None)
    assert lease(handler) is None


def test_insert_chunk_stores_what_save_stores():
    handler = UploadHandlerFactory()
    now = timezone.now()
    chunk = prepared.insert_chunk(handler.pk, 3, 7, 11, 0xFFFFFFFF, now, "default")
    assert chunk.pk is not None
    assert fields(Chunk.objects.get(pk=chunk.pk)) == fields(chunk)
    assert chunk.received_at == now


def test_update_leased_writes_only_under_its_own_generation_and_state():
    handler = UploadHandlerFactory(chunk_count=1, lease_generation=5)
    later = timezone.now() + timedelta(hours=1)
    values = {"committed_size": 5, "sha256_state": b"\x00s", "last_activity_at": later}
    assert not prepared.update_leased(handler.pk, 4, values, "default")
    assert not prepared.update_leased(handler.pk, 5, values, "default", state="complete")
    assert prepared.update_leased(handler.pk, 5, values, "default", state="open")
    stored = UploadHandler.objects.get(pk=handler.pk)
    assert (stored.committed_size, bytes(stored.sha256_state)) == (5, b"\x00s")
    assert (stored.last_activity_at, stored.chunk_count) == (later, 1)


def test_update_leased_of_a_deleted_row_writes_nothing():
    handler = UploadHandlerFactory()
    UploadHandler.objects.filter(pk=handler.pk).delete()
    assert not prepared.update_leased(handler.pk, 0, {"committed_size": 1}, "default")
