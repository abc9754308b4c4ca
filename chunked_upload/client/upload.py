"""Uploading: a file sent chunk by chunk, each CRC-checked, retried, resumable.

Memory stays at about one chunk whatever the file size: chunks are read
into one reused buffer and sent from it. Every chunk carries its CRC-32 and
``chunkOffset``; an answer lost on the way is resolved by asking the server
(``GetUploadHandlerStatus``) where it stands, never by guessing. After each
acknowledged chunk the state file is rewritten, so ``resume=True`` picks
up after a crash where the server stands, once the local bytes up to there
are shown to have the server's CRC.
"""

from __future__ import annotations

import contextlib
import os
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from .errors import HandlerNotFound, IntegrityError, OffsetMismatch, ResumeError, ServerError
from .progress import ProgressCallback
from .protocol import DEFAULT_CHUNK_SIZE, Answer, crc32, format_crc, parse_crc, xml_parameters
from .reader import ChunkReader, crc_of_prefix, remaining_size
from .session import Session, TransientError
from .state import StateStore, UploadState


@dataclass(frozen=True)
class Finalizer:
    """Which finalize call ends the upload, with what metadata.

    No option: ``UploadDocumentWithHandler`` (a new document, or a new
    version of an existing one). A ``comment`` alone: ``…WithHandler1``.
    A description or keywords: ``…WithHandler3`` with ``xmlParameters``.
    ``new_document``: ``UploadNewDocumentWidthHandler``, which refuses to
    add a version to a document that exists.
    """

    comment: str | None = None
    description: str | None = None
    keywords: str | None = None
    new_document: bool = False

    def request(self, path: str, handler: str) -> tuple[str, dict[str, str]]:
        """The method and its parameters for finalizing ``handler`` at ``path``."""
        items = {"VERSIONCOMMENT": self.comment, "DESCRIPTION": self.description,
                 "KEYWORDS": self.keywords}
        if self.new_document:
            folder, _, name = path.rpartition("/")
            return "UploadNewDocumentWidthHandler", {
                "folderPath": folder or "/", "documentName": name, "uploadHandler": handler,
                "xmlParameters": xml_parameters(items)}
        base = {"path": path, "uploadHandler": handler}
        if self.description is not None or self.keywords is not None:
            return "UploadDocumentWithHandler3", {**base, "xmlParameters": xml_parameters(items)}
        if self.comment is not None:
            return "UploadDocumentWithHandler1", {**base, "versionComments": self.comment}
        return "UploadDocumentWithHandler", base


@dataclass(frozen=True)
class UploadResult:
    """A finished upload: the document and version it made, and how it went."""

    document_id: int
    version_id: int
    path: str
    size: int
    crc32: int
    handler: str
    seconds: float
    resumed_at: int = 0  # the offset an interrupted upload went on from (0: a fresh one)

    @property
    def rate(self) -> float:
        """Bytes per second sent by this run."""
        return (self.size - self.resumed_at) / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "crc32": format_crc(self.crc32), "rate": round(self.rate)}


def upload(session: Session, source: str | os.PathLike[str] | BinaryIO, path: str, *,
           chunk_size: int = DEFAULT_CHUNK_SIZE, finalizer: Finalizer | None = None,
           resume: bool = False, state: StateStore | Literal[False] | None = None,
           progress: ProgressCallback | None = None) -> UploadResult:
    """Upload ``source`` (a file path or a binary file object) to document ``path``.

    ``chunk_size`` is what the client asks for (the server may clamp it).
    ``finalizer`` picks the finalize call (default: a document or a new
    version at ``path``). For a path, a state file is kept in ``state``
    (default: :func:`~chunked_upload.client.state.default_directory`;
    ``False``: none); ``resume=True`` goes on with an interrupted upload of
    the same file to the same path if there is one, and starts afresh if
    not. ``progress(bytes_done, bytes_total)`` is called after each chunk.
    """
    job = _Upload(session, path, finalizer or Finalizer(), chunk_size, progress)
    file: BinaryIO
    with ExitStack() as stack:
        if isinstance(source, (str, os.PathLike)):
            file = stack.enter_context(open(source, "rb"))
            store = None if state is False else state or StateStore()
            job.identify(Path(source).resolve(), os.fstat(file.fileno()), store)
        else:
            if resume:
                raise ValueError("resume=True needs a file path, not a file object")
            file = source
        return job.run(file, resume)


