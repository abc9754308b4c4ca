"""Streaming parsers for upload request bodies (no Django dependency).

A field's value is handed out in pieces while the body is read, so a large file can be
written to disk without being held in memory. Pieces are ``bytes`` or ``memoryview``
slices of what ``stream.read()`` returned: they stay valid, but each keeps its whole
chunk alive, so copy with ``bytes()`` any piece kept for long.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Protocol

from .urlencoding import decode_name, decode_value, safe_end, unquote_plus

_MAX_HEADERS = 16 * 1024  # a multipart part's headers, with its boundary line's rest
_MAX_NAME = 16 * 1024  # urlencoded field names are buffered whole
# Printable ASCII, as Django accepts; having no CR keeps the delimiter scan simple.
_BOUNDARY = re.compile(r"[ -~]{0,199}[!-~]")
_PARAM = re.compile(r'\s*;\s*([^\s;=]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;"]*))')
_QUOTED_PAIR = re.compile(r'\\([\\"])')
_NAME_END = re.compile(rb"[=&]")
# The header block every browser and HTTP library sends, parsed in one match (a
# chunk request has five parts); anything else takes the general path, which
# gives the same answer for these.
_SIMPLE_DISPOSITION = re.compile(
    rb'Content-Disposition: form-data; name="([^"\\\r\n]*)"(?:; filename="([^"\\\r\n]*)")?'
    rb"(?:\r\nContent-Type: [^\r\n]*)?"
)

Piece = bytes | memoryview


class BodyError(ValueError):
    """Malformed body (bad multipart framing, bad percent-encoding, truncated body)."""


class FieldTooLarge(BodyError):
    """A text field exceeded the limit given to read_text()."""


class TooManyFields(BodyError):
    """The body has more fields than the limit given to iter_parts()."""


class _FieldCounter:
    """Counts every field a reader meets, skipped ones too; TooManyFields past the limit."""

    def __init__(self, limit: int | None) -> None:
        self._left = limit

    def count(self) -> None:
        if self._left is not None:
            self._left -= 1
            if self._left < 0:
                raise TooManyFields("the body has too many fields")


class Readable(Protocol):
    """A binary stream; read() returns b"" at the end."""

    def read(self, size: int, /) -> bytes: ...


class _Source:
    """The body, read ``read_size`` bytes at a time; with its length known, a short
    remainder is taken with the read before it.

    Why: a server that buffers ahead (gunicorn does) copies what it hands out
    unless a read takes everything it holds. A 1 MiB chunk comes in a body a few
    hundred bytes longer; read as 1 MiB and the rest, the megabyte was copied
    once more. Read whole, it is not.
    """

    #: The most a read may exceed ``read_size`` to reach the end of the body.
    SLACK = 64 * 1024

    def __init__(self, stream: Readable, read_size: int, length: int | None) -> None:
        self._stream = stream
        self._read_size = read_size
        self._left = length

    def read(self) -> bytes:
        size, left = self._read_size, self._left
        if left is not None and left <= size + self.SLACK:
            size = max(left, 1)  # at the end, still one read: it returns b""
        chunk = self._stream.read(size)
        if left is not None:
            self._left = left - len(chunk)
        # Pieces are views of chunks, so a reused mutable buffer would change under them.
        return chunk if type(chunk) is bytes else bytes(chunk)


class Part:
    """One form field; its value can be read once, before the part iterator moves on.

    `name` is the field name as sent (percent-decoded in urlencoded bodies); `filename`
    is the multipart filename (possibly empty), or None for plain fields.
    """

    __slots__ = ("_claimed", "_open", "_source", "filename", "name")

    def __init__(self, name: str, filename: str | None, source: Callable[[], Piece | None]) -> None:
        self.name = name
        self.filename = filename
        self._source = source
        self._claimed = False
        self._open = True

    @property
    def is_file(self) -> bool:
        """Whether the part came with a filename (possibly empty)."""
        return self.filename is not None

    def iter_bytes(self) -> Iterator[Piece]:
        """Iterate over the value's bytes in pieces as they arrive; callable once."""
        if self._claimed:
            raise RuntimeError(f"the value of field {self.name!r} was already consumed")
        self._claimed = True
        return iter(self._next_piece, None)

    def read_text(self, limit: int = 65536, encoding: str = "utf-8") -> str:
        """Return the value decoded; FieldTooLarge past `limit` bytes, or BodyError."""
        pieces: list[Piece] = []
        size = 0
        for piece in self.iter_bytes():
            size += len(piece)
            if size > limit:
                raise FieldTooLarge(f"field {self.name!r} is larger than {limit} bytes")
            pieces.append(piece)
        if encoding == "utf-8":  # the wire's one rule for text, on every binding
            return decode_value(b"".join(pieces), self.name)
        try:
            return b"".join(pieces).decode(encoding)
        except UnicodeDecodeError as exc:
            raise BodyError(f"field {self.name!r} is not valid {encoding}") from exc

    def _next_piece(self) -> Piece | None:
        # Once the iterator has moved on, the shared source belongs to the next part.
        return self._source() if self._open else None

    def _close(self) -> None:
        self._claimed = True
        self._open = False


