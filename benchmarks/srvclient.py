"""A lean srv.asmx client for the benchmark: keep-alive, no copies of the chunk.

Each request is written as headers plus a small head in one ``send``, then
the chunk itself straight from the source buffer, so the client spends its
core on the kernel's socket copy and little else. gunicorn's sync workers
close the connection after every answer; ``http.client`` then reconnects on
the next request, for the floor and for ours alike.
"""

from __future__ import annotations

import http.client
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pybase64
from isal.isal_zlib import crc32

MULTIPART = "multipart"
BASE64 = "base64"
SOAP = "soap"


class BenchmarkError(RuntimeError):
    """The server answered something the benchmark did not expect."""


class Connection:
    """One HTTP/1.1 connection to a server on loopback."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def post(self, path: str, content_type: str, head: bytes,
             body: bytes | memoryview = b"", tail: bytes = b"") -> bytes:
        """POST head + body + tail; return the answer's body (HTTP 200 only)."""
        status, _, answer = self.request("POST", path, {"Content-Type": content_type},
                                         head, body, tail)
        if status != 200:
            raise BenchmarkError(f"POST {path}: HTTP {status}: {answer[:300]!r}")
        return answer

    def request(self, method: str, path: str, headers: dict[str, str], head: bytes = b"",
                body: bytes | memoryview = b"", tail: bytes = b"",
                ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Any request, head + body + tail; the answer's status, headers and body."""
        conn = self.http
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(head) + len(body) + len(tail)))
        conn.endheaders(head)
        if body:
            conn.send(body)
        if tail:
            conn.send(tail)
        response = conn.getresponse()
        return response.status, response.headers, response.read()

    def close(self) -> None:
        self.http.close()


@dataclass
class Upload:
    """What one timed upload did."""

    handler: uuid.UUID
    seconds: float  # CreateUploadHandler through the finalize answer
    finalize_seconds: float
    file_crc: int  # filehexcrc of the last chunk's answer
    document_id: int


