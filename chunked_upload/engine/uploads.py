"""Upload handlers: create, append a chunk, status, delete.

The append protocol, for one chunk (why a lease: see :mod:`.leases`):

1. lease the handler (one short committed statement; wait while another
   request has it), then open its staged bytes fenced by the lease;
2. cut off any staged bytes beyond ``committed_size`` (a crash between a
   write and its commit leaves such bytes; the client resends them);
3. write the chunk's bytes as they arrive, updating its CRC on the way; no
   transaction and no lock is held meanwhile;
4. compare the CRC; on a mismatch cut the bytes off again;
5. start the disk's writeback and, in one short transaction, insert the
   ledger row (while the disk writes), fsync, and write the new committed
   size and SHA-256 state *only if the lease is still ours*, ending it;
   then answer. So an acknowledged byte is always durable, a committed size
   never counts a byte that is not, and no committed byte ever comes from a
   request whose lease was taken over.

Quota checks (issue 14's limits) belong at the marked seams: creating a
handler, and :meth:`ChunkAppend.write` for staged bytes.
"""

from __future__ import annotations

import errno
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, transaction
from django.utils import timezone

from .. import signals
from ..conf import get_config
from ..exceptions import (
    LimitExceeded,
    OffsetMismatch,
    UploadAlreadyComplete,
    UploadHandlerNotFound,
)
from ..models import Chunk, Ticket, UploadHandler
from ..staging import StagedFile, StagingError, get_staging
from ..staging.base import StagingFenced
from . import handlers, leases, limits, prepared
from .checksums import Sha256State, crc32, crc32_combine

logger = logging.getLogger("chunked_upload")
State = UploadHandler.State


@dataclass(frozen=True)
class HandlerStatus:
    """Where an upload stands (GetUploadHandlerStatus)."""

    handler_id: uuid.UUID
    chunk_size: int
    offset: int
    chunks: int
    complete: bool
    file_crc: int
    expires_at: datetime


@dataclass(frozen=True)
class ChunkResult:
    """The outcome of one UploadFileChunk."""

    accepted: bool  # False: CRC mismatch, nothing appended, try again
    offset: int = 0
    complete: bool = False
    file_crc: int | None = None  # set once the last chunk is in


def clamp_chunk_size(preferred: int | None) -> int:
    """The negotiated chunk size: the default for 0/None, else clamped to the bounds."""
    config = get_config()
    if not preferred or preferred <= 0:
        return config["DEFAULT_CHUNK_SIZE"]
    return max(config["MIN_CHUNK_SIZE"], min(preferred, config["MAX_CHUNK_SIZE"]))


def create_handler(ticket: Ticket, preferred_chunk_size: int | None) -> UploadHandler:
    """CreateUploadHandler: a new open handler bound to ``ticket``."""
    limits.check_new_upload(ticket.user_id)
    with transaction.atomic(using=handlers.db_alias()):
        handler = UploadHandler.objects.create(
            owner_id=ticket.user_id,
            ticket=ticket,
            chunk_size=clamp_chunk_size(preferred_chunk_size),
            last_activity_at=timezone.now(),
        )
        # The staged file exists from the start, so a missing one always
        # means lost bytes, never "no chunk yet".
        try:
            get_staging().open(str(handler.id), create=True).close()
        except StagingError as exc:
            raise _staging_failure(exc) from exc
    logger.info("upload handler %s created for user %s", handler.id, ticket.user_id)
    signals.handler_created.send(UploadHandler, handler=handler)
    return handler


def status(ticket: Ticket, handler_id: uuid.UUID) -> HandlerStatus:
    """GetUploadHandlerStatus: what the server has committed."""
    with handlers.locked_handler(handler_id, ticket) as handler:
        if handler.state == State.FINALIZED:
            raise UploadHandlerNotFound
        return HandlerStatus(
            handler_id=handler.id,
            chunk_size=handler.chunk_size,
            offset=handler.committed_size,
            chunks=handler.chunk_count,
            complete=handler.state == State.COMPLETE,
            file_crc=handler.crc32,
            expires_at=handlers.expires_at(handler),
        )


def delete_handler(ticket: Ticket, handler_id: uuid.UUID) -> None:
    """DeleteUploadHandler: drop the handler and its staged bytes.

    Waits for a chunk in progress (at most until its lease runs out).
    """
    with leases.exclusively(handler_id, ticket) as handler:
        handlers.delete(handler)


