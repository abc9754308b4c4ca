"""Streaming Base64: a field's value decoded piece by piece as it arrives
(UploadFileChunk's ``fileChunk`` on every binding; no Django dependency)."""

from __future__ import annotations

import base64
from functools import partial

# Strict decoders of whole 4-character groups: both reject characters outside the
# alphabet and misplaced padding. (binascii's own strict_mode needs Python 3.11.)
_stdlib_b64decode = partial(base64.b64decode, validate=True)
try:
    import pybase64
except ImportError:  # pragma: no cover - pybase64 is an optional accelerator
    _b64decode = _stdlib_b64decode
else:
    _b64decode = partial(pybase64.b64decode, validate=True)

_WHITESPACE = b" \t\r\n"
_WHITESPACE_CHARS = tuple(_WHITESPACE[i : i + 1] for i in range(len(_WHITESPACE)))


class Base64Decoder:
    """Incremental, strict standard-alphabet Base64 decoder.

    feed() pieces split anywhere; space, tab, CR and LF are ignored anywhere. Invalid
    input (bad characters or padding, data after padding, a length that is not a
    multiple of 4) raises ValueError from feed() once detected, or from finish().
    """

    def __init__(self) -> None:
        self._pending = b""  # an incomplete 4-character group
        self._padded = False

    def feed(self, data: bytes | memoryview) -> bytes:
        """Return the bytes of all the complete 4-character groups so far."""
        raw = data if type(data) is bytes else bytes(data)
        # Four memchr scans cost less than copying every piece to drop whitespace.
        if any(space in raw for space in _WHITESPACE_CHARS):
            raw = raw.translate(None, _WHITESPACE)
        text = memoryview(raw)
        if not text:
            return b""
        if self._padded:
            raise ValueError("base64 data after padding")
        decoded = b""
        if self._pending:  # complete the group left over from the last piece
            group = self._pending + bytes(text[: 4 - len(self._pending)])
            text = text[4 - len(self._pending) :]
            if len(group) < 4:
                self._pending = group
                return b""
            self._pending, self._padded = b"", group[3] == ord("=")
            decoded = _b64decode(group)
            if text and self._padded:
                raise ValueError("base64 data after padding")
        usable = len(text) - len(text) % 4
        self._pending = bytes(text[usable:])
        if not usable:
            return decoded
        # '=' can only end the final group, so nothing may follow a padded one.
        self._padded = text[usable - 1] == ord("=")
        rest = _b64decode(text[:usable])
        return decoded + rest if decoded else rest

    def finish(self) -> bytes:
        """Check that the input ended with a complete group; return what is left."""
        if self._pending:
            raise ValueError("base64 input length is not a multiple of 4")
        return b""
