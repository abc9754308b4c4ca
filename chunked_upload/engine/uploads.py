"""Upload handlers: create, append a chunk, status, delete.

The append protocol, for one chunk:

1. lock the handler's row (in a transaction), then its staged file;
2. cut off any staged bytes beyond ``committed_size`` (a crash between a
   write and its commit leaves such bytes; the client resends them);
3. write the chunk's bytes as they arrive, updating its CRC on the way;
4. compare the CRC; on a mismatch cut the bytes off again;
5. start the disk's writeback, insert the ledger row (while the disk
   writes), fsync, write the new committed size and SHA-256 state, commit,
   and only then answer. So an acknowledged byte is always durable, and a
   committed size never counts a byte that is not.
"""

from __future__ import annotations

import errno
import logging
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
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
from . import handlers, limits, prepared
from .checksums import Sha256State, crc32, crc32_combine
from .hashing import PipelinedSha256

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
    """DeleteUploadHandler: drop the handler and its staged bytes."""
    with handlers.locked_handler(handler_id, ticket) as handler:
        handlers.delete(handler)


class ChunkAppend:
    """One UploadFileChunk in progress, from before its first byte to its answer.

    Use as a context manager: entering locks the handler; :meth:`write` takes
    the chunk's bytes as they arrive; :meth:`commit` decides and records.
    Leaving without a commit cuts the written bytes off again.

    A complete handler accepts no bytes, but a resend of its last chunk is
    recognised (by length and CRC) and answered as the original was.
    """

    def __init__(self, ticket: Ticket, handler_id: uuid.UUID) -> None:
        self.ticket = ticket
        self.handler_id = handler_id
        self.length = 0
        self._crc = 0
        self._exit = ExitStack()
        self._staged: StagedFile | None = None
        self._failure: Exception | None = None
        config = get_config()
        self._max_chunk: int = config["MAX_CHUNK_SIZE"]
        self._max_file: int | None = config["MAX_FILE_SIZE"]
        self._room = limits.Room(None)  # the staging quotas (see .limits)

    def __enter__(self) -> ChunkAppend:
        with ExitStack() as stack:
            locked = handlers.locked_handler(self.handler_id, self.ticket)
            self.handler = stack.enter_context(locked)
            state = self.handler.state
            if state == State.FINALIZED:
                raise UploadHandlerNotFound
            if state == State.OPEN:
                self._room = limits.chunk_room(self.handler)
                self._open_staged(stack)
            self._exit = stack.pop_all()
        return self

    def _open_staged(self, stack: ExitStack) -> None:
        staged = get_staging().open(str(self.handler.id), create=False)
        if staged is None or staged.size < self.handler.committed_size:
            if staged is not None:
                staged.close()
            raise StagingError(f"staged bytes of upload handler {self.handler.id} are missing")
        stack.callback(staged.close)
        if staged.size > self.handler.committed_size:
            logger.warning(
                "upload handler %s: cutting %d uncommitted bytes left by an interrupted append",
                self.handler.id, staged.size - self.handler.committed_size,
            )
        staged.truncate(self.handler.committed_size)
        self._base = self.handler.committed_size  # where a cut back returns to
        self._staged = staged
        self._sha = PipelinedSha256(Sha256State(bytes(self.handler.sha256_state) or None))

    def __exit__(self, *exc_info: object) -> None:
        if self._staged is not None:
            # Not committed: whatever this request wrote must not survive.
            self._cut_back()
        self._exit.__exit__(*exc_info)

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
                self._staged.write(data)
                self._sha.update(data)
                return
            except StagingError as exc:
                self._failure = _staging_failure(exc)
        self._cut_back()

    def commit(self, expected_crc: int, last_chunk: bool, chunk_offset: int | None) -> ChunkResult:
        """Decide about the chunk received; raises ProtocolError to refuse it."""
        handler = self.handler
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
            return self._append(last_chunk)
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
        transaction.on_commit(
            lambda: signals.crc_mismatch.send(
                UploadHandler, handler=handler, expected=expected_crc, received=received,
                length=length,
            ),
            using=handlers.db_alias(),
        )
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

    def _append(self, last_chunk: bool) -> ChunkResult:
        handler = self.handler
        limits.check_chunk(handler, self.length)
        # The disk writes the tail while the ledger row goes in, and the helper
        # thread finishes the SHA-256 while the fsync waits for the disk. A
        # failure anywhere before the commit rolls the statements back and
        # (in __exit__) cuts the bytes off again.
        self._staged.start_sync()
        now = timezone.now()
        alias = handlers.db_alias()
        chunk = Chunk(
            handler=handler, index=handler.chunk_count, offset=handler.committed_size,
            length=self.length, crc32=self._crc,
        )
        prepared.insert(chunk, alias)  # Chunk.objects.create, without compiling it each time
        try:
            self._staged.sync()  # durable before the commit
        except StagingError as exc:
            raise _staging_failure(exc) from exc
        handler.crc32 = crc32_combine(handler.crc32, self._crc, self.length)
        handler.committed_size += self.length
        handler.chunk_count += 1
        handler.sha256_state = self._sha.state().to_bytes()
        handler.last_activity_at = now
        fields = ["crc32", "committed_size", "chunk_count", "sha256_state", "last_activity_at"]
        if last_chunk:
            handler.state = State.COMPLETE
            handler.completed_at = now
            fields += ["state", "completed_at"]
        prepared.update(handler, fields, alias)  # handler.save(update_fields=fields)
        self._staged = None  # nothing to cut back any more: the commit follows
        transaction.on_commit(lambda: self._announce(chunk, last_chunk), using=handlers.db_alias())
        return self._result()

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
            except StagingError:
                # The next request that locks the handler cuts them off.
                logger.exception("upload handler %s: cannot cut back staged bytes", self.handler.id)


def _staging_failure(exc: StagingError) -> Exception:
    """A full staging area is the client's limit; any other failure is ours."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return LimitExceeded("staging space")
    return exc
