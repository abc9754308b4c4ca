"""Finding, locking and retiring upload handlers.

Every change to a handler's row happens while the row is locked inside a
short transaction: that lock is what serialises requests for one handler
across threads, processes and hosts. A chunk's bytes arrive outside any
transaction, under a lease recorded in the row (see :mod:`.leases`), never
under a lock.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

from .. import signals
from ..conf import get_config
from ..documents import document_storage, version_name
from ..exceptions import UploadHandlerNotFound
from ..models import Ticket, UploadHandler
from ..staging import get_staging

logger = logging.getLogger("chunked_upload")
State = UploadHandler.State


def db_alias() -> str:
    return router.db_for_write(UploadHandler)


def stored_name(handler_id: uuid.UUID) -> str:
    """The document-storage name under which a finalize stores this handler's bytes."""
    return version_name(handler_id)


def expires_at(handler: UploadHandler) -> datetime:
    """When an unfinalized handler expires: idle timeout or max age, the earlier."""
    config = get_config()
    return min(
        handler.last_activity_at + timedelta(seconds=config["HANDLER_IDLE_TIMEOUT"]),
        handler.created_at + timedelta(seconds=config["HANDLER_MAX_AGE"]),
    )


def is_expired(handler: UploadHandler, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    if handler.state == State.EXPIRED:
        return True
    if handler.state == State.FINALIZED:
        retention = timedelta(seconds=get_config()["FINALIZED_RETENTION"])
        return handler.finalized_at + retention <= now
    return expires_at(handler) <= now


def scope(ticket: Ticket) -> tuple[str, object]:
    """The ``(field, value)`` a handler must have for ``ticket`` to use it.

    HANDLER_SCOPE: ``"ticket"`` (the ticket that created it) or ``"user"``
    (any ticket of its owner).
    """
    if get_config()["HANDLER_SCOPE"] == "user":
        return "owner_id", ticket.user_id
    return "ticket_id", ticket.pk


def in_scope(handler: UploadHandler, ticket: Ticket) -> bool:
    """May ``ticket`` use ``handler``?"""
    field, value = scope(ticket)
    return getattr(handler, field) == value


def lock_row(handler_id: uuid.UUID) -> UploadHandler | None:
    """Lock and return the handler's row; call inside ``transaction.atomic``."""
    alias = db_alias()
    connection = connections[alias]
    if connection.features.has_select_for_update:
        return _locked_rows(alias, handler_id).first()
    # SQLite has no row locks: a first write takes the database's write lock,
    # which serialises us against every other writer until we commit. A
    # transaction begun IMMEDIATE (or EXCLUSIVE) holds it from BEGIN on.
    if getattr(connection, "transaction_mode", None) not in ("IMMEDIATE", "EXCLUSIVE"):
        rows = UploadHandler.objects.using(alias).filter(pk=handler_id)
        if not rows.update(state=F("state")):
            return None
    return _locked_rows(alias, handler_id).first()


def _locked_rows(alias: str, handler_id: uuid.UUID):
    return UploadHandler.objects.using(alias).filter(pk=handler_id).order_by().select_for_update()


@contextmanager
def locked_handler(handler_id: uuid.UUID, ticket: Ticket) -> Iterator[UploadHandler]:
    """The handler, row-locked in a transaction, if ``ticket`` may use it.

    A handler found past its lifetime is expired on the spot (its staged bytes
    removed) and reported as not found, like one that never existed.
    """
    with transaction.atomic(using=db_alias()):
        handler = lock_row(handler_id)
        if handler is None or not in_scope(handler, ticket):
            raise UploadHandlerNotFound
        if not is_expired(handler):
            yield handler
            return
        if handler.state in (State.OPEN, State.COMPLETE):
            expire(handler)
    raise UploadHandlerNotFound


@dataclass
class Removal:
    """What retiring a handler removed; filled in once the transaction commits."""

    handler_id: uuid.UUID
    staged_bytes: int = 0


def expire(handler: UploadHandler) -> Removal:
    """Mark a locked handler expired; its staged bytes go once that commits."""
    handed_over = _may_have_been_handed_over(handler)
    handler.state = State.EXPIRED
    handler.save(update_fields=["state"])
    return _remove_staged_after_commit(handler, signals.handler_expired, "expired", handed_over)


def expire_many(locked: Sequence[UploadHandler], *, delete_rows: bool = False) -> list[Removal]:
    """:func:`expire` for many locked handlers in one statement.

    For the expiry sweep's batches, where a query per handler would make a
    million of them an hour's work. With ``delete_rows`` the rows go (with
    their ledgers) instead of being marked; the bytes, log and signal are the same.
    """
    handed_over = [_may_have_been_handed_over(handler) for handler in locked]
    rows = UploadHandler.objects.using(db_alias()).filter(pk__in=[h.pk for h in locked])
    if delete_rows:
        rows.only("pk").delete()
    else:
        rows.update(state=State.EXPIRED)
    removals = []
    for handler, handed in zip(locked, handed_over, strict=True):
        handler.state = State.EXPIRED
        removals.append(
            _remove_staged_after_commit(handler, signals.handler_expired, "expired", handed)
        )
    return removals


def delete(handler: UploadHandler) -> Removal:
    """Delete a locked handler with its ledger; its staged bytes go once that commits."""
    handler_id = handler.id
    handed_over = _may_have_been_handed_over(handler)
    handler.delete()
    handler.id = handler_id  # receivers of the signal still see which one it was
    return _remove_staged_after_commit(handler, signals.handler_deleted, "deleted", handed_over)


def _may_have_been_handed_over(handler: UploadHandler) -> bool:
    """Could a finalize have stored this unfinalized handler's bytes already?

    A finalize stores the bytes before its transaction commits; one cut off by
    a crash leaves them under :func:`stored_name` with no version pointing
    there. Only a handler that finalize accepts (complete, or empty) can.
    """
    return handler.state == State.COMPLETE or (
        handler.state == State.OPEN and not handler.chunk_count
    )


def _remove_stored_copy(handler_id: uuid.UUID) -> None:
    document_storage().delete(stored_name(handler_id))


def _remove_staged_after_commit(
    handler: UploadHandler, signal, verb: str, handed_over: bool = False
) -> Removal:
    # The row changes first and the bytes go only after the commit: a crash in
    # between leaves a staged file no live handler owns, which the expiry
    # command sweeps; the other order could lose the bytes of a live handler.
    removal = Removal(handler.id)

    def remove() -> None:
        removal.staged_bytes = get_staging().delete(str(handler.id))
        logger.info("upload handler %s %s, %d staged bytes removed",
                    handler.id, verb, removal.staged_bytes)
        signal.send(UploadHandler, handler=handler, staged_bytes=removal.staged_bytes)

    transaction.on_commit(remove, using=db_alias())
    if handed_over:
        # Robust: a storage failure here must not turn the committed removal
        # into an error answer; the stored copy is only a leftover.
        transaction.on_commit(lambda: _remove_stored_copy(handler.id), using=db_alias(),
                              robust=True)
    return removal
