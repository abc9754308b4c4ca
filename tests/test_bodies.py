"""Tests for chunked_upload.wire.bodies and .base64_stream (pure Python, no Django needed)."""

from __future__ import annotations

import base64
import io
import random
import re
from itertools import pairwise
from urllib.parse import parse_qsl, quote_from_bytes, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunked_upload.exceptions import InvalidParameter
from chunked_upload.wire import base64_stream
from chunked_upload.wire.base64_stream import Base64Decoder
from chunked_upload.wire.bodies import (
    BodyError,
    FieldTooLarge,
    TooManyFields,
    iter_parts,
    iter_query,
)

BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
URLENCODED = "application/x-www-form-urlencoded; charset=utf-8"
DELIM = b"\r\n--" + BOUNDARY.encode()

# Timing varies with the random read sizes; no per-example deadline.
relaxed = settings(deadline=None)


class ShortReads:
    """A stream whose read(n) returns a random 1..n bytes, like a socket."""

    def __init__(self, data: bytes, seed: int = 0) -> None:
        self._data = io.BytesIO(data)
        self._random = random.Random(seed)
        self.position = 0

    def read(self, size: int) -> bytes:
        chunk = self._data.read(self._random.randint(1, size))
        self.position += len(chunk)
        return chunk


def multipart(*parts: tuple[str, bytes], boundary: str = BOUNDARY) -> bytes:
    """Build a body from (Content-Disposition parameters, content) pairs."""
    out = b""
    for disposition, content in parts:
        out += f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n".encode()
        out += b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def collect(stream, content_type: str = MULTIPART, read_size: int = 1 << 18):
    return [
        (part.name, part.filename, b"".join(part.iter_bytes()))
        for part in iter_parts(stream, content_type, read_size=read_size)
    ]


# Content fragments that look like (parts of) the delimiter.
tricky = st.sampled_from(
    [DELIM[:i] for i in range(1, len(DELIM) + 1)]
    + [b"\r", b"\r\n", b"--", b"\r\n--", DELIM[2:], DELIM + b"x", b"\r\r\n--"]
)
# A client picks a boundary that does not occur in the content.
content = (
    st.lists(st.one_of(st.binary(max_size=40), tricky), max_size=12)
    .map(b"".join)
    .filter(lambda c: DELIM not in c)
)


@relaxed
@given(
    contents=st.lists(content, min_size=1, max_size=4),
    read_size=st.integers(1, 80),
    seed=st.integers(0, 2**32),
)
def test_multipart_round_trip_with_short_reads(contents, read_size, seed):
    fields = [(f'name="f{i}"; filename="x{i}.bin"', c) for i, c in enumerate(contents)]
    stream = ShortReads(multipart(*fields), seed)
    expected = [(f"f{i}", f"x{i}.bin", c) for i, c in enumerate(contents)]
    assert collect(stream, read_size=read_size) == expected


def test_fields_and_files_in_order_with_preamble_padding_and_epilogue():
    body = (
        b"This is the preamble.\r\n--" + BOUNDARY.encode() + b" \t\r\n"
        b'Content-Disposition: form-data; name="title"\r\n\r\nHello\r\n'
        b"--" + BOUNDARY.encode() + b"\r\n"
        b"Content-Type: text/plain\r\n\r\nnameless part is skipped\r\n"
        b"--" + BOUNDARY.encode() + b"\r\n\r\nno headers at all\r\n"
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n\r\n"
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="empty"; filename=""\r\n\r\n\r\n'
        b"--" + BOUNDARY.encode() + b"--\r\nepilogue, not parsed\r\n--x"
    )
    assert collect(io.BytesIO(body)) == [
        ("title", None, b"Hello"),
        ("file", "a.txt", b"line 1\r\nline 2\r\n"),
        ("empty", "", b""),
    ]
    parts = list(iter_parts(io.BytesIO(body), MULTIPART))
    assert [p.is_file for p in parts] == [False, True, True]


