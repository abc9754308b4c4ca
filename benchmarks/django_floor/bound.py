"""The bound: the floor behind Django plus only the work the contract makes mandatory.

What no implementation of UploadFileChunk behind this site can avoid, and
nothing else. For each chunk, on top of what the floor behind Django does
(the body appended, writeback started every MiB, fsync before the answer):

- the chunk's CRC-32 (the protocol checks it), with the app's own CRC-32;
- SHA-256 resumed from the saved state and saved again, with the app's own
  resumable hasher: a 1 GiB finalize within 50 ms cannot hash the file then,
  and the next chunk may reach another worker;
- the saved state read from the site's database (one ``SELECT``), and the new
  size, the chunk's CRC and the SHA-256 state written back in one committed
  statement. An
  acknowledged chunk must survive a power cut, so its size must be recorded
  durably beside the fsynced bytes (the file's own size cannot tell an
  acknowledged chunk from part of one that was never answered); on the demo's
  SQLite that commit syncs its WAL.

No ticket, no lease, no ledger row, no protocol parsing, no XML. It reads the
body as the floor behind Django does, through Django's request. So an
implementation that keeps these promises can beat it only by reading the body
more cheaply: ``benchmarks.ingest --bound`` reports ours against it, and the
bound against the floor behind Django is, but for that, the best ratio any
such implementation could reach.
"""

from __future__ import annotations

import functools
import os

from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.urls import re_path
from rest_framework.request import Request
from rest_framework.views import APIView

from chunked_upload.engine.checksums import Sha256State, crc32

from ..floor import append_body

TABLE = "benchmark_bound"


class BoundView(APIView):
    """The body streamed into the file with CRC-32 and SHA-256; the state committed."""

    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()

    def post(self, request: Request, name: str) -> HttpResponse:
        _create_table()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT sha FROM {TABLE} WHERE name = %s", [name])
            row = cursor.fetchone()
        sha = Sha256State(bytes.fromhex(row[0]) if row else None)
        crc = 0

        def digest(piece: bytes) -> None:
            nonlocal crc
            crc = crc32(piece, crc)
            sha.update(piece)

        size = append_body(request, int(request.META.get("CONTENT_LENGTH") or 0),
                           os.path.join(os.environ["FLOOR_DIR"], name), each=digest)
        with connection.cursor() as cursor:  # autocommit: one durable commit
            cursor.execute(
                f"INSERT INTO {TABLE} (name, size, crc, sha) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET size = excluded.size, crc = excluded.crc, "
                "sha = excluded.sha", [name, size, crc, sha.to_bytes().hex()])
        return HttpResponse(b"%d\n" % size, content_type="text/plain")


@functools.cache
def _create_table() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (name VARCHAR(100) PRIMARY KEY, "
                           "size BIGINT NOT NULL, crc BIGINT NOT NULL, sha TEXT NOT NULL)")
    except DatabaseError:  # another worker created it at the same moment (PostgreSQL)
        pass


urlpatterns = [re_path(r"^(?P<name>[A-Za-z0-9_.-]{1,100})$", BoundView.as_view())]
