"""Document storage: where finalized versions live, reached only through the
Storage API of the ``STORAGES`` alias named by ``DOCUMENT_STORAGE``."""

from __future__ import annotations

import uuid

from django.core.files.storage import Storage, storages

from .conf import get_config


def document_storage() -> Storage:
    """The configured document storage."""
    return storages[get_config()["DOCUMENT_STORAGE"]]


def version_name(handler_id: uuid.UUID) -> str:
    """The document-storage name under which a finalize stores a handler's bytes.

    Known from the handler's creation on, so a staging backend may put the
    bytes where they will stay (see :mod:`chunked_upload.staging.s3`).
    """
    return f"{get_config()['DOCUMENT_STORAGE_PREFIX']}/{handler_id.hex[:2]}/{handler_id.hex}"


def read_range(storage: Storage, name: str, offset: int, length: int) -> bytes:
    """Up to ``length`` bytes of ``name`` from ``offset``.

    A storage that can fetch a byte range by itself says so with a
    ``read_range(name, offset, length)`` method (see
    :class:`chunked_upload.contrib.s3.RangedS3Storage`); any other is opened,
    seeked and read, which is cheap for local files.
    """
    ranged = getattr(storage, "read_range", None)
    if ranged is not None:
        return ranged(name, offset, length)
    with storage.open(name, "rb") as content:
        content.seek(offset)
        return content.read(length)
