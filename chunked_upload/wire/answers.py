"""Answers of the web service: a root element carrying the result as attributes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from ..exceptions import ProtocolError

try:  # the [fast] extra: several times the standard library's encoding rate
    from pybase64 import b64encode
except ImportError:  # pragma: no cover - pybase64 is an optional accelerator
    from base64 import b64encode


class Base64Text:
    """Binary content carried Base64-encoded as an answer's text.

    Encoded lazily, piece by piece, into bytes, so a streaming renderer never
    holds the encoded form whole and never makes a ``str`` of it: the Base64
    alphabet holds nothing XML escapes, so the pieces are written as they are.
    ``str()`` gives all of it for renderers that need text.
    """

    # 768 KiB in, 1 MiB out: a handful of large writes per chunk, memory flat.
    # A multiple of 3, so that no piece but the last is padded.
    PIECE = 3 << 18

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __bool__(self) -> bool:
        return bool(self.data)

    def __iter__(self) -> Iterator[bytes]:
        view = memoryview(self.data)
        for start in range(0, len(view), self.PIECE):
            yield b64encode(view[start:start + self.PIECE])

    def __str__(self) -> str:
        return b64encode(self.data).decode("ascii")


@dataclass
class Answer:
    """What one method call answers, in every binding.

    ``attributes`` keep their order; values are strings, escaped later by the
    XML serializer. ``text`` is the element's content (DownloadFileChunk).
    """

    root: str
    attributes: dict[str, str]
    text: str | Base64Text | None = None
    status: int = 200

    @classmethod
    def success(cls, root: str, attributes: dict[str, str],
                text: str | Base64Text | None = None) -> Answer:
        return cls(root, {"success": "true", **attributes}, text)

    @classmethod
    def failure(cls, root: str, error: ProtocolError, status: int = 200) -> Answer:
        attributes = {"success": "false", "error": error.text, "errorCode": str(error.code)}
        attributes.update((k, xml_value(v)) for k, v in error.attributes.items())
        return cls(root, attributes, status=status)


class RequestRefused(Exception):
    """A request refused before any method runs, with its HTTP status.

    Unknown method (404), HTTP method (405), request size (413), unreadable
    Content-Length (400), rate (429): answered ``<root success="false" …/>``
    in every binding, SOAP included, since no call was read.
    """

    def __init__(self, error: ProtocolError, status: int,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error.text)
        self.error = error
        self.status = status
        self.headers = headers or {}


def xml_value(value: object) -> str:
    """The contract's spelling of a value: booleans lower-case, times in UTC."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)
