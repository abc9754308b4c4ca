"""Reading documents back in chunks: download handlers.

A download handler only names a version; chunks are read straight from
document storage, so opening one never copies the document.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core.files import File
from django.utils import timezone

from ..conf import get_config
from ..documents import document_storage, read_range
from ..exceptions import AccessDenied, DocumentNotFound, DownloadHandlerNotFound, InvalidParameter
from ..models import Document, DocumentVersion, DownloadHandler, Folder, Ticket
from . import limits
from .checksums import crc32
from .handlers import in_scope
from .paths import DocumentPath
from .permissions import get_policy, refuse_read
from .uploads import clamp_chunk_size


@dataclass(frozen=True)
class DownloadChunk:
    """One DownloadFileChunk answer."""

    data: bytes
    file_length: int
    last: bool

    @property
    def crc32(self) -> int:
        return crc32(self.data)


def open_download(
    ticket: Ticket, path: DocumentPath, preferred_chunk_size: int | None,
    version_number: int | None = None,
) -> DownloadHandler:
    """GetDownloadHandler(ByVersion): a handler over the latest or a given version."""
    document = _find_document(path)
    if document is None:
        raise DocumentNotFound
    if not get_policy().can_read(ticket.user, document):
        raise refuse_read()
    versions = document.versions.order_by("-number")
    if version_number is not None:
        versions = versions.filter(number=version_number)
    version = versions.first()
    if version is None:
        raise DocumentNotFound
    limits.check_new_download(ticket.user_id)
    return DownloadHandler.objects.create(
        owner_id=ticket.user_id,
        ticket=ticket,
        version=version,
        chunk_size=clamp_chunk_size(preferred_chunk_size),
        expires_at=timezone.now() + timedelta(seconds=get_config()["DOWNLOAD_HANDLER_LIFETIME"]),
    )


def read_chunk(
    ticket: Ticket, handler_id: uuid.UUID, start_offset: int, chunk_size: int | None
) -> DownloadChunk:
    """DownloadFileChunk: up to ``chunk_size`` bytes from ``start_offset``."""
    handler = _find_handler(ticket, handler_id)
    version: DocumentVersion = handler.version
    if not get_policy().can_read(ticket.user, version.document):  # revoked meanwhile?
        raise AccessDenied
    if start_offset < 0 or start_offset > version.size:
        raise InvalidParameter("StartOffset")
    size = handler.chunk_size if not chunk_size or chunk_size <= 0 else clamp_chunk_size(chunk_size)
    size = min(size, version.size - start_offset)
    data = read_range(document_storage(), version.storage_name, start_offset, size)
    return DownloadChunk(data, version.size, start_offset + len(data) >= version.size)


def open_content(version: DocumentVersion) -> File:
    """The whole content of ``version``, opened for reading from the document
    storage (FileNotFoundError when it is missing there)."""
    return document_storage().open(version.storage_name, "rb")


def delete_download(ticket: Ticket, handler_id: uuid.UUID) -> None:
    """DeleteDownloadHandler."""
    _find_handler(ticket, handler_id).delete()


def _find_handler(ticket: Ticket, handler_id: uuid.UUID) -> DownloadHandler:
    handler = (
        DownloadHandler.objects.select_related("version__document").filter(pk=handler_id).first()
    )
    if handler is None or not in_scope(handler, ticket) or not handler.is_live(timezone.now()):
        raise DownloadHandlerNotFound
    return handler


def _find_document(path: DocumentPath) -> Document | None:
    if path.document_id is not None:
        return Document.objects.filter(pk=path.document_id).first()
    try:
        folder = Folder.objects.walk(path.folders)
    except Folder.DoesNotExist:
        return None
    return Document.objects.named(folder, path.name).first()
