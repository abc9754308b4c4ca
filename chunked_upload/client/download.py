"""Downloading: a document streamed to a file, chunk by chunk, verified, resumable.

The bytes go to ``DEST.part`` (next to it, ``DEST.part.json`` says which
document, version, size and CRC they belong to) and are renamed to
``DEST`` only once the size and the CRC-32 of the whole file match the
server's (like ``cp``, it leaves flushing to the disk to the system). A
download that stopped half-way goes on from the end of the partial file
if the document is still the same version.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import IntegrityError, ServerError
from .progress import ProgressCallback
from .protocol import DEFAULT_CHUNK_SIZE, Answer, crc32, decode_base64, format_crc, parse_crc
from .reader import crc_of_prefix
from .session import Session, TransientError

HANDLER_GONE = ("Download handler not found or expired.", "Invalid download handler.")


@dataclass(frozen=True)
class DownloadResult:
    """A finished download: where it went and what it was."""

    path: str  # the document path (or ``~D{id}``) asked for
    destination: str
    size: int
    crc32: int
    version: int | None  # the version number asked for (None: the latest)
    seconds: float
    resumed_at: int = 0

    @property
    def rate(self) -> float:
        """Bytes per second received by this run."""
        return (self.size - self.resumed_at) / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "crc32": format_crc(self.crc32), "rate": round(self.rate)}


def document_path(document: str | int) -> str:
    """A path for the protocol: ``/Folder/name`` as is, a document id as ``~D{id}``."""
    return f"~D{document}" if isinstance(document, int) else document


def download(session: Session, document: str | int,
             destination: str | os.PathLike[str] | None = None, *, version: int | None = None,
             chunk_size: int = DEFAULT_CHUNK_SIZE,
             progress: ProgressCallback | None = None) -> DownloadResult:
    """Download ``document`` (a path such as ``/Folder/name`` or a document id).

    ``version`` is the version number (1, 2, …; default: the latest).
    ``destination`` is a file, or a directory to put the document's name
    in (default: the current directory). An earlier partial download of
    the same version to the same destination is continued.
    """
    started = time.monotonic()
    path = document_path(document)
    handler = _open(session, path, version, chunk_size)
    target = _target(destination, handler.get("AlterDocumentName") or path.rsplit("/", 1)[-1])
    part = target.with_name(target.name + ".part")
    meta = target.with_name(target.name + ".part.json")
    size, expected = handler.integer("Size"), parse_crc(handler["CRC32"])
    identity = {"path": path, "version": handler.get("VersionNumber"), "size": size,
                "crc32": handler["CRC32"]}
    offset = _partial(part, meta, identity, size)
    resumed_at = offset
    crc = 0
    if offset:
        with open(part, "rb") as file:
            crc = crc_of_prefix(file, offset, chunk_size)
    meta.write_text(json.dumps(identity))
    with open(part, "r+b" if offset else "wb") as file:
        file.truncate(offset)
        file.seek(offset)
        if progress:
            progress(offset, size)
        while offset < size:
            data, handler = _chunk(session, handler, path, version, offset, chunk_size)
            file.write(data)
            offset, crc = offset + len(data), crc32(data, crc)
            del data  # not alive while the next chunk arrives: memory is one chunk less
            if progress:
                progress(offset, size)
    if (offset, crc) != (size, expected):
        part.unlink(missing_ok=True)  # a partial file that is wrong is no use to resume
        meta.unlink(missing_ok=True)
        raise IntegrityError(f"{path}: received {offset} bytes with CRC {format_crc(crc)}, "
                             f"the server has {size} bytes with CRC {handler['CRC32']}")
    os.replace(part, target)
    meta.unlink(missing_ok=True)
    with contextlib.suppress(ServerError):  # it expires anyway
        session.call("DeleteDownloadHandler", DownloadHandler=handler["downloadhandler"])
    return DownloadResult(path, str(target), size, crc, version, time.monotonic() - started,
                          resumed_at)


def _open(session: Session, path: str, version: int | None, chunk_size: int) -> Answer:
    if version is None:
        return session.call("GetDownloadHandler", Path=path, PreferedChunkSize=chunk_size)
    return session.call("GetDownloadHandlerByVersion", Path=path, VersionNumber=version,
                        PreferedChunkSize=chunk_size)


def _chunk(session: Session, handler: Answer, path: str, version: int | None, offset: int,
           chunk_size: int, renewed: bool = False) -> tuple[bytes, Answer]:
    """The chunk at ``offset``, checked against its CRC (a damaged one is fetched again)."""

    def attempt() -> bytes:
        answer = session.once("DownloadFileChunk", {
            "DownloadHandler": handler["downloadhandler"], "StartOffset": offset,
            "ChunkSize": handler.get("ChunkSize") or chunk_size})
        data = decode_base64(answer.text)
        if not data:
            raise IntegrityError(f"{path}: the server sent an empty chunk at {offset}")
        if crc32(data) != parse_crc(answer["chunkCRC32"]):
            raise TransientError(f"DownloadFileChunk at {offset}: the chunk arrived damaged")
        return data

    try:
        return session.retrying(f"DownloadFileChunk at {offset}", attempt), handler
    except ServerError as error:
        if error.error not in HANDLER_GONE or renewed:
            raise
    # The handler expired under a long download: a new one, if the document is the same.
    fresh = _open(session, path, version, chunk_size)
    if (fresh["Size"], fresh["CRC32"]) != (handler["Size"], handler["CRC32"]):
        raise IntegrityError(f"{path}: the document changed during the download")
    return _chunk(session, fresh, path, version, offset, chunk_size, renewed=True)


def _target(destination: str | os.PathLike[str] | None, name: str) -> Path:
    if destination is None:
        return Path.cwd() / name
    target = Path(destination)
    return target / name if target.is_dir() else target


def _partial(part: Path, meta: Path, identity: Mapping[str, object], size: int) -> int:
    """Bytes of an earlier download of the same version to go on from (0: none)."""
    try:
        if json.loads(meta.read_text()) == identity:
            return min(part.stat().st_size, size)
    except (OSError, ValueError):
        pass
    return 0
