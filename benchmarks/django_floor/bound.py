"""The bound: the floor behind Django plus only the work the contract makes mandatory.

What no implementation of UploadFileChunk behind this site can avoid, and
nothing else, done with the app's own building blocks where it has them. For
each chunk, on top of what the floor behind Django does (the bytes appended,
writeback started every MiB, fsync before the answer):

- the request as protocol clients send it: a multipart form with the ticket,
  the handler, the chunk's hex CRC, ``lastChunk`` and then the chunk, read
  with the app's streaming form parser (``chunked_upload.wire.bodies``);
- the ticket checked and the handler leased in one committed ``UPDATE …
  RETURNING`` its saved state: only if the ticket is live (known, not revoked,
  not expired) and its user owns the handler, and no other request has it. A
  slow client must hold no lock (a lock would freeze SQLite), yet two
  requests must never append to one upload at once; and the lease must be
  durable before its holder writes. On the demo's SQLite that commit syncs
  the WAL;
- bytes an append that never committed left beyond the committed size cut
  off (one ``ftruncate``);
- the chunk's CRC-32, compared with the client's, and SHA-256 resumed from
  the saved state, with the app's own functions: a 1 GiB finalize within
  50 ms cannot hash the file then, and the next chunk may reach another
  worker;
- the new size, the chunk's length and CRC, the file's CRC and the SHA-256
  state written in one committed ``UPDATE``, only while the lease is still
  this request's, ending it. An acknowledged chunk must survive a power cut,
  and the file's own size cannot tell it from part of a chunk never answered;
- the answer, rendered by the app's XML renderer through DRF.

Left out, though ours does them: a fence on the staged bytes against a
holder whose lease was taken over; the ledger row (the last chunk's length
and CRC, what a resent last chunk is recognised by, sit in the handler's row
here); on every call, the checks that a ticket's user is still active and
has not changed password since (a cheaper design revokes the tickets when
that happens) and the ticket's sliding expiry; the offset check, limits,
signals and logging; waiting for a lease (a leased handler is refused). A
handler is made by its first chunk, so the bound has no CreateUploadHandler
and no finalize (ours does both inside its timing: about 10 ms per upload).

So an implementation that keeps the contract's promises can beat it only by
doing one of these steps more cheaply than the app's own building blocks:
``benchmarks.ingest --bound`` reports ours against it, and the bound against
the floor behind Django is, but for that, the best ratio any such
implementation could reach.

With ``BOUND_GUARANTEES=1`` (``benchmarks.ingest --bound-guarantees``) it
also keeps the two promises of ours that cost work on every chunk, each in
its cheapest form: the staged bytes fenced against a request whose lease was
taken over (the app's local staging, which checks the fence under ``flock``
at every write), and a ledger row per chunk, inserted in the commit's
transaction (keyed by file and index, with no other index). The others cost
nothing per chunk in their cheapest form: tickets ended by revoking them when
a user is deactivated or changes password, the sliding expiry written once a
minute, an offset compared, limits and signals with nothing configured.
"""

from __future__ import annotations

import functools
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext

from django.db import DatabaseError, connection, transaction
from django.urls import re_path
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chunked_upload.engine import tickets
from chunked_upload.engine.checksums import Sha256State, crc32, crc32_combine
from chunked_upload.exceptions import ProtocolError
from chunked_upload.models import Ticket
from chunked_upload.models.tickets import hash_ticket
from chunked_upload.staging.base import StagingFenced
from chunked_upload.staging.local import LocalStaging
from chunked_upload.wire.answers import Answer
from chunked_upload.wire.bodies import Part, Piece, iter_parts
from chunked_upload.wire.renderers import AnswerXMLRenderer

from ..floor import append_pieces

TABLE = "benchmark_bound_handler"  # rows keyed by the path of the file they describe
LEDGER = "benchmark_bound_chunk"  # with BOUND_GUARANTEES=1: a row per chunk
LEASE_SECONDS = 60.0
ROOT = "response"
_STATE = "size, file_crc, sha, generation"
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")  # a file name in FLOOR_DIR


