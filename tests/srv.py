"""A small client for the srv.asmx API over Django's test client, in every binding."""

from __future__ import annotations

import base64
import io
import zlib
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from django.test import Client

BINDINGS = ("get", "post", "multipart")


def crc(data: bytes) -> str:
    """The CRC as the contract writes it (upper-case hex, no leading zeros), computed
    here independently of the app's own formatting so that tests can catch it."""
    return f"{zlib.crc32(data):X}"


class Answer:
    """A parsed answer: the root element plus the HTTP response."""

    def __init__(self, response):
        self.response = response
        assert response["Content-Type"] == "text/xml; charset=utf-8", response["Content-Type"]
        content = b"".join(response.streaming_content) if response.streaming else response.content
        self.element = ET.fromstring(content)
        self.content = content

    def __getitem__(self, name):
        return self.element.attrib[name]

    def get(self, name, default=None):
        return self.element.attrib.get(name, default)

    @property
    def ok(self) -> bool:
        return self.element.attrib.get("success") == "true"

    @property
    def error(self):
        return self.element.attrib.get("error")

    @property
    def tag(self):
        return self.element.tag

    @property
    def text(self):
        return self.element.text

    def __repr__(self):
        return self.content.decode()


class Srv:
    """Calls methods as a legacy client would."""

    def __init__(self, client: Client | None = None, binding: str = "post", prefix="/srv.asmx"):
        self.client = client or Client()
        self.binding = binding
        self.prefix = prefix

    def call(self, method: str, binding: str | None = None, **params) -> Answer:
        binding = binding or self.binding
        url = f"{self.prefix}/{method}"
        if binding == "get":
            return Answer(self.client.get(url, params))
        if binding == "post":
            return Answer(self.client.post(url, urlencode(params),
                                           content_type="application/x-www-form-urlencoded"))
        if binding == "multipart":
            data = {}
            for name, value in params.items():
                if isinstance(value, bytes):
                    value = io.BytesIO(value)
                    value.name = "chunk"
                data[name] = value
            return Answer(self.client.post(url, data))
        raise ValueError(binding)

    # Workflow helpers -------------------------------------------------
    def login(self, username: str, password: str) -> str:
        answer = self.call("AuthenticateUser", UID=username, PWD=password)
        assert answer.ok, answer
        return answer["ticket"]

    def create_handler(self, ticket: str, chunk_size: int = 0) -> str:
        answer = self.call("CreateUploadHandler", authenticationTicket=ticket,
                           PreferedChunkSize=str(chunk_size))
        assert answer.ok, answer
        return answer["UploadHandler"]

    def send_chunk(self, ticket, handler, data: bytes, last: bool, binding=None, **extra):
        binding = binding or self.binding
        chunk = data if binding == "multipart" else base64.b64encode(data).decode()
        params = dict(authenticationTicket=ticket, uploadHandler=handler, fileChunk=chunk,
                      chunkHEXCRC=crc(data), lastChunk="true" if last else "false")
        params.update({k: str(v) for k, v in extra.items()})
        return self.call("UploadFileChunk", binding, **params)

    def upload(self, ticket, data: bytes, chunk_size: int, path: str | None = None) -> str:
        """Upload ``data`` in chunks; finalize at ``path`` when given. Returns the handler."""
        handler = self.create_handler(ticket)
        pieces = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]
        for i, piece in enumerate(pieces):
            answer = self.send_chunk(ticket, handler, piece, last=i == len(pieces) - 1)
            assert answer.ok and answer["tryagain"] == "false", answer
        if path is not None:
            answer = self.call("UploadDocumentWithHandler", authenticationTicket=ticket,
                               path=path, uploadHandler=handler)
            assert answer.ok, answer
        return handler

    def download(self, ticket, path: str, chunk_size: int = 0) -> bytes:
        answer = self.call("GetDownloadHandler", AuthenticationTicket=ticket, Path=path,
                           PreferedChunkSize=str(chunk_size))
        assert answer.ok, answer
        handler, out, offset = answer["downloadhandler"], b"", 0
        while True:
            chunk = self.call("DownloadFileChunk", authenticationTicket=ticket,
                              DownloadHandler=handler, StartOffset=str(offset), ChunkSize="0")
            assert chunk.ok, chunk
            data = base64.b64decode(chunk.text or "")
            assert chunk["chunkCRC32"] == crc(data)
            out += data
            offset += int(chunk["chunklength"])
            if chunk["lastchunk"] == "true":
                return out
