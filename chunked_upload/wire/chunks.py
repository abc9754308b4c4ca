"""UploadFileChunk: the streaming operation of the method table.

``fileChunk`` is a streamed parameter: :func:`receive_chunk` takes its bytes
as they arrive (raw in a multipart file part, Base64 text otherwise) and
:func:`upload_file_chunk` commits them once every parameter has been checked.

The chunk streams into the handler's staged file when the ticket and the
handler come before it in the body, as in every vendor example and every
WSDL-generated client: each byte goes from the parser to staging once, its
CRC taken on the way.

No disk write before authentication: a chunk that arrives before its ticket
and handler is held in memory, like a text parameter and within the same
limit (``MAX_PARAMETER_SIZE``, 1 MiB by default), and written only once the
ticket has been checked; a larger one is refused with ``Limit exceeded:
chunk before ticket.`` as soon as it passes the limit. A chunk whose ticket
or handler is refused is drained (decoded, to report bad Base64 in the
contract's order) and written nowhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..conf import get_config
from ..engine.checksums import format_crc
from ..engine.uploads import ChunkAppend
from ..exceptions import LimitExceeded, ProtocolError
from .bodies import Base64Decoder

if TYPE_CHECKING:
    from .dispatch import Invocation, PartLike
    from .operations import Call


class _Held:
    """A chunk before its ticket: held in memory, within the parameter limit."""

    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self.limit = limit

    def write(self, piece: bytes | memoryview) -> None:
        if len(self.data) + len(piece) > self.limit:
            raise LimitExceeded("chunk before ticket")
        self.data += piece


class _Drained:
    """Where the bytes of a chunk whose append was refused go."""

    def write(self, piece: bytes | memoryview) -> None:
        pass


class ReceivedChunk:
    """``fileChunk`` as received: where its bytes went, and whether they decoded."""

    def __init__(self, call: Invocation, sink: ChunkAppend | _Held | _Drained,
                 refusal: ProtocolError | None) -> None:
        self.call = call
        self.sink = sink
        #: Why the append could not be opened; told after the parameters and the ticket.
        self.refusal = refusal
        self.valid = True

    def append(self) -> ChunkAppend:
        """The append holding the chunk's bytes; a held chunk is written now."""
        if self.refusal is not None:
            raise self.refusal
        if isinstance(self.sink, _Held):  # the ticket has been checked by now
            held, self.sink = self.sink, _open(self.call)
            self.sink.write(held.data)
        return self.sink


def _open(call: Invocation) -> ChunkAppend:
    handler_id = call.method.param_named("uploadHandler").value(call.raw)
    return call.stack.enter_context(ChunkAppend(call.ticket(), handler_id))


def receive_chunk(call: Invocation, part: PartLike) -> ReceivedChunk:
    """Take the chunk's bytes from ``part`` as they arrive (the ``receive`` of fileChunk)."""
    raw = call.raw
    if raw.find("uploadHandler") is None or raw.find(call.method.ticket.name) is None:
        received = ReceivedChunk(call, _Held(call.limits.max_parameter), None)
    else:
        try:
            received = ReceivedChunk(call, _open(call), None)
        except ProtocolError as exc:
            received = ReceivedChunk(call, _Drained(), exc)
    pieces = part.iter_bytes()
    if not part.is_file:  # Base64 text, decoded as it streams
        pieces = _decoded(pieces, received)
    write = received.sink.write
    for piece in pieces:
        write(piece)
    return received


def _decoded(pieces: Iterator[bytes | memoryview], received: ReceivedChunk) -> Iterator[bytes]:
    # Only the decoder's ValueError means bad Base64; the body's own errors
    # (BodyError is a ValueError too) come from next(pieces) and pass through.
    decoder = Base64Decoder()
    for piece in pieces:
        try:
            data = decoder.feed(piece)
        except ValueError:
            break
        yield data
    else:
        try:
            tail = decoder.finish()
        except ValueError:
            pass
        else:
            yield tail
            return
    received.valid = False  # told in the contract's order, after the other parameters
    for _ in pieces:
        pass  # drain the rest of a bad value


def upload_file_chunk(call: Call) -> dict[str, Any]:
    """Commit the received chunk; the answer's attributes."""
    values = call.values
    result = values["fileChunk"].append().commit(
        values["chunkHEXCRC"], values["lastChunk"], values["chunkOffset"])
    if not result.accepted:
        seed_form = get_config()["CRC_MISMATCH_RESPONSE"] == "seed"
        return {"success": "true" if seed_form else "false", "tryagain": "true"}
    attributes = {"tryagain": "false", "offset": str(result.offset)}
    if result.file_crc is not None:
        attributes["filehexcrc"] = format_crc(result.file_crc)
    return attributes