class _MultipartReader:
    """Splits a multipart/form-data body into header blocks and content pieces."""

    def __init__(self, source: _Source, boundary: bytes, fields: _FieldCounter) -> None:
        self._source = source
        self._fields = fields
        self._delim = b"\r\n--" + boundary
        # A leading CRLF lets a first boundary at offset 0 match like the others; what
        # precedes it is the preamble, skipped like the content of a nameless part.
        self._buf = b"\r\n"
        self._pos = 0
        self._in_content = True

    def _read(self) -> bytes:
        chunk = self._source.read()
        if not chunk:
            raise BodyError("body ends before the closing multipart boundary")
        return chunk

    def next_piece(self) -> Piece | None:
        """Return the next piece of the current content, or None after its delimiter."""
        delim = self._delim
        while self._in_content:
            buf, pos = self._buf, self._pos
            end = buf.find(delim, pos)
            if end >= 0:
                self._pos, self._in_content = end + len(delim), False
            else:
                # Hold back a trailing start of the delimiter; as the boundary has
                # no CR, that can only begin at the last CR.
                end = len(buf)
                cr = buf.rfind(b"\r", max(pos, end - len(delim) + 1))
                if cr >= 0 and delim.startswith(buf[cr:]):
                    end = cr
                if end == pos:
                    piece = self._refill()
                    if piece is not None:
                        return piece
                    continue
                self._pos = end
            if end > pos:
                return memoryview(buf)[pos:end]
        return None

    def _refill(self) -> Piece | None:
        """Read after a held-back delimiter start; return it if it is content."""
        tail = self._buf[self._pos :]
        chunk = self._read()
        rest = self._delim[len(tail) :]
        if len(chunk) < len(rest):
            # Too short to decide; both are shorter than the delimiter: join them.
            self._buf, self._pos = tail + chunk, 0
            return None
        # Decide at the junction without joining, so the chunk is never copied.
        self._buf = chunk
        if chunk.startswith(rest):
            self._pos, self._in_content = len(rest), False
            return None
        self._pos = 0
        return memoryview(tail) if tail else None

    def next_field(self) -> tuple[str, str | None] | None:
        """Skip to the next named part and return (name, filename); None at the end."""
        while True:
            while self.next_piece() is not None:
                pass  # whatever the consumer left unread
            headers = self._next_headers()
            if headers is None:
                return None
            self._fields.count()  # nameless parts too: each costs a header block
            name, filename = _content_disposition(headers)
            if name is not None:
                return name, filename

    def _next_headers(self) -> bytes | None:
        """Consume a boundary line's rest and a header block; None at the final one."""
        while len(self._buf) - self._pos < 2:
            self._fill()
        if self._buf.startswith(b"--", self._pos):
            return None  # the epilogue is not read
        eol = self._find(b"\r\n")
        # RFC 2046 allows whitespace ("transport padding") before the CRLF.
        if self._buf[self._pos : self._pos + eol].strip(b" \t"):
            raise BodyError("unexpected data after a multipart boundary")
        # Searching from the boundary line's CRLF lets a part have no headers at all.
        end = self._find(b"\r\n\r\n")
        headers = self._buf[self._pos + eol + 2 : self._pos + end]
        self._pos += end + 4
        self._in_content = True
        return headers

    def _find(self, needle: bytes) -> int:
        """Return the offset of needle from the current position, reading as needed."""
        while (i := self._buf.find(needle, self._pos, self._pos + _MAX_HEADERS)) < 0:
            if len(self._buf) - self._pos >= _MAX_HEADERS:
                raise BodyError(f"multipart part headers exceed {_MAX_HEADERS} bytes")
            self._fill()
        return i - self._pos

    def _fill(self) -> None:
        # Only for boundary lines and headers, which rarely straddle two reads.
        self._buf = self._buf[self._pos :] + self._read()
        self._pos = 0


