"""The ``/srv.asmx`` HTTP binding as the client speaks it, with no I/O.

Answers are XML documents whose root element carries the result as
attributes; this module turns them into :class:`Answer` objects, maps
``success="false"`` to the matching exception, and builds the
``multipart/form-data`` body of a chunk without copying the chunk.
"""

from __future__ import annotations

import binascii
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from .errors import (
    AuthenticationFailed,
    HandlerNotFound,
    OffsetMismatch,
    ServerError,
    TicketExpired,
    TransportError,
)

try:  # ISA-L's CRC-32 (the server's [fast] extra) is several times zlib's; same values.
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - the plain build
    from zlib import crc32 as _crc32
_b64decode: Callable[..., bytes] | None
try:  # SIMD Base64 decoding, if installed; binascii otherwise.
    from pybase64 import b64decode as _b64decode
except ImportError:  # pragma: no cover - the plain build
    _b64decode = None

PREFIX = "srv.asmx"
#: What the client asks for: few requests per GiB, a few MiB of memory.
DEFAULT_CHUNK_SIZE = 8 << 20

#: Error texts (their start) that have an exception of their own.
_ERRORS: tuple[tuple[str, type[ServerError]], ...] = (
    ("[900]", AuthenticationFailed),
    ("[901]", TicketExpired),
    ("Upload handler not found or expired.", HandlerNotFound),
    ("Offset mismatch.", OffsetMismatch),
)


def crc32(data: bytes | bytearray | memoryview, running: int = 0) -> int:
    """CRC-32 (zlib/IEEE) of ``data``, continuing ``running``."""
    return _crc32(data, running)


def format_crc(value: int) -> str:
    """A CRC as the protocol writes it: upper-case hex, no leading zeros."""
    return format(value, "X")


def parse_crc(text: str) -> int:
    """A CRC as the protocol writes it, compared as a number."""
    return int(text, 16)


@dataclass(frozen=True)
class Answer:
    """One protocol answer: the root element's attributes (and text, for downloads)."""

    method: str
    attributes: Mapping[str, str]
    text: bytes | memoryview = b""
    extra: dict[str, object] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        try:
            return self.attributes[name]
        except KeyError:
            raise TransportError(
                f"{self.method}: the answer has no {name!r} attribute: {dict(self.attributes)}"
            ) from None

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attributes.get(name, default)

    def integer(self, name: str) -> int:
        try:
            return int(self[name])
        except ValueError:
            raise TransportError(f"{self.method}: {name}={self[name]!r} is not a number") from None

    @property
    def ok(self) -> bool:
        return self.attributes.get("success") == "true"


def parse_answer(method: str, body: bytes | bytearray) -> Answer:
    """Parse an answer; raise the matching :class:`ServerError` if it is a failure.

    A chunk answer whose ``tryagain`` is ``true`` is returned, not raised,
    whatever its ``success`` (servers differ): the caller resends.
    """
    try:
        if method == "DownloadFileChunk":
            answer = _parse_with_text(method, body)
        else:
            answer = Answer(method, ET.fromstring(body).attrib)
    except ET.ParseError as error:
        raise TransportError(f"{method}: the answer is not XML ({error}): {body[:200]!r}") from None
    if answer.ok or answer.get("tryagain") == "true":
        return answer
    text = answer.get("error") or "failed without an error text"
    code = answer.get("errorCode")
    cls = next((cls for prefix, cls in _ERRORS if text.startswith(prefix)), ServerError)
    raise cls(method, text, int(code) if code and code.isdigit() else None,
              dict(answer.attributes))


def _parse_with_text(method: str, body: bytes | bytearray) -> Answer:
    # The Base64 text of a download answer can be tens of MiB: parse only the
    # start tag with ElementTree and keep the text as a view of the body
    # (Base64 has no "<" or "&", so the text is the bytes between the tags).
    start = body.find(b"<", body.find(b"?>") + 1 if body.startswith(b"<?") else 0)
    head_end = body.find(b">", start)
    if start < 0 or head_end < 0:
        raise ET.ParseError("no root element")
    if body[head_end - 1:head_end] == b"/":  # <response ... /> (a failure or no data)
        return Answer(method, ET.fromstring(body[start:head_end + 1]).attrib)
    tag = body[start + 1:head_end].split(None, 1)[0]
    close = body.rfind(b"</" + tag)
    if close < head_end:
        raise ET.ParseError("no end tag")
    attributes = ET.fromstring(body[start:head_end + 1] + b"</" + tag + b">").attrib
    return Answer(method, attributes, memoryview(body)[head_end + 1:close])


def decode_base64(text: bytes | memoryview) -> bytes:
    """The bytes of a download chunk's Base64 text."""
    if _b64decode is not None:
        try:
            return _b64decode(text, validate=True)
        except ValueError:
            pass  # whitespace or worse: binascii skips the one and reports the other
    try:
        return binascii.a2b_base64(text)
    except binascii.Error as error:
        raise TransportError(f"DownloadFileChunk: the chunk is not Base64 ({error})") from None


def xml_parameters(items: Mapping[str, str | None]) -> str:
    """``<xmlparameters><item NAME=… VALUE=…/>…</xmlparameters>`` (None values left out)."""
    root = ET.Element("xmlparameters")
    for name, value in items.items():
        if value is not None:
            ET.SubElement(root, "item", NAME=name, VALUE=value)
    return ET.tostring(root, encoding="unicode")


class MultipartChunk:
    """The ``multipart/form-data`` body of one UploadFileChunk, streamed.

    The fields come first and the chunk last, as a raw file part, the way the
    vendor's clients send it; the chunk is yielded as the caller's buffer,
    never copied. ``len()`` is the body's length, so the request carries a
    ``Content-Length`` (the server reads the body as it arrives).
    """

    def __init__(self, fields: Mapping[str, str], chunk: bytes | memoryview) -> None:
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
            for name, value in fields.items()
        ) + (f'--{boundary}\r\nContent-Disposition: form-data; name="fileChunk"; '
             'filename="chunk"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
        self.chunk = chunk
        self.tail = f"\r\n--{boundary}--\r\n".encode()

    def __len__(self) -> int:
        return len(self.head) + len(self.chunk) + len(self.tail)

    def __iter__(self) -> Iterator[bytes | memoryview]:
        yield self.head
        if len(self.chunk):
            yield self.chunk
        yield self.tail