@pytest.mark.parametrize(
    ("disposition", "name", "filename"),
    [
        ('name="a\\"b"; filename="c\\\\d"', 'a"b', "c\\d"),
        ('name="x;y=z"', "x;y=z", None),
        ("name=plain; filename=report 2024.pdf", "plain", "report 2024.pdf"),
        ('NAME="upper" ; FileName="F"', "upper", "F"),
        ('name="C:\\temp"; filename="C:\\temp\\a.txt"', "C:\\temp", "C:\\temp\\a.txt"),
        ('name="naïve"; filename="résumé €.txt"', "naïve", "résumé €.txt"),
        ("name=\"n\"; filename*=UTF-8''x.txt", "n", None),
        ('name="trailing";', "trailing", None),
    ],
)
def test_content_disposition(disposition, name, filename):
    part = next(iter_parts(io.BytesIO(multipart((disposition, b"v"))), MULTIPART))
    assert (part.name, part.filename) == (name, filename)


@pytest.mark.parametrize(
    "content_type",
    [
        f'multipart/form-data; boundary="{BOUNDARY}"',
        f"Multipart/Form-Data;boundary={BOUNDARY}; charset=utf-8",
    ],
)
def test_content_type_variants(content_type):
    assert collect(io.BytesIO(multipart(('name="a"', b"1"))), content_type) == [("a", None, b"1")]


def test_quoted_boundary_with_spaces():
    body = multipart(('name="a"', b"1"), boundary="a b:c")
    content_type = 'multipart/form-data; boundary="a b:c"'
    assert collect(io.BytesIO(body), content_type) == [("a", None, b"1")]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        'multipart/form-data; boundary="ends with space "',
        "multipart/form-data; boundary=" + "x" * 201,
        'multipart/form-data; boundary="unterminated',
    ],
)
def test_rejected_content_types(content_type):
    with pytest.raises(BodyError):
        iter_parts(io.BytesIO(b""), content_type)


def test_unread_and_partially_read_parts_are_drained():
    big = bytes(range(256)) * 4096
    body = multipart(('name="a"', big), ('name="b"', b"B"), ('name="c"', big), ('name="d"', b"D"))
    parts = iter_parts(io.BytesIO(body), MULTIPART, read_size=1000)
    assert next(parts).name == "a"  # not read at all
    assert next(parts).read_text() == "B"
    pieces = next(parts).iter_bytes()
    first = bytes(next(pieces))
    assert first
    assert big.startswith(first)
    last = next(parts)
    assert last.read_text() == "D"
    assert next(pieces, None) is None  # the old iterator does not see other parts
    assert list(parts) == []


def test_part_can_be_consumed_only_once():
    parts = iter_parts(io.BytesIO(multipart(('name="a"', b"1"), ('name="b"', b"2"))), MULTIPART)
    first = next(parts)
    assert first.read_text() == "1"
    with pytest.raises(RuntimeError):
        first.iter_bytes()
    next(parts)
    with pytest.raises(RuntimeError):
        first.read_text()


def test_pieces_stream_without_buffering_the_field():
    big = random.Random(1).randbytes(1 << 20)
    stream = ShortReads(multipart(('name="f"; filename="f"', big)), seed=2)
    read_size = 4096
    part = next(iter_parts(stream, MULTIPART, read_size=read_size))
    received = 0
    for piece in part.iter_bytes():
        assert 0 < len(piece) <= read_size
        assert bytes(piece) == big[received : received + len(piece)]
        received += len(piece)
        # What has been read but not handed out: headers plus a held-back delimiter start.
        assert stream.position - received <= read_size + 200
    assert received == len(big)


