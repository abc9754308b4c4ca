"""Upload handlers made through the engine, for the expiry and admin tests."""

from __future__ import annotations

import threading
import zlib
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from chunked_upload.engine import uploads
from chunked_upload.models import UploadHandler
from chunked_upload.staging import get_staging
from tests.factories import TicketFactory


def make_handler(data: bytes = b"", *, idle=timedelta(0), age=None, last=False, ticket=None):
    """An upload handler with ``data`` committed, idle for ``idle``, created ``age`` ago."""
    handler = uploads.create_handler(ticket or TicketFactory(), 0)
    if data or last:
        with uploads.ChunkAppend(handler.ticket, handler.id) as append:
            append.write(data)
            append.commit(zlib.crc32(data), last_chunk=last, chunk_offset=None)
    now = timezone.now()
    UploadHandler.objects.filter(pk=handler.pk).update(
        last_activity_at=now - idle, created_at=now - (age or idle)
    )
    return UploadHandler.objects.get(pk=handler.pk)


def hold_chunk_open(handler, locked: threading.Event, release: threading.Event) -> None:
    """Append 5 bytes to ``handler``, holding its lease until ``release`` is set."""
    try:
        with uploads.ChunkAppend(handler.ticket, handler.pk) as append:
            locked.set()
            release.wait(10)
            append.write(b"b" * 5)
            append.commit(zlib.crc32(b"b" * 5), last_chunk=False, chunk_offset=None)
    finally:
        connection.close()


def staged_keys() -> dict[str, int]:
    """Every staged file's key with its size."""
    return dict(get_staging().keys())
