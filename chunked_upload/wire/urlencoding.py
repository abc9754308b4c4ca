"""Percent-decoding of query strings and urlencoded bodies, as ASP.NET decodes them.

One decoder for both HTTP bindings, so the same bytes mean the same thing
whether they come as ``GET ?…`` or as a POST form. The rules are those of
ASP.NET's ``HttpUtility.UrlDecode``, which the legacy service ran on:

- ``+`` is a space, ``%XX`` a byte; the bytes of a value are UTF-8.
- ``%uXXXX`` is a UTF-16 code unit, the legacy escape .NET's generated HTTP
  proxies send for non-ASCII text (``zo%u00EB`` is ``zoë``); a high and a low
  surrogate escaped one after the other are one character (``%uD83D%uDE00``).
- An escape that is malformed (``%``, ``%4``, ``%zz``, ``%u12``, or a lone
  surrogate such as ``%uD800``) is kept as literal text, never an error:
  ``100%`` is ``100%``, as ASP.NET reads it.
- A value whose decoded bytes are not UTF-8 is ``Invalid parameter: NAME.``;
  names are decoded with replacement characters (a name that does not decode
  matches no parameter, so it is ignored like any unknown one).

The decoder works on whole pieces of bytes with C-speed primitives: a value
without ``%`` or ``+`` is passed through as a view, ``%XX`` escapes are decoded
by CPython's backslash-escape decoder in one pass, and only a value with a
``%u`` escape (text, never a Base64 chunk) or a malformed one takes a second,
slower pass.
"""

from __future__ import annotations

import codecs
import re
from urllib.parse import unquote_to_bytes

from ..exceptions import InvalidParameter

Piece = bytes | memoryview

# CPython's C decoder of backslash escapes (what pickle uses); undocumented, so
# decoding falls back to urllib's (lenient, per-escape) loop where it is missing.
_escape_decode = getattr(codecs, "escape_decode", None)

_HEX = rb"[0-9A-Fa-f]"
# A surrogate pair first, then any other single code unit; a lone surrogate
# matches neither and stays literal.
_PERCENT_U = re.compile(
    rb"%[uU]([dD][89abAB]" + _HEX + rb"{2})%[uU]([dD][c-fC-F]" + _HEX + rb"{2})"
    rb"|%[uU](?![dD][89a-fA-F])(" + _HEX + rb"{4})"
)
_HIGH_SURROGATE_END = re.compile(rb"%[uU][dD][89abAB]" + _HEX + rb"{2}\Z")
# The longest run of bytes that must be decoded together: a surrogate pair.
_LONGEST_ESCAPE = len(b"%uD83D%uDE00")


def _utf8_escapes(match: re.Match[bytes]) -> bytes:
    """``%uXXXX`` (or a pair) as the ``%XX`` escapes of its UTF-8 bytes.

    Escapes, not raw bytes, so that ``%u0025`` becomes a literal ``%`` and is
    not decoded a second time.
    """
    high, low, single = match.groups()
    if single is not None:
        code = int(single, 16)
    else:
        code = 0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00)
    return "".join(f"%{byte:02X}" for byte in chr(code).encode()).encode("ascii")


def unquote_plus(buf: bytes, start: int = 0, end: int | None = None) -> Piece:
    """Decode ``buf[start:end]``: ``+`` as space, ``%XX``, ``%uXXXX``; never fails.

    Without ``%`` or ``+`` the result is a view of ``buf`` (no copy).
    """
    end = len(buf) if end is None else end
    if buf.find(b"%", start, end) < 0 and buf.find(b"+", start, end) < 0:
        return memoryview(buf)[start:end]
    text = buf[start:end].replace(b"+", b" ")
    # The common case (Base64 chunks: many %XX, never %u) takes one C pass; a
    # "%u" or a malformed escape makes it fail, then the slower rules apply.
    decoded = _fast_unquote(text)
    if decoded is None:
        if _PERCENT_U.search(text):
            text = _PERCENT_U.sub(_utf8_escapes, text)
            decoded = _fast_unquote(text)
        if decoded is None:  # a malformed escape: kept as literal text
            decoded = unquote_to_bytes(text)
    return decoded


def _fast_unquote(text: bytes) -> bytes | None:
    """``%XX`` decoded in C; None if an escape is anything else (or no C decoder)."""
    if _escape_decode is None:  # pragma: no cover - Pythons without it
        return None
    # "%XY" becomes "\xXY" (and a literal backslash "\\"), which the C decoder
    # turns into bytes, 8 times faster than unquote_to_bytes' Python loop over
    # Base64 text, where every 30th character is escaped. It refuses a "\x"
    # without two hex digits.
    if b"\\" in text:
        text = text.replace(b"\\", b"\\\\")
    try:
        return _escape_decode(text.replace(b"%", b"\\x"))[0]
    except ValueError:
        return None


def safe_end(buf: bytes, start: int, end: int) -> int:
    """Where ``buf[start:end]`` may be cut so the part before decodes on its own.

    For a value still arriving: an escape cut off by the end of what was read
    (or a high surrogate whose low half may follow) is held back and decoded
    with the next read. Returns ``start`` when nothing can be decoded yet.
    """
    cut = buf.find(b"%", max(start, end - _LONGEST_ESCAPE + 1), end)
    if cut < 0:
        return end  # no escape can straddle the end
    if _HIGH_SURROGATE_END.search(buf, max(start, cut - 6), cut):
        cut -= 6  # keep a high surrogate with its possible low half
    return cut


def decode_name(data: Piece) -> str:
    """A field name: UTF-8, undecodable bytes replaced."""
    return str(data, "utf-8", "replace")


def decode_value(data: Piece, name: str) -> str:
    """A field's value as text; ``Invalid parameter: NAME.`` if not UTF-8."""
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter(name) from None
