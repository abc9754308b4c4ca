"""The client's pieces that need no server: answers, bodies, finalizers, sizes, progress."""

from __future__ import annotations

import base64
import io
import os
import sys
import zlib
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chunked_upload.client import Finalizer, RateMeter, cli
from chunked_upload.client.cli import size
from chunked_upload.client.display import Display
from chunked_upload.client.errors import (
    AuthenticationFailed,
    HandlerNotFound,
    IntegrityError,
    OffsetMismatch,
    ServerError,
    TicketExpired,
    TransportError,
)
from chunked_upload.client.protocol import (
    MultipartChunk,
    _combine,
    crc32_combine,
    decode_base64,
    parse_answer,
)
from chunked_upload.client.reader import ChunkReader, ReadAhead
from chunked_upload.client.session import RetryPolicy, normalize_url


@pytest.mark.parametrize(("error", "kind"), [
    ("[900] Authentication failed", AuthenticationFailed),
    ("[901] Session expired or Invalid ticket", TicketExpired),
    ("Upload handler not found or expired.", HandlerNotFound),
    ("Offset mismatch.", OffsetMismatch),
    ("Access denied.", ServerError),
])
def test_a_failure_answer_raises_its_exception(error, kind):
    body = f'<root success="false" error="{error}" errorCode="4000" offset="7"/>'.encode()
    with pytest.raises(kind) as raised:
        parse_answer("UploadFileChunk", body)
    assert type(raised.value) is kind
    assert raised.value.code == 4000
    if kind is OffsetMismatch:
        assert raised.value.offset == 7
    if kind is HandlerNotFound:
        assert "HANDLER_SCOPE" in str(raised.value)


def test_tryagain_is_an_answer_whatever_its_success():
    for success in ("true", "false"):
        answer = parse_answer("UploadFileChunk",
                              f'<root success="{success}" tryagain="true"/>'.encode())
        assert answer.get("tryagain") == "true"


def test_not_xml_is_a_transport_error():
    with pytest.raises(TransportError, match="not XML"):
        parse_answer("CreateUploadHandler", b"<html>502 Bad Gateway")


@given(st.binary(max_size=3000))
def test_a_download_answer_keeps_its_text_exact(data):
    encoded = base64.b64encode(data)
    body = (b'<?xml version="1.0" encoding="utf-8"?>\n<response success="true" filelength="9" '
            b'chunklength="%d" lastchunk="true" chunkCRC32="0">%s</response>'
            % (len(data), encoded))
    answer = parse_answer("DownloadFileChunk", body)
    assert answer["chunklength"] == str(len(data))
    assert decode_base64(answer.text) == data


def test_an_empty_download_answer_and_whitespace_in_base64():
    answer = parse_answer("DownloadFileChunk", b'<response success="true" chunklength="0"/>')
    assert bytes(answer.text) == b""
    assert decode_base64(b"aGVs\nbG8=") == b"hello"


def test_the_multipart_body_streams_the_chunk_uncopied():
    chunk = memoryview(bytearray(b"\x00\xff" * 1000))
    body = MultipartChunk({"uploadHandler": "h", "chunkOffset": "0"}, chunk)
    pieces = list(body)
    assert pieces[1] is chunk
    assert len(body) == sum(len(piece) for piece in pieces)
    assert b'name="chunkOffset"\r\n\r\n0\r\n' in pieces[0]
    assert pieces[0].endswith(b"Content-Type: application/octet-stream\r\n\r\n")


@pytest.mark.parametrize(("finalizer", "method", "keys"), [
    (Finalizer(), "UploadDocumentWithHandler", ["path", "uploadHandler"]),
    (Finalizer(comment="c"), "UploadDocumentWithHandler1",
     ["path", "uploadHandler", "versionComments"]),
    (Finalizer(comment="c", keywords="k"), "UploadDocumentWithHandler3",
     ["path", "uploadHandler", "xmlParameters"]),
    (Finalizer(new_document=True, description="d"), "UploadNewDocumentWidthHandler",
     ["folderPath", "documentName", "uploadHandler", "xmlParameters"]),
])
def test_the_finalizer_picks_the_call(finalizer, method, keys):
    called, params = finalizer.request("/A/b.txt", "h")
    assert (called, list(params)) == (method, keys)
    if "xmlParameters" in params:
        items = {item.get("NAME"): item.get("VALUE")
                 for item in ET.fromstring(params["xmlParameters"])}
        assert items == ({"VERSIONCOMMENT": "c", "KEYWORDS": "k"} if finalizer.keywords
                         else {"DESCRIPTION": "d"})
    if method == "UploadNewDocumentWidthHandler":
        assert (params["folderPath"], params["documentName"]) == ("/A", "b.txt")


def test_xml_parameters_are_escaped():
    _, params = Finalizer(description='a "quoted" <b> & c').request("/x", "h")
    [item] = ET.fromstring(params["xmlParameters"])
    assert item.get("VALUE") == 'a "quoted" <b> & c'