class _Upload:
    """One upload's progress through the protocol (see :func:`upload`)."""

    def __init__(self, session: Session, path: str, finalizer: Finalizer, chunk_size: int,
                 progress: ProgressCallback | None) -> None:
        self.session, self.path, self.finalizer = session, path, finalizer
        self.wanted_chunk_size, self.progress = chunk_size, progress
        self.store: StateStore | None = None
        self.state: UploadState | None = None
        self.source: Path | None = None
        self.size: int | None = None
        self.mtime_ns = 0

    def identify(self, source: Path, stat: os.stat_result, store: StateStore | None) -> None:
        self.source, self.size, self.mtime_ns, self.store = (
            source, stat.st_size, stat.st_mtime_ns, store)

    def run(self, file: BinaryIO, resume: bool) -> UploadResult:
        started = time.monotonic()
        if self.size is None:
            self.size = remaining_size(file)
        try:
            handler, chunk_size, offset, crc, complete = self._begin(file, resume)
        except HandlerNotFound:
            if (finalized := self._finalized_already(started)) is None:
                raise
            return finalized
        resumed_at = offset
        reader = ChunkReader(file, chunk_size, None if self.size is None else self.size - offset)
        while not complete:
            chunk, last = reader.next()
            crc_after = crc32(chunk, crc)
            self._send(handler, offset, chunk, crc_after, last)
            offset, crc, complete = offset + len(chunk), crc_after, last
            self._save(offset, crc)
            if self.progress:
                self.progress(offset, self.size)
        method, params = self.finalizer.request(self.path, handler)
        answer = self.session.call(method, **params)
        if self.store and self.state:
            self.store.remove(self.state)
        return UploadResult(answer.integer("DocumentId"), answer.integer("VersionId"), self.path,
                            offset, crc, handler, time.monotonic() - started, resumed_at)

    # Starting or resuming ------------------------------------------------------
    def _begin(self, file: BinaryIO, resume: bool) -> tuple[str, int, int, int, bool]:
        """(handler, chunk size, offset, CRC so far, complete) to go on from."""
        previous = self._load()
        if previous is not None and resume:
            return self._resume(file, previous)
        if previous is not None:  # a fresh start was asked for: drop the old handler
            with contextlib.suppress(ServerError):  # gone already
                self.session.call("DeleteUploadHandler", UploadHandler=previous.handler)
        answer = self.session.call("CreateUploadHandler",
                                   PreferedChunkSize=self.wanted_chunk_size)
        handler, chunk_size = answer["UploadHandler"], answer.integer("ChunkSize")
        if self.store and self.source:
            self.state = UploadState(
                server=self.session.url, user=self.session.user or "", source=str(self.source),
                destination=self.path, size=self.size or 0, mtime_ns=self.mtime_ns,
                handler=handler, chunk_size=chunk_size, options=asdict(self.finalizer))
            self.store.save(self.state)
        return handler, chunk_size, 0, 0, False

    def _resume(self, file: BinaryIO, state: UploadState) -> tuple[str, int, int, int, bool]:
        self.state = state
        status = self.session.call("GetUploadHandlerStatus", uploadHandler=state.handler)
        committed, complete = status.integer("offset"), status.get("complete") == "true"
        chunk_size = status.integer("ChunkSize")
        if self.size is not None and committed > self.size:
            raise ResumeError(f"{self.source}: the server holds {committed} bytes, the file "
                              f"has only {self.size} now; upload it again")
        local = crc_of_prefix(file, committed, chunk_size)
        if local != parse_crc(status["filehexcrc"]):
            raise ResumeError(f"{self.source}: its first {committed} bytes are no longer "
                              "what the server holds (the file changed); upload it again")
        if complete and committed != self.size:
            raise ResumeError(f"{self.source}: the server completed the upload at "
                              f"{committed} bytes, the file now has {self.size}")
        self._save(committed, local)
        if self.progress:
            self.progress(committed, self.size)
        return state.handler, chunk_size, committed, local, complete

    def _finalized_already(self, started: float) -> UploadResult | None:
        """The result of an upload finalized by a run that died before forgetting it.

        Its handler is gone, but a repeated finalize (same handler, same
        destination) answers with the same ids; anything else: it is gone.
        """
        state = self.state
        if state is None or self.store is None or state.offset != state.size:
            return None
        method, params = self.finalizer.request(self.path, state.handler)
        try:
            answer = self.session.call(method, **params)
        except ServerError:
            return None
        self.store.remove(state)
        return UploadResult(answer.integer("DocumentId"), answer.integer("VersionId"),
                            self.path, state.size, state.crc32, state.handler,
                            time.monotonic() - started, state.size)

    def _load(self) -> UploadState | None:
        if self.store is None or self.source is None:
            return None
        return self.store.load(self.session.url, self.session.user or "", str(self.source),
                               self.path)

    def _save(self, offset: int, crc: int) -> None:
        if self.store and self.state:
            self.state.offset, self.state.crc32 = offset, crc
            # Not fsynced: the offset is a hint (resuming asks the server), and an
            # fsync amid a large write can wait for every dirty page of the disk.
            self.store.save(self.state, sync=False)

    # One chunk --------------------------------------------------------------
    def _send(self, handler: str, offset: int, chunk: memoryview, crc_after: int,
              last: bool) -> Answer:
        """Send one chunk until the server has it; its answer (or the status that says so)."""
        params = {"uploadHandler": handler, "chunkHEXCRC": format_crc(crc32(chunk)),
                  "lastChunk": "true" if last else "false", "chunkOffset": offset}
        end = offset + len(chunk)

        def attempt() -> Answer:
            try:
                answer = self.session.once("UploadFileChunk", params, chunk)
            except OffsetMismatch as error:
                if error.offset != end:
                    raise
                # Our chunk may have been committed by an attempt whose answer was
                # lost; the status says so for certain (the CRC of everything).
                if (resolved := self._resolve(handler, offset, end, crc_after, last)) is None:
                    raise
                return resolved
            if answer.get("tryagain") == "true":
                raise TransientError(f"UploadFileChunk at {offset}: the server received the "
                                     "chunk damaged (CRC mismatch); sending it again")
            if answer.integer("offset") != end:
                raise IntegrityError(f"UploadFileChunk at {offset}: the server stands at "
                                     f"{answer['offset']}, expected {end}")
            if last and parse_crc(answer["filehexcrc"]) != crc_after:
                raise IntegrityError(f"the server's CRC of the file ({answer['filehexcrc']}) "
                                     f"differs from ours ({format_crc(crc_after)})")
            return answer

        return self.session.retrying(
            f"UploadFileChunk at {offset}", attempt,
            lambda: self._resolve(handler, offset, end, crc_after, last))

    def _resolve(self, handler: str, offset: int, end: int, crc_after: int,
                 last: bool) -> Answer | None:
        """After a failed attempt: the status if the chunk is committed, None to resend."""
        status = self.session.call("GetUploadHandlerStatus", uploadHandler=handler)
        committed = status.integer("offset")
        if committed == offset:
            return None
        if (committed == end and parse_crc(status["filehexcrc"]) == crc_after
                and (status.get("complete") == "true") == last):
            return status
        raise OffsetMismatch("UploadFileChunk", f"the server stands at {committed} "
                             f"(CRC {status['filehexcrc']}), the client at {offset}",
                             attributes=dict(status.attributes))
