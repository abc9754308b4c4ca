"""UploadFileChunk: the chunk's bytes go from the request body to the staging
file as they arrive.

The chunk streams into the handler's staged file when the ticket and the
handler come before it in the body, as in every vendor example and every
WSDL-generated client. A client that sends them after the chunk has its chunk
spilled to a temporary file first and appended once they are known: correct,
just one copy slower.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from contextlib import ExitStack
from typing import Any, BinaryIO, Protocol

from django.http import HttpRequest

from ..conf import get_config
from ..engine.checksums import format_crc
from ..engine.uploads import ChunkAppend, ChunkResult
from ..exceptions import InvalidParameter, MissingParameter, ProtocolError
from .answers import Answer
from .bodies import Base64Decoder
from .dispatch import check_ticket, failure
from .methods import METHODS
from .params import Raw

METHOD = METHODS["UploadFileChunk"]
CHUNK = "fileChunk"
TEXT_LIMIT = 1 << 20
SPILL_PIECE = 1 << 20


class PartLike(Protocol):
    """A named value of a request, read whole or streamed."""

    name: str

    @property
    def is_file(self) -> bool: ...

    def read_text(self, limit: int = ...) -> str: ...

    def iter_bytes(self) -> Iterable[bytes | memoryview]: ...


def upload_file_chunk(parts: Iterable[PartLike], request: HttpRequest | None) -> Answer:
    """Receive one chunk from ``parts`` (in body order) and answer."""
    try:
        with ExitStack() as stack:
            receiver = _ChunkReceiver(request, stack)
            raw = Raw()
            for part in parts:
                if part.name.casefold() == CHUNK.casefold():
                    if not receiver.seen:
                        receiver.receive(part, raw)
                    continue  # a repeated chunk is drained, like any unread part
                raw.add(part.name, part.read_text(TEXT_LIMIT))
            return _answer(receiver.finish(raw))
    except Exception as exc:  # every failure must become an answer
        return failure(METHOD.root, exc)


def _answer(result: ChunkResult) -> Answer:
    if not result.accepted:
        seed_form = get_config()["CRC_MISMATCH_RESPONSE"] == "seed"
        return Answer(METHOD.root, {"success": "true" if seed_form else "false",
                                    "tryagain": "true"})
    attributes = {"tryagain": "false", "offset": str(result.offset)}
    if result.file_crc is not None:
        attributes["filehexcrc"] = format_crc(result.file_crc)
    return Answer.success(METHOD.root, attributes)


class _ChunkReceiver:
    """Where the chunk's bytes go, and what went wrong on the way."""

    def __init__(self, request: HttpRequest | None, stack: ExitStack) -> None:
        self.request = request
        self.stack = stack
        self.seen = False
        self.valid = True
        self.append: ChunkAppend | None = None
        self.open_error: ProtocolError | None = None
        self.spill: BinaryIO | None = None

    def receive(self, part: PartLike, raw: Raw) -> None:
        self.seen = True
        sink = self._open(raw)
        decoder = None if part.is_file else Base64Decoder()
        for piece in part.iter_bytes():
            if decoder is not None:
                if not self.valid:
                    continue  # drain what is left of a bad value
                try:
                    piece = decoder.feed(piece)
                except ValueError:
                    self.valid = False
                    continue
            if sink is not None:
                sink.write(piece)
        if decoder is not None and self.valid:
            try:
                tail = decoder.finish()
            except ValueError:
                self.valid = False
            else:
                if sink is not None:
                    sink.write(tail)

    def _open(self, raw: Raw) -> Any:
        if raw.find("uploadHandler") is None or raw.find(METHOD.ticket.name) is None:
            self.spill = self.stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
            return self.spill
        try:
            handler_id = METHOD.params[0].value(raw)
            ticket = check_ticket(METHOD, raw, self.request)
            self.append = self.stack.enter_context(ChunkAppend(ticket, handler_id))
        except ProtocolError as exc:
            self.open_error = exc
        return self.append

    def finish(self, raw: Raw) -> ChunkResult:
        values = {}
        for param in METHOD.params:  # the contract's order decides which error wins
            if param.name == CHUNK:
                if not self.seen:
                    raise MissingParameter(CHUNK)
                if not self.valid:
                    raise InvalidParameter(CHUNK)
            else:
                values[param.name] = param.value(raw)
        if self.spill is not None:
            self._replay_spill(raw)
        if self.open_error is not None:
            raise self.open_error
        return self.append.commit(values["chunkHEXCRC"], values["lastChunk"], values["chunkOffset"])

    def _replay_spill(self, raw: Raw) -> None:
        spill, self.spill = self.spill, None
        sink = self._open(raw)
        if sink is None:
            return
        spill.seek(0)
        while piece := spill.read(SPILL_PIECE):
            sink.write(piece)