class ChunkAppend:
    """One UploadFileChunk in progress, from before its first byte to its answer.

    Use as a context manager: entering leases the handler (waiting while
    another request has it); :meth:`write` takes the chunk's bytes as they
    arrive; :meth:`commit` decides and records. Leaving without a commit cuts
    the written bytes off again and ends the lease.

    A complete handler accepts no bytes, but a resend of its last chunk is
    recognised (by length and CRC) and answered as the original was.
    """

    def __init__(self, ticket: Ticket, handler_id: uuid.UUID) -> None:
        self.ticket = ticket
        self.handler_id = handler_id
        self.length = 0
        self._crc = 0
        self._staged: StagedFile | None = None
        self._leased = False
        self._failure: Exception | None = None
        config = get_config()
        self._max_chunk: int = config["MAX_CHUNK_SIZE"]
        self._max_file: int | None = config["MAX_FILE_SIZE"]
        self._room = limits.Room(None)  # the staging quotas (see .limits)

    def __enter__(self) -> ChunkAppend:
        self.handler = leases.acquire(self.handler_id, self.ticket)
        self._leased = True
        try:
            if self.handler.state == State.OPEN:
                self._room = limits.chunk_room(self.handler)
                self._open_staged()
        except BaseException:
            self._end()
            raise
        return self

    def _open_staged(self) -> None:
        handler = self.handler
        try:
            staged = get_staging().open(str(handler.id), create=False,
                                        fence=handler.lease_generation)
        except StagingFenced:
            self._failure = _TakenOver()  # we were that slow: answered in commit()
            return
        if staged is None or staged.size < handler.committed_size:
            if staged is not None:
                staged.close()
            raise StagingError(f"staged bytes of upload handler {handler.id} are missing")
        self._staged = staged
        if staged.size > handler.committed_size:
            logger.warning(
                "upload handler %s: cutting %d uncommitted bytes left by an interrupted append",
                handler.id, staged.size - handler.committed_size,
            )
        staged.truncate(handler.committed_size)
        self._base = handler.committed_size  # where a cut back returns to
        self._sha = Sha256State(bytes(handler.sha256_state) or None)

    def __exit__(self, *exc_info: object) -> None:
        self._cut_back()  # not committed: whatever this request wrote must not survive
        self._end()

    def _end(self) -> None:
        if self._staged is not None:
            self._staged.close()
            self._staged = None
        if self._leased:
            self._leased = False
            try:
                leases.release(self.handler)
            except DatabaseError:
                # The lease runs out by itself; the next request just waits for it.
                logger.exception("upload handler %s: cannot end the lease", self.handler_id)

    def write(self, data: bytes | memoryview) -> None:
        """Take the next bytes of the chunk."""
        self.length += len(data)
        self._crc = crc32(data, self._crc)
        if self._staged is None or self._failure is not None:
            return
        if self.length > self._max_chunk:
            self._failure = LimitExceeded("chunk size")
        elif self._max_file and self.handler.committed_size + self.length > self._max_file:
            self._failure = LimitExceeded("file size")
        elif not self._room.fits(self.length):
            self._failure = self._room.error()
        else:
            try:
                # Written before it is hashed: the writeback the staging starts
                # as the bytes pile up runs on the disk while this thread hashes.
                self._staged.write(data)
                self._sha.update(data)
                return
            except StagingFenced:
                self._failure = _TakenOver()
            except StagingError as exc:
                self._failure = _staging_failure(exc)
        self._cut_back()

    def commit(self, expected_crc: int, last_chunk: bool, chunk_offset: int | None) -> ChunkResult:
        """Decide about the chunk received; raises ProtocolError to refuse it."""
        handler = self.handler
        if isinstance(self._failure, _TakenOver):
            return self._after_take_over(chunk_offset)
        if self._failure is not None:
            raise self._failure
        if self.length > self._max_chunk:
            raise LimitExceeded("chunk size")
        if self._crc != expected_crc:
            return self._refuse_mismatch(expected_crc)
        if handler.state == State.COMPLETE:
            if self._is_last_chunk_again(chunk_offset):
                return self._result()
            raise UploadAlreadyComplete
        if chunk_offset is None or chunk_offset == handler.committed_size:
            try:
                return self._record(last_chunk)
            except _TakenOver:
                return self._after_take_over(chunk_offset)
        self._cut_back()
        if chunk_offset == handler.committed_size - self.length and self._is_last_chunk_again(
            chunk_offset
        ):
            return self._result()  # appended before; its answer was lost
        raise OffsetMismatch(handler.committed_size)

    def _refuse_mismatch(self, expected_crc: int) -> ChunkResult:
        self._cut_back()
        handler, received, length = self.handler, self._crc, self.length
        logger.info("upload handler %s: CRC mismatch, %d bytes refused", handler.id, length)
        signals.crc_mismatch.send(UploadHandler, handler=handler, expected=expected_crc,
                                  received=received, length=length)
        return ChunkResult(accepted=False)

    def _is_last_chunk_again(self, chunk_offset: int | None) -> bool:
        """Is this chunk the last committed one again (same place, length and CRC)?"""
        start = self.handler.committed_size - self.length
        if chunk_offset is not None and chunk_offset != start:
            return False
        last = self.handler.chunks.order_by("-index").only("offset", "length", "crc32").first()
        return (
            last is not None and last.offset == start
            and last.length == self.length and last.crc32 == self._crc
        )

    def _after_take_over(self, chunk_offset: int | None) -> ChunkResult:
        """Our lease was taken over (we were too slow): nothing of ours was appended.

        Answered from where the handler stands now: the resend of a chunk
        that another request appended meanwhile is a success, as after a lost
        answer; anything else is an offset mismatch with the committed size.
        """
        self._staged, staged = None, self._staged  # another request's bytes now
        if staged is not None:
            staged.close()
        self._leased = False
        logger.warning("upload handler %s: lease taken over, %d bytes refused",
                       self.handler_id, self.length)
        with handlers.locked_handler(self.handler_id, self.ticket) as handler:
            self.handler = handler
            if not handler.is_live:
                raise UploadHandlerNotFound
            if self._is_last_chunk_again(chunk_offset):
                return self._result()
            raise OffsetMismatch(handler.committed_size)

    def _record(self, last_chunk: bool) -> ChunkResult:
        with transaction.atomic(using=handlers.db_alias()):
            values = self._append(last_chunk)
        for name, value in values.items():  # committed: the instance follows
            setattr(self.handler, name, value)
        self._announce(self._chunk, last_chunk)
        return self._result()

    def _append(self, last_chunk: bool) -> dict[str, object]:
        """The ledger row, the fsync and the new size; the values written.

        Runs inside the commit's transaction and returns before the commit
        (a crash test pauses right after it). The disk writes the tail while
        the ledger row goes in.
        """
        handler, alias = self.handler, handlers.db_alias()
        limits.check_chunk(handler, self.length)
        self._staged.start_sync()
        now = timezone.now()
        self._chunk = prepared.insert_chunk(
            handler.id, handler.chunk_count, handler.committed_size, self.length, self._crc,
            now, alias,
        )
        try:
            self._staged.sync()  # durable before the commit
        except StagingFenced:
            raise _TakenOver from None  # a backend that refuses only now (S3's)
        except StagingError as exc:
            raise _staging_failure(exc) from exc
        values: dict[str, object] = {
            "crc32": crc32_combine(handler.crc32, self._crc, self.length),
            "committed_size": handler.committed_size + self.length,
            "chunk_count": handler.chunk_count + 1,
            "sha256_state": self._sha.to_bytes(),
            "last_activity_at": now,
            "lease_expires_at": None,  # the lease ends with the commit
        }
        if last_chunk:
            values.update(state=State.COMPLETE, completed_at=now)
        if not prepared.update_leased(handler.id, handler.lease_generation, values, alias,
                                      state=State.OPEN):
            raise _TakenOver  # rolls the ledger row back
        # Committed from here on (unless the commit itself fails): nothing to
        # cut back, no lease to end.
        self._staged.close()
        self._staged, self._leased = None, False
        return values

    def _announce(self, chunk: Chunk, last_chunk: bool) -> None:
        signals.chunk_accepted.send(UploadHandler, handler=self.handler, chunk=chunk)
        if last_chunk:
            logger.info("upload handler %s complete: %d bytes in %d chunks",
                        self.handler.id, self.handler.committed_size, self.handler.chunk_count)
            signals.upload_completed.send(UploadHandler, handler=self.handler)

    def _result(self) -> ChunkResult:
        complete = self.handler.state == State.COMPLETE
        return ChunkResult(
            accepted=True,
            offset=self.handler.committed_size,
            complete=complete,
            file_crc=self.handler.crc32 if complete else None,
        )

    def _cut_back(self) -> None:
        if self._staged is not None:
            try:
                self._staged.truncate(self._base)
            except StagingFenced:
                pass  # another request has the bytes now: they are its to cut
            except StagingError:
                # The next request that leases the handler cuts them off.
                logger.exception("upload handler %s: cannot cut back staged bytes", self.handler.id)


class _TakenOver(Exception):
    """Our lease was taken over by another request (internal to the append)."""


def _staging_failure(exc: StagingError) -> Exception:
    """A full staging area is the client's limit; any other failure is ours."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return LimitExceeded("staging space")
    return exc