class _UrlencodedReader:
    """Splits an urlencoded body into field names and decoded value pieces."""

    def __init__(self, source: _Source, fields: _FieldCounter) -> None:
        self._source = source
        self._fields = fields
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._in_value = False

    def _fill(self) -> None:
        chunk = self._source.read()
        if not chunk:
            self._eof = True
        elif self._pos == len(self._buf):
            self._buf, self._pos = chunk, 0  # nothing left over: no copy
        else:
            self._buf, self._pos = self._buf[self._pos :] + chunk, 0

    def next_piece(self) -> Piece | None:
        """Return the next decoded piece of the current value, or None at its end."""
        while self._in_value:
            buf, pos = self._buf, self._pos
            end = buf.find(b"&", pos)
            last = end >= 0 or self._eof
            if not last:
                # An escape cut off by the end of the read is decoded with the next one.
                end = safe_end(buf, pos, len(buf))
                if end == pos:
                    self._fill()
                    continue
            elif end < 0:
                end = len(buf)
            piece = unquote_plus(buf, pos, end)
            # A value's "&" goes with it, so that the next field starts after it.
            self._pos = end + 1 if last and end < len(buf) else end
            self._in_value = not last
            if piece:
                return piece
        return None

    def next_field(self) -> tuple[str, None] | None:
        """Skip to the next non-empty field and return (name, None); None at the end."""
        while self.next_piece() is not None:
            pass  # whatever the consumer left unread
        while True:
            buf, pos = self._buf, self._pos
            match = _NAME_END.search(buf, pos, pos + _MAX_NAME)
            if match:
                end = match.start()
            elif not self._eof:
                if len(buf) - pos >= _MAX_NAME:
                    raise BodyError(f"form field name exceeds {_MAX_NAME} bytes")
                self._fill()
                continue
            elif pos == len(buf):
                return None
            else:
                end = len(buf)
            separator = buf[end : end + 1]
            self._pos = end + len(separator)
            self._fields.count()  # empty ones too ("a=1&&b=2"), as parse_qsl counts them
            if end > pos or separator == b"=":  # else an empty field, as in "a=1&&b=2"
                self._in_value = separator == b"="
                return decode_name(unquote_plus(buf, pos, end)), None


def _split_header(header: str) -> tuple[str, dict[str, str]]:
    """Split 'type; key=value; key="quoted"' into the lower-cased type and params."""
    kind = header.partition(";")[0]
    params: dict[str, str] = {}
    pos = len(kind)
    header = header.rstrip("; \t")
    while pos < len(header):
        match = _PARAM.match(header, pos)
        if match is None:
            raise BodyError(f"malformed header parameters in {header!r}")
        key, quoted, token = match.groups()
        # Only \\ and \" are unescaped: browsers send other backslashes verbatim.
        value = token.strip() if quoted is None else _QUOTED_PAIR.sub(r"\1", quoted)
        params.setdefault(key.lower(), value)
        pos = match.end()
    return kind.strip().lower(), params


def _content_disposition(block: bytes) -> tuple[str | None, str | None]:
    """Return name and filename from a part's header block (both None if absent)."""
    simple = _SIMPLE_DISPOSITION.fullmatch(block)
    if simple is not None and simple.group(1).isascii() and (simple.group(2) or b"").isascii():
        name, filename = simple.groups()
        return name.decode("ascii"), None if filename is None else filename.decode("ascii")
    try:
        text = block.decode()
    except UnicodeDecodeError:
        text = block.decode("latin-1")
    text = re.sub(r"\r\n[ \t]+", " ", text)  # unfold obsolete continuation lines
    for line in text.split("\r\n") if text else ():
        key, colon, value = line.partition(":")
        if not colon:
            raise BodyError(f"malformed multipart header line {line!r}")
        if key.strip().lower() == "content-disposition":
            params = _split_header(value)[1]
            return params.get("name"), params.get("filename")
    return None, None


def _iter(reader: _MultipartReader | _UrlencodedReader) -> Iterator[Part]:
    while (field := reader.next_field()) is not None:
        part = Part(*field, reader.next_piece)
        yield part
        part._close()


def iter_parts(stream: Readable, content_type: str, *, read_size: int = 1 << 20,
               max_fields: int | None = None, length: int | None = None) -> Iterator[Part]:
    """Yield the fields of a form body in order, each streaming its value from `stream`.

    Supports multipart/form-data (parts without a name are skipped) and
    application/x-www-form-urlencoded (always UTF-8). The content type is checked right
    away; framing errors raise BodyError from iteration or from reading a part's value.
    A part left unread is drained when the iterator advances. At most about `read_size`
    plus 80 KiB of the body is buffered. (1 MiB by default: servers such as gunicorn
    copy what is left of their buffer on every read, so fewer, larger reads are cheaper;
    with the body's `length`, the last read takes the whole rest, see `_Source`.)
    With `max_fields`, a body with more fields (empty and nameless ones count: they cost
    parsing all the same) raises TooManyFields once the reader meets the one too many.
    """
    if read_size < 1:
        raise ValueError("read_size must be positive")
    kind, params = _split_header(content_type)
    fields = _FieldCounter(max_fields)
    reader: _MultipartReader | _UrlencodedReader
    if kind == "multipart/form-data":
        boundary = params.get("boundary", "")
        if not _BOUNDARY.fullmatch(boundary):
            raise BodyError(f"invalid multipart boundary {boundary!r}")
        reader = _MultipartReader(_Source(stream, read_size, length),
                                  boundary.encode("ascii"), fields)
    elif kind == "application/x-www-form-urlencoded":
        reader = _UrlencodedReader(_Source(stream, read_size, length), fields)
    else:
        raise BodyError(f"unsupported request body type {kind!r}")
    return _iter(reader)


def iter_query(query: bytes, *, max_fields: int | None = None) -> Iterator[Part]:
    """Yield the fields of a query string, read as an urlencoded body is."""
    return iter_parts(io.BytesIO(query), "application/x-www-form-urlencoded",
                      read_size=max(len(query), 1), max_fields=max_fields)