class Srv:
    """The protocol calls the benchmark makes."""

    def __init__(self, port: int, prefix: str = "/srv.asmx") -> None:
        self.conn = Connection(port)
        self.prefix = prefix
        # Percent-encoded Base64 of each chunk, made once and before the timing:
        # encoding costs this client more than decoding costs the server, and both
        # share the machine. One source at a time, kept referenced so that it is
        # recognised by identity.
        self._encoded: tuple[object, int, list[bytes]] | None = None

    def call(self, method: str, **params: object) -> ET.Element:
        """Call ``method`` (urlencoded POST); the answer's root, which must be a success."""
        head = urlencode(params).encode()
        root = self._post(method, "application/x-www-form-urlencoded", head)
        return _ok(method, root)

    def _post(self, method: str, content_type: str, head: bytes,
              body: bytes | memoryview = b"", tail: bytes = b"") -> ET.Element:
        path = f"{self.prefix}/{method}"
        return ET.fromstring(self.conn.post(path, content_type, head, body, tail))

    def log_in(self, uid: str, pwd: str) -> str:
        return self.call("AuthenticateUser", UID=uid, PWD=pwd).attrib["ticket"]

    def upload(self, ticket: str, data: memoryview, chunk_size: int, encoding: str,
               path: str, latencies: list[float] | None = None) -> Upload:
        """The whole workflow for one file: handler, chunks, finalize (each chunk's
        round trip appended to ``latencies``, if given)."""
        encoded = self._encode_all(data, chunk_size) if encoding == BASE64 else None
        started = time.perf_counter()
        answer = self.call("CreateUploadHandler", authenticationTicket=ticket,
                           PreferedChunkSize=chunk_size).attrib
        handler = answer["UploadHandler"]
        if int(answer["ChunkSize"]) != chunk_size:
            raise BenchmarkError(f"asked for {chunk_size}-byte chunks, got {answer['ChunkSize']}")
        send = {MULTIPART: self._multipart_chunk, BASE64: self._base64_chunk,
                SOAP: self._soap_chunk}[encoding]
        size, file_crc = len(data), None
        for offset in range(0, size, chunk_size):
            chunk = data[offset:offset + chunk_size]
            last = offset + len(chunk) >= size
            fields = chunk_fields(ticket, handler, chunk, last)
            body = chunk if encoded is None else encoded[offset // chunk_size]
            sent = time.perf_counter()
            attrib = _ok("UploadFileChunk", send(fields, body)).attrib
            if latencies is not None:
                latencies.append(time.perf_counter() - sent)
            _check_accepted("chunk", attrib, offset, chunk)
            file_crc = int(attrib["filehexcrc"], 16) if last else None
        finalizing = time.perf_counter()
        answer = self.call("UploadDocumentWithHandler", authenticationTicket=ticket,
                           path=path, uploadHandler=handler).attrib
        done = time.perf_counter()
        return Upload(uuid.UUID(handler), done - started, done - finalizing, file_crc,
                      int(answer["DocumentId"]))

    def _multipart_chunk(self, fields: dict[str, str], chunk: memoryview) -> ET.Element:
        content_type, head, tail = multipart_chunk(fields)
        return self._post("UploadFileChunk", content_type, head, chunk, tail)

    def _base64_chunk(self, fields: dict[str, str], value: bytes) -> ET.Element:
        head = (urlencode(fields) + "&fileChunk=").encode()
        return self._post("UploadFileChunk", "application/x-www-form-urlencoded", head, value)

    def _encode_all(self, data: memoryview, chunk_size: int) -> list[bytes]:
        cached = self._encoded
        if cached is None or cached[0] is not data.obj or cached[1] != chunk_size:
            # What urlencode would make of each chunk, without going through str.
            encoded = [
                pybase64.b64encode(data[offset:offset + chunk_size]).replace(b"+", b"%2B")
                .replace(b"/", b"%2F").replace(b"=", b"%3D")
                for offset in range(0, len(data), chunk_size)
            ]
            self._encoded = cached = (data.obj, chunk_size, encoded)
        return cached[2]

    def _soap_chunk(self, fields: dict[str, str], chunk: memoryview) -> ET.Element:
        # SOAP 1.2 as a WSDL proxy sends it (PascalCase elements in the WSDL's order;
        # the action in the media type); the answer node is inside UploadFileChunkResult.
        def element(name: str) -> bytes:
            return b"<%s>%s</%s>" % (name.encode(), fields[name[:1].lower() + name[1:]].encode(),
                                     name.encode())

        head = (b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap='
                b'"http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
                b'<UploadFileChunk xmlns="http://tempuri.org/">'
                + element("AuthenticationTicket") + element("UploadHandler") + b"<FileChunk>")
        tail = (b"</FileChunk>" + element("ChunkHEXCRC") + element("LastChunk")
                + b"</UploadFileChunk></soap:Body></soap:Envelope>")
        content_type = ('application/soap+xml; charset=utf-8; '
                        'action="http://tempuri.org/UploadFileChunk"')
        answer = ET.fromstring(self.conn.post(self.prefix, content_type, head,
                                              pybase64.b64encode(chunk), tail))
        return answer.find(".//{http://tempuri.org/}UploadFileChunkResult/root")

    def download(self, ticket: str, path: str, chunk_size: int) -> tuple[bytearray, float]:
        """Read a document back through DownloadFileChunk; (content, seconds)."""
        started = time.perf_counter()
        answer = self.call("GetDownloadHandler", AuthenticationTicket=ticket, Path=path,
                           PreferedChunkSize=chunk_size).attrib
        size, handler = int(answer["Size"]), answer["downloadhandler"]
        content, offset = bytearray(size), 0
        while offset < size:
            attrib, text = self._download_chunk(authenticationTicket=ticket,
                                                DownloadHandler=handler, StartOffset=offset,
                                                ChunkSize=chunk_size)
            piece = pybase64.b64decode(text, validate=True)
            if f"{crc32(piece):X}" != attrib["chunkCRC32"]:
                raise BenchmarkError(f"downloaded chunk at {offset} does not match its CRC")
            if not piece or offset + len(piece) > size:
                raise BenchmarkError(f"chunk of {len(piece)} bytes at {offset} of {size}")
            content[offset:offset + len(piece)] = piece
            offset += len(piece)
        self.call("DeleteDownloadHandler", authenticationTicket=ticket, DownloadHandler=handler)
        return content, time.perf_counter() - started

    def _download_chunk(self, **params: object) -> tuple[dict[str, str], memoryview]:
        # A lean reader, as the sender is lean: the root's attributes are parsed, its
        # Base64 text is decoded from the answer's bytes, never made a str.
        answer = self.conn.post(f"{self.prefix}/DownloadFileChunk",
                                "application/x-www-form-urlencoded", urlencode(params).encode())
        start = answer.index(b">", answer.index(b"<", answer.index(b"?>") + 2)) + 1
        if answer[start - 2:start] == b"/>":
            root, text = ET.fromstring(answer), memoryview(b"")
        else:
            root = ET.fromstring(answer[:start - 1] + b"/>")
            text = memoryview(answer)[start:answer.rindex(b"</")]
        return _ok("DownloadFileChunk", root).attrib, text

    def close(self) -> None:
        self.conn.close()


def chunk_fields(ticket: str, handler: str, chunk: memoryview, last: bool) -> dict[str, str]:
    """UploadFileChunk's fields but the chunk, in the order vendor clients send them."""
    return {"authenticationTicket": ticket, "uploadHandler": handler,
            "chunkHEXCRC": f"{crc32(chunk):X}", "lastChunk": "true" if last else "false"}


def multipart_chunk(fields: dict[str, str]) -> tuple[str, bytes, bytes]:
    """The content type, and what goes before and after the chunk, of a multipart
    UploadFileChunk: the chunk is a file part after the other fields, as vendor
    clients send it."""
    boundary = uuid.uuid4().hex
    head = b"".join(
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary.encode(), name.encode(), value.encode())
        for name, value in fields.items()
    ) + (b'--%s\r\nContent-Disposition: form-data; name="fileChunk"; filename="blob"\r\n'
         b"Content-Type: application/octet-stream\r\n\r\n" % boundary.encode())
    tail = b"\r\n--%s--\r\n" % boundary.encode()
    return f"multipart/form-data; boundary={boundary}", head, tail