class Refused(Exception):
    """The chunk is refused: the answer says why."""


class BoundView(APIView):
    """UploadFileChunk, doing only the contract's mandatory work (see the module)."""

    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()
    renderer_classes = (AnswerXMLRenderer,)

    def post(self, request: Request) -> Response:
        _create_table()
        parts = iter_parts(request.stream, request.META.get("CONTENT_TYPE", ""),
                           length=int(request.META.get("CONTENT_LENGTH") or 0))
        try:
            return Response(Answer.success(ROOT, self.append(parts)))
        except ProtocolError as exc:
            return Response(Answer.failure(ROOT, exc))
        except Refused as exc:
            return Response(Answer(ROOT, {"success": "false", "error": str(exc)}))

    def append(self, parts: Iterator[Part]) -> dict[str, str]:
        fields, chunk = _fields(parts)
        key = _uuid(fields.get("authenticationTicket"))
        name = fields.get("uploadHandler", "")
        if not _NAME.fullmatch(name):
            raise Refused("bad handler name")
        expected_crc = _hex(fields.get("chunkHEXCRC"))
        path = os.path.join(os.environ["FLOOR_DIR"], name)
        size, file_crc, sha_state, generation = _lease(path, key)
        sha, crc = Sha256State(bytes.fromhex(sha_state) if sha_state else None), 0

        def digest(piece: Piece) -> None:
            nonlocal crc
            crc = crc32(piece, crc)
            sha.update(piece)

        guarded = guarantees()
        try:
            if guarded:
                new_size = _fenced_append(chunk.iter_bytes(), path, size, generation, digest)
            else:
                new_size = append_pieces(chunk.iter_bytes(), path, each=digest, cut_to=size)
        except StagingFenced:
            raise Refused("lease taken over") from None
        except BaseException:  # the body cut short, say: the next lease cuts the bytes off
            _end_lease(path, generation)
            raise
        length = new_size - size
        if crc != expected_crc:
            _cut(path, size, generation, guarded)
            _end_lease(path, generation)
            raise Refused("CRC mismatch")
        file_crc = crc32_combine(file_crc, crc, length)
        # One durable commit: the UPDATE alone in autocommit, or with the ledger row.
        with (transaction.atomic() if guarded else nullcontext()), \
                connection.cursor() as cursor:
            if guarded:
                cursor.execute(
                    f"INSERT INTO {LEDGER} (path, idx, off, length, crc, received_at) "
                    f"SELECT %s, COALESCE(MAX(idx) + 1, 0), %s, %s, %s, %s FROM {LEDGER} "
                    "WHERE path = %s", [path, size, length, crc, time.time(), path])
            cursor.execute(
                f"UPDATE {TABLE} SET size = %s, length = %s, crc = %s, file_crc = %s, "
                "sha = %s, leased_until = NULL WHERE path = %s AND generation = %s",
                [new_size, length, crc, file_crc, sha.to_bytes().hex(), path, generation])
            if cursor.rowcount != 1:
                raise Refused("lease taken over")  # rolls the ledger row back
        answer = {"tryagain": "false", "offset": str(new_size)}
        if fields.get("lastChunk") == "true":
            answer["filehexcrc"] = f"{file_crc:X}"
        return answer


def guarantees() -> bool:
    """Does the bound keep the fence and the ledger too (``BOUND_GUARANTEES=1``)?"""
    return os.environ.get("BOUND_GUARANTEES") == "1"


def _fenced_append(pieces: Iterator[Piece], path: str, size: int, generation: int,
                   digest: Callable[[Piece], None]) -> int:
    """The app's local staging, fenced by the lease generation; the new size."""
    staging = LocalStaging(os.path.dirname(path))
    staged = staging.open(os.path.basename(path), create=True, fence=generation)
    try:
        staged.truncate(size)
        for piece in pieces:
            staged.write(piece)
            digest(piece)
        staged.start_sync()
        staged.sync()
        return staged.size
    finally:
        staged.close()