@pytest.mark.parametrize("length", [0, 1, 9, 10, 11, 35])
@pytest.mark.parametrize("known", [True, False])
def test_the_reader_cuts_chunks_and_finds_the_last(length, known):
    data = os.urandom(length)

    class Pipe(io.RawIOBase):  # short reads, like a pipe
        def __init__(self):
            self.left = data

        def readinto(self, buffer):
            count = min(len(buffer), 3, len(self.left))
            buffer[:count], self.left = self.left[:count], self.left[count:]
            return count

    reader = ChunkReader(Pipe(), 10, length if known else None)
    chunks, last = [], False
    while not last:
        chunk, last = reader.next()
        chunks.append(bytes(chunk))
    assert b"".join(chunks) == data
    assert all(len(chunk) == 10 for chunk in chunks[:-1])
    assert len(chunks) == max(1, -(-length // 10))


class Pipe(io.RawIOBase):
    """A source that reads a few bytes at a time, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self.left = data

    def readinto(self, buffer):
        count = min(len(buffer), 3, len(self.left))
        buffer[:count], self.left = self.left[:count], self.left[count:]
        return count


@pytest.mark.parametrize("length", [0, 1, 9, 10, 11, 35])
@pytest.mark.parametrize("known", [True, False])
def test_reading_ahead_gives_the_same_chunks_with_their_crc(length, known):
    data = os.urandom(length)
    chunks = []
    with ReadAhead(Pipe(data), 10, length if known else None) as reader:
        last = False
        while not last:
            chunk, last, crc = reader.next()
            assert crc == zlib.crc32(chunk)
            chunks.append(bytes(chunk))
        with pytest.raises(EOFError):
            reader.next()
    assert b"".join(chunks) == data
    assert len(chunks) == max(1, -(-length // 10))


def test_a_file_that_became_shorter_is_a_clear_error_when_its_chunk_is_due():
    with ReadAhead(Pipe(os.urandom(25)), 10, 40) as reader:
        assert len(reader.next()[0]) == 10
        assert len(reader.next()[0]) == 10
        with pytest.raises(IntegrityError, match="became shorter"):
            reader.next()


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_crcs_of_two_pieces_combine_into_the_crc_of_both(first, second):
    expected = zlib.crc32(first + second)
    for combine in (crc32_combine, _combine):  # ISA-L's (if installed) and the fallback
        assert combine(zlib.crc32(first), zlib.crc32(second), len(second)) == expected


@pytest.mark.parametrize("length", [1 << 20, (8 << 20) + 1, (64 << 20) + 3])
def test_the_crc_fallback_handles_chunk_sized_pieces(length):
    # Zeros: their CRC is cheap to get from zlib by pieces, whatever the length.
    zeros, crc, left = bytes(1 << 20), 0, length
    while left:
        crc, left = zlib.crc32(zeros[:min(left, len(zeros))], crc), left - min(left, len(zeros))
    assert _combine(0x12345678, crc, length) == crc32_combine(0x12345678, crc, length)
    assert _combine(0, crc, length) == crc


@pytest.mark.parametrize(("text", "value"), [("8MiB", 8 << 20), ("256KiB", 256 << 10),
                                             ("512k", 512 << 10), ("1G", 1 << 30), ("100", 100)])
def test_sizes_on_the_command_line(text, value):
    assert size(text) == value


def test_urls_are_normalized():
    assert normalize_url("http://h:8/srv.asmx/") == "http://h:8/"
    assert normalize_url("https://h/dms") == "https://h/dms/"
    with pytest.raises(ValueError):
        normalize_url("h:8")


def test_backoff_doubles_up_to_the_cap():
    delays = list(RetryPolicy(attempts=8, initial_delay=1, max_delay=10).delays())
    assert len(delays) == 7
    for delay, nominal in zip(delays, [1, 2, 4, 8, 10, 10, 10], strict=True):
        assert 0.8 * nominal <= delay <= 1.2 * nominal


def test_the_rate_meter_and_the_plain_lines():
    out = io.StringIO()
    display = Display("f.bin", out)
    meter = RateMeter(then=display)
    meter(0, 2048)
    meter(2048, 2048)
    assert meter.done == 2048
    assert out.getvalue().splitlines()[-1].startswith("f.bin: 100% 2.0 KiB of 2.0 KiB, ")


def test_an_interrupted_command_ends_with_the_line_saying_so(monkeypatch, capsys, tmp_path):
    class HalfMade:
        """Like an HTTP response whose making Ctrl-C cut short: its finalizer complains."""

        def __init__(self) -> None:
            raise KeyboardInterrupt

        def __del__(self) -> None:
            print("Exception ignored in: <HalfMade>", file=sys.stderr)

    def interrupted(args):
        HalfMade()

    monkeypatch.setattr(cli, "run_status", interrupted)
    assert cli.main(["status", "--state-dir", str(tmp_path)]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "chunked-upload: error: interrupted"