def _check_accepted(label: str, attrib: dict[str, str], offset: int, chunk: memoryview) -> None:
    """An UploadFileChunk answer must accept the chunk and move the offset past it."""
    if attrib.get("tryagain") != "false" or int(attrib["offset"]) != offset + len(chunk):
        raise BenchmarkError(f"{label} at {offset} not accepted: {attrib}")


def _ok(method: str, root: ET.Element) -> ET.Element:
    if root.attrib.get("success") != "true":
        raise BenchmarkError(f"{method} failed: {root.attrib}")
    return root


def floor_upload(conn: Connection, name: str, data: memoryview, chunk_size: int,
                 latencies: list[float] | None = None) -> float:
    """Send ``data`` to the floor app in chunks; seconds taken (each chunk's round trip
    appended to ``latencies``, if given)."""
    def send(offset: int, chunk: memoryview) -> None:
        answer = conn.post(f"/{name}", "application/octet-stream", b"", chunk)
        if int(answer) != offset + len(chunk):
            raise BenchmarkError(f"floor: {name} is {int(answer)} bytes, expected more")

    return _chunks(data, chunk_size, send, latencies)


def bound_upload(conn: Connection, name: str, data: memoryview, chunk_size: int,
                 latencies: list[float] | None = None, *, ticket: str) -> float:
    """Send ``data`` to the bound (``django_floor/bound.py``) in chunks, each as a
    multipart UploadFileChunk like ours; seconds taken (and ``latencies``, as above).
    Called as :func:`floor_upload` is, once ``ticket`` is bound."""
    def send(offset: int, chunk: memoryview) -> None:
        last = offset + len(chunk) >= len(data)
        content_type, head, tail = multipart_chunk(chunk_fields(ticket, name, chunk, last))
        attrib = _ok("bound", ET.fromstring(conn.post(
            "/srv.asmx/UploadFileChunk", content_type, head, chunk, tail))).attrib
        _check_accepted(f"bound: {name}'s chunk", attrib, offset, chunk)

    return _chunks(data, chunk_size, send, latencies)


def _chunks(data: memoryview, chunk_size: int, send: Callable[[int, memoryview], None],
            latencies: list[float] | None) -> float:
    started = time.perf_counter()
    for offset in range(0, len(data), chunk_size):
        sent = time.perf_counter()
        send(offset, data[offset:offset + chunk_size])
        if latencies is not None:
            latencies.append(time.perf_counter() - sent)
    return time.perf_counter() - started
