"""The engine against a reference model: random interleavings, every step checked.

Hypothesis drives the upload engine directly (no HTTP) with create, append
(good and bad CRCs, with and without offsets, duplicates, oversized chunks,
chunks streamed in several pieces), status, delete, expire, the expiry sweep
and finalize, on several handlers at once. A few lines of dictionaries say
what each step should answer; after every step the database, the staged
files and the stored documents must agree with them byte for byte.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chunked_upload.documents import document_storage
from chunked_upload.engine import expiry, finalize, uploads
from chunked_upload.engine.paths import parse_document_path
from chunked_upload.exceptions import (
    DocumentExists,
    LimitExceeded,
    OffsetMismatch,
    ProtocolError,
    UploadAlreadyComplete,
    UploadHandlerNotFound,
    UploadNotComplete,
)
from chunked_upload.models import Chunk, DocumentVersion, UploadHandler
from chunked_upload.staging import get_staging
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)

MAX_CHUNK, MAX_FILE = 48, 120
GONE = ("gone", "expired")  # expired: not noticed by the engine yet; answers as gone
# Hypothesis favours the first of a few choices: "mostly" is three times in four.
MOSTLY = st.sampled_from([True, True, True, False])


@dataclass
class Upload:
    """What the model knows of one handler."""

    state: str = "open"  # open, complete, finalized, expired, gone
    data: bytearray = field(default_factory=bytearray)
    chunks: list[tuple[int, int, int]] = field(default_factory=list)  # offset, length, crc
    destination: str | None = None
    ids: tuple[int, int] | None = None


class EngineModel(RuleBasedStateMachine):
    """Every rule does the step on the engine and on the model, then compares."""

    def __init__(self) -> None:
        super().__init__()
        self.ticket = TicketFactory()
        self.folder = uuid.uuid4().hex  # each run's documents apart from the others'
        self.uploads: dict[uuid.UUID, Upload] = {}
        self.documents: dict[str, list[bytes]] = {}  # path key -> version contents
        self.document_ids: dict[str, int] = {}

    def _live(self) -> list[uuid.UUID]:
        return [h for h, u in self.uploads.items() if u.state in ("open", "complete")]

    def _pick(self, data) -> uuid.UUID:
        """A handler: mostly one still in use, sometimes any (the gone answer as gone)."""
        live = self._live()
        pool = live if live and data.draw(MOSTLY, label="in use") else self.uploads
        # In creation order, never sorted: ids are random, a replay must pick the same.
        return data.draw(st.sampled_from(list(pool)), label="handler")

    @staticmethod
    def _rarely(data) -> bool:
        """True about one time in four: deletes and expiries end uploads, keep them rare."""
        return not data.draw(MOSTLY, label="rarely")

    # Steps ------------------------------------------------------------------
    @precondition(lambda self: len(self._live()) < 3)
    @rule()
    def create(self) -> None:
        handler = uploads.create_handler(self.ticket, 0)
        self.uploads[handler.id] = Upload()

    @precondition(lambda self: self.uploads)
    @rule(data=st.data())
    def append(self, data) -> None:
        handler = self._pick(data)
        upload = self.uploads[handler]
        # The length first: binary() alone favours tiny chunks, never over the limit.
        length = data.draw(st.integers(0, MAX_CHUNK + 8), label="length")
        chunk = data.draw(st.binary(min_size=length, max_size=length), label="chunk")
        committed = len(upload.data)
        offset = data.draw(st.sampled_from(
            [committed, None, committed, committed - len(chunk), committed + 1]), label="offset")
        self._send(data, handler, chunk, offset)

    @precondition(lambda self: any(u.chunks for u in self.uploads.values()))
    @rule(data=st.data())
    def resend_last_chunk(self, data) -> None:
        """The last committed chunk again, as a client whose answer was lost sends it."""
        handler = data.draw(st.sampled_from(
            [h for h, u in self.uploads.items() if u.chunks]), label="handler")
        upload = self.uploads[handler]
        start, length, _ = upload.chunks[-1]
        offset = data.draw(st.sampled_from([start, None, len(upload.data)]), label="offset")
        self._send(data, handler, bytes(upload.data[start:start + length]), offset)

    def _send(self, data, handler: uuid.UUID, chunk: bytes, offset: int | None) -> None:
        upload = self.uploads[handler]
        cuts = sorted(data.draw(st.lists(st.integers(0, len(chunk)), max_size=3), label="cuts"))
        pieces = [chunk[a:b] for a, b in zip([0, *cuts], [*cuts, len(chunk)], strict=True)]
        last = not data.draw(MOSTLY, label="not last")
        crc = zlib.crc32(chunk) ^ (0 if data.draw(MOSTLY, label="good crc") else 1)
        expected = self._expect_append(upload, pieces, crc, last, offset)

        def engine():
            with uploads.ChunkAppend(self.ticket, handler) as append:
                for piece in pieces:  # as the wire layer streams them
                    append.write(piece)
                return append.commit(crc, last, offset)

        self._compare(engine, expected)

    @precondition(lambda self: self.uploads)
    @rule(data=st.data())
    def status(self, data) -> None:
        upload = self.uploads[handler := self._pick(data)]
        expected = self._expect_gone(upload) or (
            UploadHandlerNotFound() if upload.state == "finalized" else
            (len(upload.data), len(upload.chunks), upload.state == "complete",
             zlib.crc32(upload.data)))
        self._compare(
            lambda: (lambda s: (s.offset, s.chunks, s.complete, s.file_crc))(
                uploads.status(self.ticket, handler)),
            expected)

    @precondition(lambda self: self.uploads)
    @rule(data=st.data())
    def delete(self, data) -> None:
        if not self._rarely(data):
            return
        upload = self.uploads[handler := self._pick(data)]
        expected = self._expect_gone(upload)
        self._compare(lambda: uploads.delete_handler(self.ticket, handler), expected)
        upload.state = "gone"

    @precondition(lambda self: self.uploads)
    @rule(data=st.data())
    def expire(self, data) -> None:
        """The handler's idle time runs out (the engine notices on its next look)."""
        if not self._rarely(data):
            return
        upload = self.uploads[handler := self._pick(data)]
        past = timezone.now() - timedelta(days=2)
        UploadHandler.objects.filter(pk=handler).update(last_activity_at=past)
        if upload.state in ("open", "complete"):
            upload.state = "expired"

    @rule(data=st.data())
    def sweep(self, data) -> None:
        """The expiry command runs."""
        if not self._rarely(data):
            return
        expiry.expire_all()
        for upload in self.uploads.values():
            if upload.state == "expired":
                upload.state = "gone"

    @precondition(lambda self: self.uploads)
    @rule(data=st.data(), name=st.sampled_from(["a.bin", "A.BIN", "b.bin", "sub/a.bin"]),
          new_only=st.booleans())
    def finalize(self, data, name, new_only) -> None:
        upload = self.uploads[handler := self._pick(data)]
        path = parse_document_path(f"/{self.folder}/{name}")
        destination = f"{'new' if new_only else 'path'}:{path.key}"
        expected = self._expect_finalize(upload, path.key, destination, new_only)

        def engine():
            result = finalize.finalize(self.ticket, handler, path, finalize.VersionOptions(),
                                       new_document_only=new_only)
            return result.document_id, result.version_id

        answer = self._compare(engine, expected)
        if expected == "stored":
            if upload.ids is None:
                self.documents.setdefault(path.key, []).append(bytes(upload.data))
                assert self.document_ids.setdefault(path.key, answer[0]) == answer[0]
            else:
                assert answer == upload.ids  # a replay: the same ids
            upload.state, upload.destination, upload.ids = "finalized", destination, answer

    # The model's answers ----------------------------------------------------
    def _expect_gone(self, upload: Upload):
        if upload.state in GONE:
            upload.state = "gone"  # the engine expires it on the spot
            return UploadHandlerNotFound()
        return None

    def _expect_append(self, upload: Upload, pieces, crc, last, offset):
        if gone := self._expect_gone(upload):
            return gone
        if upload.state == "finalized":
            return UploadHandlerNotFound()
        length, committed = sum(map(len, pieces)), len(upload.data)
        if upload.state == "open":
            received = 0
            for piece in pieces:  # limits are checked as the bytes stream in
                received += len(piece)
                if received > MAX_CHUNK:
                    return LimitExceeded("chunk size")
                if committed + received > MAX_FILE:
                    return LimitExceeded("file size")
        if length > MAX_CHUNK:
            return LimitExceeded("chunk size")
        chunk = b"".join(pieces)
        if crc != zlib.crc32(chunk):
            return ("refused",)
        again = bool(upload.chunks) and upload.chunks[-1] == (
            committed - length, length, crc) and offset in (None, committed - length)
        if upload.state == "complete":
            return self._replay(upload) if again else UploadAlreadyComplete()
        if offset is None or offset == committed:
            upload.chunks.append((committed, length, crc))
            upload.data += chunk
            upload.state = "complete" if last else "open"
            return self._replay(upload)
        if offset == committed - length and again:
            return self._replay(upload)
        return OffsetMismatch(committed)

    @staticmethod
    def _replay(upload: Upload):
        complete = upload.state == "complete"
        return ("accepted", len(upload.data), complete,
                zlib.crc32(upload.data) if complete else None)

    def _expect_finalize(self, upload: Upload, key: str, destination: str, new_only: bool):
        if gone := self._expect_gone(upload):
            return gone
        if upload.state == "finalized":
            return "stored" if destination == upload.destination else UploadHandlerNotFound()
        if upload.state == "open" and upload.chunks:
            return UploadNotComplete()
        if new_only and key in self.documents:
            return DocumentExists()
        return "stored"

    def _compare(self, engine, expected):
        """Run ``engine()``; its answer, after checking it against ``expected``."""
        try:
            answer = engine()
        except ProtocolError as exc:
            assert isinstance(expected, ProtocolError), (exc, expected)
            assert (type(exc), exc.text, exc.attributes) == (
                type(expected), expected.text, expected.attributes)
            return None
        assert not isinstance(expected, ProtocolError), (answer, expected)
        if isinstance(answer, uploads.ChunkResult):
            answer = (("accepted", answer.offset, answer.complete, answer.file_crc)
                      if answer.accepted else ("refused",))
        if expected != "stored":
            assert answer == expected
        return answer

    # What must hold after every step -----------------------------------------
    @invariant()
    def staged_bytes_and_ledger_match(self) -> None:
        staging = get_staging()
        for handler, upload in self.uploads.items():
            path = staging.path(str(handler))
            if upload.state in ("open", "complete"):
                row = UploadHandler.objects.get(pk=handler)
                assert (row.state, row.committed_size, row.crc32) == (
                    upload.state, len(upload.data), zlib.crc32(upload.data))
                ledger = list(Chunk.objects.filter(handler=handler).order_by("index")
                              .values_list("offset", "length", "crc32"))
                assert ledger == upload.chunks
                assert path.read_bytes() == upload.data
            elif upload.state in ("finalized", "gone"):
                assert not path.exists()

    @invariant()
    def documents_hold_what_was_sent(self) -> None:
        storage = document_storage()
        for key, contents in self.documents.items():
            stored = []
            for version in DocumentVersion.objects.filter(
                document=self.document_ids[key]
            ).order_by("number"):
                with storage.open(version.storage_name, "rb") as content:
                    stored.append(content.read())
            assert stored == contents, key


@pytest.fixture
def small_limits(config):
    config(MAX_CHUNK_SIZE=MAX_CHUNK, MAX_FILE_SIZE=MAX_FILE)


def test_the_engine_behaves_like_its_model(small_limits):
    run_state_machine_as_test(EngineModel, settings=settings(
        max_examples=25, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    ))
