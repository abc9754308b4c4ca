"""Percent-decoding as ASP.NET does it, one decoder for query strings and form bodies.

A query string is read whole; a form body in pieces cut anywhere: both must give
the same fields.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunked_upload.exceptions import InvalidParameter
from chunked_upload.wire.bodies import iter_parts, iter_query
from chunked_upload.wire.urlencoding import decode_value, unquote_plus

URLENCODED = "application/x-www-form-urlencoded"
# The bytes a .NET HttpGet/HttpPost proxy sends for UID "zoë.rc", PWD "p&w<\"ü'>1".
DOTNET_LOGIN = b"UID=zo%u00EB.rc&PWD=p%26w%3C%22%u00FC'%3E1"
relaxed = settings(deadline=None, max_examples=200)


def query(data: bytes) -> list[tuple[str, bytes]]:
    """A query string: read whole, where a body is read in pieces."""
    return [(part.name, b"".join(part.iter_bytes())) for part in iter_query(data)]


def form(data: bytes, read_size: int = 1 << 20) -> list[tuple[str, bytes]]:
    return [(part.name, b"".join(part.iter_bytes()))
            for part in iter_parts(io.BytesIO(data), URLENCODED, read_size=read_size)]


def both(data: bytes) -> list[tuple[str, bytes]]:
    """What GET and POST make of the same bytes, checked to be the same."""
    fields = query(data)
    for read_size in range(1, len(data) + 1):  # every cut of the body
        assert form(data, read_size) == fields, read_size
    return fields


def dotnet_unicode_escape(text: str) -> str:
    """.NET's ``HttpUtility.UrlEncodeUnicode``: the default of its HTTP proxies."""
    out = []
    for unit in memoryview(text.encode("utf-16-le")).cast("H"):
        char = chr(unit)
        if unit >= 0x80:
            out.append(f"%u{unit:04x}")
        elif char.isalnum() or char in "-_.!*'()":
            out.append(char)
        elif char == " ":
            out.append("+")
        else:
            out.append(f"%{unit:02x}")
    return "".join(out)


def dotnet_utf8_escape(text: str) -> str:
    """.NET's ``HttpUtility.UrlEncode`` with UTF-8 (a proxy given a request encoding)."""
    return quote(text, safe="-_.!*'()").replace("%20", "+")


def test_the_login_of_a_dotnet_http_proxy():
    assert both(DOTNET_LOGIN) == [("UID", "zoë.rc".encode()), ("PWD", "p&w<\"ü'>1".encode())]


def test_a_dotnet_document_path():
    assert both(b"Path=/x/Gr%u00FC%u00DFe.txt") == [("Path", "/x/Grüße.txt".encode())]


@pytest.mark.parametrize(("escaped", "text"), [
    (b"%uD83D%uDE00", "\U0001F600"),  # a surrogate pair is one character
    (b"%ud83d%ude00", "\U0001F600"),
    (b"%U20AC", "€"),
    (b"%u0025%u0034%u0031", "%41"),  # decoded once, not twice
    (b"%u005C%u0078%u0034%u0031", "\\x41"),
    (b"%C3%A9%u00E9", "éé"),  # UTF-8 bytes and code units mix
])
def test_percent_u_escapes(escaped, text):
    assert both(b"v=" + escaped) == [("v", text.encode())]


@pytest.mark.parametrize(("escaped", "literal"), [
    (b"100%", b"100%"),
    (b"%zz", b"%zz"),
    (b"%4", b"%4"),
    (b"%u12", b"%u12"),
    (b"%u12G4", b"%u12G4"),
    (b"%uD800", b"%uD800"),  # a lone high surrogate
    (b"%uDC00x", b"%uDC00x"),  # a lone low surrogate
    (b"%uD800%u0041", b"%uD800A"),  # a high one not followed by a low one
    (b"%%41", b"%A"),
])
def test_a_malformed_escape_is_literal_text_as_in_aspnet(escaped, literal):
    assert both(b"v=" + escaped) == [("v", literal)]


def test_a_value_that_is_not_utf8_is_an_invalid_parameter():
    [(name, value)] = both(b"PWD=%FF")
    with pytest.raises(InvalidParameter, match=r"^Invalid parameter: PWD\.$"):
        decode_value(value, name)


def test_names_are_decoded_too_and_fields_split_on_ampersands_only():
    assert both(b"%u0055ID=a;b&&bare&=x&P+W=%2B") == [
        ("UID", b"a;b"), ("bare", b""), ("", b"x"), ("P W", b"+")]


def test_plain_values_are_not_copied():
    buf = b"x" * 100
    assert isinstance(unquote_plus(buf, 10, 90), memoryview)


@relaxed
@given(st.text())
def test_any_string_round_trips_through_both_dotnet_encodings(text):
    for escape in (dotnet_unicode_escape, dotnet_utf8_escape):
        data = f"v={escape(text)}".encode("ascii")
        [(name, value)] = query(data)
        assert decode_value(value, name) == text
        assert form(data, read_size=7) == [("v", value)]


@relaxed
@given(st.lists(st.sampled_from([b"%", b"u", b"U", b"D8", b"DC", b"3D", b"00", b"E9", b"+",
                                 b"&", b"=", b"\\", b"x", b"41", b"zz"]), max_size=30),
       st.integers(1, 16))
def test_get_and_post_agree_on_any_bytes(tokens, read_size):
    data = b"".join(tokens)
    assert form(data, read_size) == query(data)
