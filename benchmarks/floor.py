"""The floor: a framework-free WSGI app that appends each request body to a file.

What HTTP plus disk cost on this machine, with the same durability promise as
UploadFileChunk and the same way of writing (writeback started every MiB, the
body fsynced before the answer), and nothing else: no parsing, no checksum,
no database. ``benchmarks/ingest.py`` serves it under the same gunicorn
settings as the demo site and divides every figure of ours by it, so the
ratio is what the framework and the app cost, not what the disk does.

``POST /<name>`` appends the body to ``$FLOOR_DIR/<name>`` and answers the new
size. ``FLOOR_FSYNC=0`` writes to the page cache only (no writeback, no
fsync): what HTTP alone costs, reported for information.
"""

from __future__ import annotations

import ctypes
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

READ_SIZE = 1 << 20  # gunicorn's largest recv(); bigger reads only add copies
WRITE_BEHIND = 1 << 20  # as chunked_upload.staging.local
_SYNC_FILE_RANGE_WRITE = 2
try:
    _sync_file_range = ctypes.CDLL(None).sync_file_range
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
except AttributeError:  # not Linux
    _sync_file_range = None
_NAME = re.compile(r"/([A-Za-z0-9_.-]{1,100})")
Piece = bytes | memoryview


def append_body(stream: Any, remaining: int, path: str, *, durable: bool = True,
                each: Callable[[Piece], None] | None = None) -> int:
    """Append ``remaining`` bytes read from ``stream`` to ``path``; its new size.

    ``each``, if given, is called with every piece once it is written (and its
    writeback started), as the app hashes a piece while the disk writes it.
    """
    return append_pieces(_read(stream, remaining), path, durable=durable, each=each)


def _read(stream: Any, remaining: int) -> Iterator[bytes]:
    while remaining > 0:
        data = stream.read(min(READ_SIZE, remaining))
        if not data:
            raise OSError("request body cut short")
        remaining -= len(data)
        yield data


def append_pieces(pieces: Iterable[Piece], path: str, *, durable: bool = True,
                  each: Callable[[Piece], None] | None = None, cut_to: int | None = None,
                  ) -> int:
    """Append ``pieces`` to ``path`` as :func:`append_body` appends a body; its new size.

    With ``cut_to``, the file is first cut to that size (bytes beyond it are
    what an append that never committed left).
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        if cut_to is not None:
            os.ftruncate(fd, cut_to)
        position, unsynced = os.lseek(fd, 0, os.SEEK_END), 0
        for data in pieces:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            position += len(data)
            unsynced += len(data)
            if durable and unsynced >= WRITE_BEHIND and _sync_file_range is not None:
                _sync_file_range(fd, position - unsynced, unsynced, _SYNC_FILE_RANGE_WRITE)
                unsynced = 0
            if each is not None:
                each(data)
        if durable:
            os.fsync(fd)
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Append the request body to the file named by the path; answer its size."""
    match = _NAME.fullmatch(environ.get("PATH_INFO", ""))
    if environ["REQUEST_METHOD"] != "POST" or match is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    path = os.path.join(os.environ["FLOOR_DIR"], match.group(1))
    size = append_body(environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0), path,
                       durable=os.environ.get("FLOOR_FSYNC", "1") == "1")
    body = b"%d\n" % size
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
