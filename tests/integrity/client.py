"""A small srv.asmx client over real HTTP connections (``http.client``).

Chunks go as ``multipart/form-data`` with the ticket and handler first and
the chunk as a raw file part last, as the vendor's clients send them, so the
server streams the bytes into the staged file while they arrive. A chunk
request can also be sent piece by piece (to crash the server mid-chunk) or
sent whole and then hung up on (a lost answer).
"""

from __future__ import annotations

import base64
import http.client
import uuid
import zlib
from collections.abc import Iterable
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

PREFIX = "/srv.asmx"


def crc_hex(data: bytes) -> str:
    return format(zlib.crc32(data), "X")


class Answer:
    """A parsed answer: the root element's attributes and text."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body
        self.element = ET.fromstring(body)

    def __getitem__(self, name: str) -> str:
        return self.element.attrib[name]

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.element.attrib.get(name, default)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.get("success") == "true"

    @property
    def accepted(self) -> bool:
        """A chunk answer that says the bytes are committed."""
        return self.ok and self.get("tryagain") == "false"

    @property
    def error(self) -> str | None:
        return self.get("error")

    def __repr__(self) -> str:
        return f"<{self.status} {self.body.decode(errors='replace')}>"


class ChunkRequest:
    """An UploadFileChunk being sent: headers and leading fields are out."""

    def __init__(self, connection: http.client.HTTPConnection, tail: bytes) -> None:
        self.connection = connection
        self.tail = tail

    def write(self, data: bytes | memoryview) -> None:
        self.connection.send(data)

    def finish(self) -> Answer:
        """Send the rest of the body and read the answer."""
        self.connection.send(self.tail)
        try:
            response = self.connection.getresponse()
            return Answer(response.status, response.read())
        finally:
            self.connection.close()

    def hang_up(self, *, send_rest: bool = True) -> None:
        """Close without reading the answer (after the rest of the body, by default)."""
        if send_rest:
            self.connection.send(self.tail)
        self.connection.close()


class SrvClient:
    """Calls srv.asmx methods on one server, a fresh connection per call."""

    def __init__(self, host: str, port: int, timeout: float = 120) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def call(self, method: str, **params: object) -> Answer:
        """POST the parameters as a urlencoded form."""
        connection = self.connect()
        try:
            connection.request("POST", f"{PREFIX}/{method}",
                               body=urlencode({k: str(v) for k, v in params.items()}),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = connection.getresponse()
            return Answer(response.status, response.read())
        finally:
            connection.close()

    def call_and_hang_up(self, method: str, **params: object) -> None:
        """Send a whole call, then close before the answer comes: a lost answer."""
        connection = self.connect()
        body = urlencode({k: str(v) for k, v in params.items()}).encode()
        connection.putrequest("POST", f"{PREFIX}/{method}")
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        connection.close()

    # Upload handlers ---------------------------------------------------
    def login(self, uid: str, pwd: str) -> str:
        answer = self.call("AuthenticateUser", UID=uid, PWD=pwd)
        assert answer.ok, answer
        return answer["ticket"]

    def create_handler(self, ticket: str, chunk_size: int = 0) -> str:
        answer = self.call("CreateUploadHandler", authenticationTicket=ticket,
                           PreferedChunkSize=chunk_size)
        assert answer.ok, answer
        return answer["UploadHandler"]

    def status(self, ticket: str, handler: str) -> Answer:
        return self.call("GetUploadHandlerStatus", authenticationTicket=ticket,
                         uploadHandler=handler)

    def delete_handler(self, ticket: str, handler: str) -> Answer:
        return self.call("DeleteUploadHandler", authenticationTicket=ticket,
                         UploadHandler=handler)

    def begin_chunk(self, ticket: str, handler: str, length: int, crc: str, last: bool,
                    offset: int | None = None) -> ChunkRequest:
        """Start an UploadFileChunk of ``length`` bytes; the caller writes them."""
        fields = {"authenticationTicket": ticket, "uploadHandler": handler,
                  "chunkHEXCRC": crc, "lastChunk": "true" if last else "false"}
        if offset is not None:
            fields["chunkOffset"] = str(offset)
        boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
            for name, value in fields.items()
        ) + (f'--{boundary}\r\nContent-Disposition: form-data; name="fileChunk"; '
             f'filename="chunk"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        connection = self.connect()
        connection.putrequest("POST", f"{PREFIX}/UploadFileChunk")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(head) + length + len(tail)))
        connection.endheaders(head)
        return ChunkRequest(connection, tail)

    def send_chunk(self, ticket: str, handler: str, data: bytes, last: bool,
                   offset: int | None = None) -> Answer:
        request = self.begin_chunk(ticket, handler, len(data), crc_hex(data), last, offset)
        request.write(data)
        return request.finish()

    def upload(self, ticket: str, handler: str, pieces: Iterable[bytes], *,
               start: int = 0) -> Answer:
        """Send ``pieces`` with offsets (the last one as the last chunk); the last answer."""
        pieces = list(pieces)
        answer = None
        for index, piece in enumerate(pieces):
            answer = self.send_chunk(ticket, handler, piece, index == len(pieces) - 1, start)
            assert answer.accepted, answer
            start += len(piece)
        assert answer is not None
        return answer

    # Documents ----------------------------------------------------------
    def finalize(self, ticket: str, handler: str, path: str) -> Answer:
        return self.call("UploadDocumentWithHandler", authenticationTicket=ticket,
                         path=path, uploadHandler=handler)

    def download(self, ticket: str, path: str, start: int = 0) -> bytes:
        """The latest version at ``path`` (from byte ``start``), chunk by chunk."""
        answer = self.call("GetDownloadHandler", AuthenticationTicket=ticket, Path=path,
                           PreferedChunkSize=32 << 20)
        assert answer.ok, answer
        handler, pieces, offset = answer["downloadhandler"], [], start
        while True:
            chunk = self.call("DownloadFileChunk", authenticationTicket=ticket,
                              DownloadHandler=handler, StartOffset=offset, ChunkSize=0)
            assert chunk.ok, chunk
            data = base64.b64decode(chunk.element.text or "")
            assert chunk["chunkCRC32"] == crc_hex(data)
            pieces.append(data)
            offset += len(data)
            if chunk["lastchunk"] == "true":
                return b"".join(pieces)
