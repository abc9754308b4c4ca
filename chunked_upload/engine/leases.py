"""Leases: one request at a time has a handler's staged bytes, and no lock is
held while a client sends them.

A chunk's body may take any time to arrive, and a client may stall half-way.
Holding the handler's row lock meanwhile (as this app once did) held a
transaction open on PostgreSQL and, on SQLite, where that lock is the whole
database's write lock, froze every other user's writes. So an append is three
steps, none of which waits for the client inside a transaction:

1. **Lease** (one short statement, committed): the handler's row gets
   ``lease_generation + 1`` and ``lease_expires_at = now + CHUNK_LEASE_TIMEOUT``,
   only if no other lease is running. A request that finds one waits (polling,
   outside any transaction) until it is released or has run out, then takes
   the handler over.
2. **Stream** into staging, fenced by the generation: the staging backend
   refuses any change through a file opened with an older generation once a
   newer one has opened it (the local backend checks a fence file under
   ``flock`` on every write). So a request whose lease was taken over can
   never again touch the bytes, even if its worker is still running.
3. **Commit** (one short transaction): the ledger row, the fsync and the new
   size, written with ``WHERE lease_generation = <ours>`` — the row lock this
   takes is the serialising point, and a request whose lease was taken over
   finds no row to update and commits nothing.

Why a lease and not a lock: a lock must be held for the whole chunk, so a
stalled client holds it as long as it likes; a lease runs out. Why a growing
generation and not a random token: the staging backend can compare it, so an
old holder is refused by the bytes' own guard, not only by the database, and
no clock decides safety: the expiry only decides *when* a waiter may take
over. A stalled or vanished client therefore holds its own handler only, and
only until ``CHUNK_LEASE_TIMEOUT``; a worker killed mid-chunk leaves a lease
that simply runs out (its uncommitted bytes are cut off by the next holder).

The grant must be durable before its holder writes (a grant lost in a crash
of the database alone could be handed out twice): do not run PostgreSQL with
``synchronous_commit = off`` for this app's connections.

Requests that only read (status) need no lease. Removals (delete, the
admin's expiry) wait for a running lease, as two requests for one handler
never interleave; the expiry sweep skips leased handlers (they are in use).
Finalize waits too and takes the next generation (:func:`exclusively`), since
it hands the bytes on. A removal that does win a race (a lease that ran out)
is safe as well: the stale holder's commit then finds no live handler.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..conf import get_config
from ..exceptions import ChunkedUploadError, UploadHandlerNotFound
from ..models import Ticket, UploadHandler
from . import handlers, prepared

logger = logging.getLogger("chunked_upload")
State = UploadHandler.State
#: Polling while another request has the lease: first and longest pause, seconds.
FIRST_PAUSE, LONGEST_PAUSE = 0.002, 0.05


class HandlerBusy(ChunkedUploadError):
    """The handler stayed leased by other requests for far longer than a lease lasts."""


def timeout() -> timedelta:
    return timedelta(seconds=get_config()["CHUNK_LEASE_TIMEOUT"])


def is_held(handler: UploadHandler, now=None) -> bool:
    """Is a lease on ``handler`` running?"""
    expires = handler.lease_expires_at
    return expires is not None and expires > (now or timezone.now())


def acquire(handler_id: uuid.UUID, ticket: Ticket) -> UploadHandler:
    """Lease the handler for one chunk; its state as the lease found it.

    Waits while another request holds it. Raises UploadHandlerNotFound for a
    handler that is missing, not the ticket's, finalized or expired (which
    it expires on the spot).
    """
    for _pause in _pauses():
        handler = _grant(handler_id, ticket)
        if handler is not None:
            return handler
    raise HandlerBusy(f"upload handler {handler_id} stayed leased")


def _pauses() -> Iterator[None]:
    """Yield until the caller stops, pausing between tries; give up eventually."""
    # Leases run out, so a waiter gets its turn within a lease timeout, unless
    # others keep taking turns: far beyond that, something is wrong.
    give_up = time.monotonic() + 4 * timeout().total_seconds() + 10
    pause = FIRST_PAUSE
    while True:
        yield
        if time.monotonic() > give_up:
            return
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)


def _grant(handler_id: uuid.UUID, ticket: Ticket) -> UploadHandler | None:
    now = timezone.now()
    alias = handlers.db_alias()
    if prepared.has_returning(alias):
        config = get_config()
        handler = prepared.take_lease(
            handler_id, handlers.scope(ticket), now=now, until=now + timeout(),
            idle_since=now - timedelta(seconds=config["HANDLER_IDLE_TIMEOUT"]),
            born_since=now - timedelta(seconds=config["HANDLER_MAX_AGE"]), using=alias,
        )
        if handler is not None:
            return handler
    # Not leased in one statement: find out why, in a transaction (this also
    # expires a handler past its lifetime), and lease it there if it is free.
    with handlers.locked_handler(handler_id, ticket) as handler:
        if handler.state not in (State.OPEN, State.COMPLETE):
            raise UploadHandlerNotFound
        if is_held(handler, now):
            return None
        _bump(handler, until=now + timeout())
        return handler


def _bump(handler: UploadHandler, *, until) -> None:
    """Lease a row-locked handler (inside its transaction)."""
    UploadHandler.objects.using(handlers.db_alias()).filter(pk=handler.pk).update(
        lease_generation=F("lease_generation") + 1, lease_expires_at=until)
    handler.lease_generation += 1
    handler.lease_expires_at = until


def release(handler: UploadHandler) -> None:
    """End our lease early (nothing committed), so the next request need not wait."""
    prepared.update_leased(handler.pk, handler.lease_generation, {"lease_expires_at": None},
                           handlers.db_alias())


@contextmanager
def exclusively(handler_id: uuid.UUID, ticket: Ticket | None = None, *,
                fence: bool = False) -> Iterator[UploadHandler | None]:
    """The handler row-locked in a transaction, once no lease runs on it.

    For the requests that change a handler without streaming into it
    (finalize, delete, the admin's expiry): like any two requests for one
    handler they must not interleave, so they wait (outside the transaction)
    for a running lease to end. With ``fence`` (finalize, which hands the
    bytes on) the transaction also takes the next lease generation, so no
    earlier holder can change the bytes once the backend is opened with it.
    With a ticket, a missing or foreign handler raises UploadHandlerNotFound;
    without, it is yielded as None.
    """
    for _pause in _pauses():
        with _locked(handler_id, ticket) as handler:
            live = handler is not None and handler.state in (State.OPEN, State.COMPLETE)
            if not (live and is_held(handler)):
                if live and fence:
                    _bump(handler, until=None)
                yield handler
                return
    raise HandlerBusy(f"upload handler {handler_id} stayed leased")


@contextmanager
def _locked(handler_id: uuid.UUID, ticket: Ticket | None) -> Iterator[UploadHandler | None]:
    if ticket is not None:
        with handlers.locked_handler(handler_id, ticket) as handler:
            yield handler
    else:
        with transaction.atomic(using=handlers.db_alias()):
            yield handlers.lock_row(handler_id)