class RecordedReads(io.BytesIO):
    """A stream that remembers the size of every read asked of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        return super().read(size)


@pytest.mark.parametrize("content_type", [MULTIPART, URLENCODED])
def test_with_the_length_known_a_short_remainder_is_read_with_the_piece_before_it(
    content_type,
):
    # A server that buffers ahead copies a read that does not take all it holds.
    chunk = random.Random(3).randbytes(1 << 18)
    body = (multipart(('name="a"', b"1"), ('name="f"; filename="f"', chunk))
            if content_type == MULTIPART else b"a=1&f=" + b"x" * (1 << 18))
    stream = RecordedReads(body)
    assert [part.name for part in iter_parts(stream, content_type, read_size=1 << 18,
                                             length=len(body))] == ["a", "f"]
    assert stream.asked[0] == len(body)  # a few hundred bytes over read_size: one read
    stream = RecordedReads(body)
    list(iter_parts(stream, content_type, read_size=1 << 12, length=len(body)))
    assert max(stream.asked) <= (1 << 12) + 64 * 1024  # far longer: read_size at a time
    assert stream.asked[0] == 1 << 12


def test_truncated_multipart_raises_at_every_length():
    body = multipart(('name="a"', b"x\r\n-y"), ('name="f"; filename="f"', b"\r\n--"))
    assert body.endswith(b"--\r\n")  # the final CRLF is optional
    for length in range(len(body) - 2):
        with pytest.raises(BodyError):
            collect(io.BytesIO(body[:length]), read_size=7)
    assert len(collect(io.BytesIO(body), read_size=7)) == 2


def test_truncation_raises_from_read_text():
    body = multipart(('name="a"', b"value"))[: -len(BOUNDARY) - 10]
    parts = iter_parts(io.BytesIO(body), MULTIPART)
    part = next(parts)
    with pytest.raises(BodyError):
        part.read_text()
    with pytest.raises(BodyError):
        next(parts)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"no boundary at all",
        b"--" + BOUNDARY.encode() + b"garbage\r\n\r\nx\r\n--" + BOUNDARY.encode() + b"--",
        b"--" + BOUNDARY.encode() + b"\r\nNo colon here\r\n\r\nx\r\n--" + BOUNDARY.encode() + b"--",
        b"--" + BOUNDARY.encode() + b"\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n",
        b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="a" junk\r\n\r\n',
    ],
)
def test_malformed_multipart(body):
    with pytest.raises(BodyError):
        collect(io.BytesIO(body))


def test_read_text_limit_and_decoding():
    body = multipart(
        ('name="a"', b"0123456789"),
        ('name="b"', b"01234567890"),
        ('name="c"', b"\xff"),
        ('name="d"', "é".encode("latin-1")),
        ('name="e"', b"after"),
    )
    parts = iter_parts(ShortReads(body, 3), MULTIPART, read_size=4)
    assert next(parts).read_text(limit=10) == "0123456789"
    with pytest.raises(FieldTooLarge):
        next(parts).read_text(limit=10)
    with pytest.raises(InvalidParameter, match=r"Invalid parameter: c\."):
        next(parts).read_text()
    assert next(parts).read_text(encoding="latin-1") == "é"
    assert next(parts).read_text() == "after"  # the oversized field was drained correctly


def test_bytearray_chunks_are_copied():
    class Recycling:
        def __init__(self, data):
            self.data, self.buf = io.BytesIO(data), bytearray()

        def read(self, size):
            self.buf[:] = self.data.read(size)
            return self.buf

    body = multipart(('name="a"', b"x" * 100))
    part = next(iter_parts(Recycling(body), MULTIPART, read_size=64))
    pieces = list(part.iter_bytes())
    assert b"".join(pieces) == b"x" * 100


# --- application/x-www-form-urlencoded ---------------------------------------------


def urlencoded(body: bytes, read_size: int = 1 << 18, seed: int | None = None):
    stream = io.BytesIO(body) if seed is None else ShortReads(body, seed)
    return [
        (part.name, part.filename, b"".join(part.iter_bytes()))
        for part in iter_parts(stream, URLENCODED, read_size=read_size)
    ]


def test_urlencoded_escapes_split_at_every_position():
    body = b"a=%41%42+c%2b&b%3D%26=x%26y%3d&%C3%A9t%c3%a9=%E2%82%AC&&empty=&bare&=nameless&"
    expected = [
        ("a", None, b"AB c+"),
        ("b=&", None, b"x&y="),
        ("été", None, "€".encode()),
        ("empty", None, b""),
        ("bare", None, b""),
        ("", None, b"nameless"),
    ]
    for read_size in range(1, len(body) + 1):
        assert urlencoded(body, read_size) == expected


def test_urlencoded_backslashes_are_literal():
    # Percent-escapes are decoded by a backslash-escape decoder: a backslash sent
    # as such must stay one, whatever follows it.
    body = b"a=\\x41%41\\\\n%5C\\&b=\\"
    for read_size in range(1, len(body) + 1):
        assert urlencoded(body, read_size) == [
            ("a", None, b"\\x41A\\\\n\\\\"), ("b", None, b"\\")
        ]


@relaxed
@given(
    fields=st.lists(st.tuples(st.text(), st.binary()), max_size=6),
    read_size=st.integers(1, 50),
    seed=st.integers(0, 2**32),
)
def test_urlencoded_round_trip(fields, read_size, seed):
    body = "&".join(
        f"{quote_from_bytes(name.encode(), safe='')}={quote_from_bytes(value, safe='')}"
        for name, value in fields
    ).encode()
    assert urlencoded(body, read_size, seed) == [(n, None, v) for n, v in fields]


@relaxed
@given(st.lists(st.tuples(st.text(), st.text()), max_size=6), st.integers(1, 30))
def test_urlencoded_matches_parse_qsl(fields, read_size):
    body = urlencode(fields)
    parsed = urlencoded(body.encode(), read_size)
    assert [(n, v.decode()) for n, _, v in parsed] == parse_qsl(body, keep_blank_values=True)


@pytest.mark.parametrize(
    "body, fields",
    [
        (b"a=%", [("a", b"%")]),
        (b"a=%4", [("a", b"%4")]),
        (b"a=%zz", [("a", b"%zz")]),
        (b"a=%g1&b=2", [("a", b"%g1"), ("b", b"2")]),
        (b"%=1", [("%", b"1")]),
        (b"%ff=1", [("\ufffd", b"1")]),
        (b"a%2=1", [("a%2", b"1")]),
        (b"a=1%", [("a", b"1%")]),
    ],
)
def test_malformed_escapes_are_literal_text(body, fields):
    # As ASP.NET decodes them, and as the query string is decoded (issue 18: the
    # same bytes mean the same on GET and POST; this used to be a BodyError).
    for read_size in (1, 2, 100):
        assert urlencoded(body, read_size) == [(n, None, v) for n, v in fields]


def test_urlencoded_field_name_limit():
    with pytest.raises(BodyError):
        urlencoded(b"a" * 20000 + b"=1")
    assert urlencoded(b"a" * 1000 + b"=1", read_size=7) == [("a" * 1000, None, b"1")]


def test_urlencoded_value_is_streamed():
    body = b"f=" + b"x" * 100_000 + b"&g=1"
    parts = iter_parts(io.BytesIO(body), URLENCODED, read_size=1000)
    assert max(len(piece) for piece in next(parts).iter_bytes()) <= 1000
    assert next(parts).read_text() == "1"


def test_a_query_string_reads_as_an_urlencoded_body():
    query = b"a=%41%42+c%2b&&empty=&bare&=nameless&%C3%A9t%c3%a9=%E2%82%AC"
    as_query = [(p.name, b"".join(p.iter_bytes())) for p in iter_query(query)]
    assert as_query == [(n, v) for n, _, v in urlencoded(query, 7)]
    assert list(iter_query(b"")) == []


@pytest.mark.parametrize("body, fields", [
    (b"a=1&b=2", 2), (b"a=1&&b=2", 3), (b"&&&", 3), (b"a&b&", 2), (b"=&=", 2),
    (b"a=1&b=2&", 2), (b"", 0), (b"x", 1),
])
def test_urlencoded_fields_are_counted_empty_ones_too(body, fields):
    for read_size in (1, 3, 100):
        assert len(list(iter_parts(io.BytesIO(body), URLENCODED, read_size=read_size,
                                   max_fields=fields))) <= fields
        with pytest.raises(TooManyFields):
            list(iter_parts(io.BytesIO(body + b"&z"), URLENCODED, read_size=read_size,
                            max_fields=fields))


def test_multipart_fields_are_counted_nameless_ones_too():
    body = multipart(('name="a"', b"1"), ("", b"nameless"), ('name="b"', b"2"))
    assert len(list(iter_parts(io.BytesIO(body), MULTIPART, max_fields=3))) == 2
    with pytest.raises(TooManyFields):
        list(iter_parts(io.BytesIO(body), MULTIPART, max_fields=2))


def test_counting_stops_reading_at_the_limit():
    stream = io.BytesIO(b"&" * 10_000_000)
    with pytest.raises(TooManyFields):
        list(iter_parts(stream, URLENCODED, read_size=1 << 16, max_fields=1000))
    assert stream.tell() == 1 << 16


# --- Base64Decoder --------------------------------------------------------------


@pytest.fixture(params=["pybase64", "stdlib"])
def backend(request, monkeypatch):
    if request.param == "stdlib":
        monkeypatch.setattr(base64_stream, "_b64decode", base64_stream._stdlib_b64decode)
    else:
        pytest.importorskip("pybase64")
        assert base64_stream._b64decode is not base64_stream._stdlib_b64decode


def decode_in_pieces(text: bytes, cuts: list[int]) -> bytes:
    decoder = Base64Decoder()
    bounds = [0, *sorted(c % (len(text) + 1) for c in cuts), len(text)]
    out = b"".join(decoder.feed(memoryview(text)[a:b]) for a, b in pairwise(bounds))
    return out + decoder.finish()


@pytest.mark.usefixtures("backend")
@relaxed
@given(
    data=st.binary(max_size=200),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
    spaces=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(" \t\r\n")), max_size=8),
)
def test_base64_round_trip(data, cuts, spaces):
    text = bytearray(base64.b64encode(data))
    for position, char in spaces:
        text.insert(position % (len(text) + 1), ord(char))
    assert decode_in_pieces(bytes(text), cuts) == data


VALID_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def is_valid_base64(text: bytes) -> bool:
    return VALID_BASE64.fullmatch(text.translate(None, b" \t\r\n")) is not None


@pytest.mark.usefixtures("backend")
@relaxed
@given(
    text=st.binary(max_size=16).map(lambda b: bytes(b"QUJD=\n!"[x % 7] for x in b)),
    cuts=st.lists(st.integers(0, 100), max_size=4),
)
def test_base64_accepts_exactly_valid_input(text, cuts):
    if is_valid_base64(text):
        assert decode_in_pieces(text, cuts) == base64.b64decode(text.translate(None, b"\n"))
    else:
        with pytest.raises(ValueError):
            decode_in_pieces(text, cuts)


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    "text",
    [
        b"Q",
        b"QQ",
        b"QQ=",
        b"QUJ",
        b"QQ==QUJD",
        b"QQ==\nQQ==",
        b"QQ=Q",
        b"====",
        b"QUJD=",
        b"Q===",
        b"QU!D",
        b"QUJD\x00",
        "QUJD".encode("utf-16-le"),
        b"QUJD\x0b",
    ],
)
def test_base64_invalid(text):
    for cut in range(len(text) + 1):
        with pytest.raises(ValueError):
            decode_in_pieces(text, [cut])


@pytest.mark.usefixtures("backend")
def test_base64_padding_split_across_feeds():
    decoder = Base64Decoder()
    assert decoder.feed(b"QUJDRA") == b"ABC"
    assert decoder.feed(b"=") == b""
    assert decoder.feed(b" =\r\n") == b"D"
    assert decoder.feed(b"\t ") == b""
    assert decoder.finish() == b""
    assert Base64Decoder().finish() == b""