def _cut(path: str, size: int, generation: int, guarded: bool) -> None:
    if not guarded:
        os.truncate(path, size)
        return
    try:
        staged = LocalStaging(os.path.dirname(path)).open(os.path.basename(path),
                                                          create=False, fence=generation)
        try:
            staged.truncate(size)
        finally:
            staged.close()
    except StagingFenced:
        pass  # taken over: the bytes are the newer holder's to cut


def _fields(parts: Iterator[Part]) -> tuple[dict[str, str], Part]:
    """The text fields before the chunk, and the chunk's part (its bytes unread)."""
    fields = {}
    for part in parts:
        if part.is_file:
            return fields, part
        fields[part.name] = part.read_text()
    raise Refused("no chunk")


def _hex(value: str | None) -> int:
    try:
        return int(value or "", 16)
    except ValueError:
        raise Refused("bad CRC") from None


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _lease(path: str, key: uuid.UUID | None) -> tuple[int, int, str, int]:
    """Lease the handler of file ``path`` (made by its first chunk) if ``key`` is a live
    ticket of its owner's: one statement; the saved state."""
    now, ticket = time.time(), _ticket_sql()
    params = [hash_ticket(key) if key else "",
              Ticket._meta.get_field("expires_at").get_db_prep_value(timezone.now(), connection)]
    with connection.cursor() as cursor:  # autocommit: the grant is durable
        cursor.execute(
            f"UPDATE {TABLE} SET generation = generation + 1, leased_until = %s "
            "WHERE path = %s AND (leased_until IS NULL OR leased_until <= %s) "
            f"AND owner = ({ticket}) RETURNING {_STATE}",
            [now + LEASE_SECONDS, path, now, *params])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(
                f"INSERT INTO {TABLE} (path, owner, size, length, crc, file_crc, sha, "
                f"generation, leased_until) SELECT %s, ({ticket}), 0, 0, 0, 0, '', 1, %s "
                f"WHERE ({ticket}) IS NOT NULL ON CONFLICT (path) DO NOTHING RETURNING {_STATE}",
                [path, *params, now + LEASE_SECONDS, *params])
            row = cursor.fetchone()
    if row is None:
        tickets.check(key, renew=False)  # the app's answer for a bad ticket
        raise Refused("handler leased, or not the ticket's")
    return row


@functools.cache
def _ticket_sql() -> str:
    """The owner of a live ticket, by its key's hash and the time now."""
    quote, field = connection.ops.quote_name, Ticket._meta.get_field
    return (f"SELECT {quote(field('user').column)} FROM {quote(Ticket._meta.db_table)} "
            f"WHERE {quote(field('key_hash').column)} = %s "
            f"AND {quote(field('revoked_at').column)} IS NULL "
            f"AND {quote(field('expires_at').column)} > %s")


def _end_lease(path: str, generation: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET leased_until = NULL "
                       "WHERE path = %s AND generation = %s", [path, generation])


@functools.cache
def _create_table() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (path VARCHAR(1000) PRIMARY KEY, "
                "owner BIGINT NOT NULL, size BIGINT NOT NULL, length BIGINT NOT NULL, "
                "crc BIGINT NOT NULL, file_crc BIGINT NOT NULL, sha TEXT NOT NULL, "
                "generation BIGINT NOT NULL, leased_until DOUBLE PRECISION)")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {LEDGER} (path VARCHAR(1000) NOT NULL, "
                "idx BIGINT NOT NULL, off BIGINT NOT NULL, length BIGINT NOT NULL, "
                "crc BIGINT NOT NULL, received_at DOUBLE PRECISION NOT NULL, "
                "PRIMARY KEY (path, idx))")
    except DatabaseError:  # another worker created it at the same moment (PostgreSQL)
        pass


urlpatterns = [re_path(r"^srv\.asmx/UploadFileChunk$", BoundView.as_view())]
