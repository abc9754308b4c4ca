"""Reading the local file: a chunk at a time into reused buffers, read ahead, and its CRC."""

from __future__ import annotations

import io
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from .errors import IntegrityError, ResumeError
from .protocol import crc32


class ChunkReader:
    """The source a chunk at a time, into ``buffers`` reused buffers in turn.

    With a known size each chunk is exactly what is left or a chunk size;
    without one (a pipe) one byte more is read to learn whether this chunk
    is the last, and kept for the next.
    """

    def __init__(self, file: BinaryIO, chunk_size: int, size: int | None,
                 buffers: int = 1) -> None:
        self.file, self.chunk_size, self.left = file, chunk_size, size
        self.views = [memoryview(bytearray(chunk_size + 1)) for _ in range(buffers)]
        self.turn = 0
        self.spare: int | None = None  # the byte read past the last chunk (a pipe)

    def next(self) -> tuple[memoryview, bool]:
        """The next chunk and whether it is the last.

        A chunk stays valid until its buffer's turn comes again: until the
        next call with one buffer, the one after with two.
        """
        size, view = self.chunk_size, self.views[self.turn]
        self.turn = (self.turn + 1) % len(self.views)
        if self.left is not None:
            wanted = min(size, self.left)
            if fill(self.file, view, 0, wanted) != wanted:
                raise IntegrityError("the file became shorter while it was being uploaded")
            self.left -= wanted
            return view[:wanted], self.left == 0
        start = 0
        if self.spare is not None:
            view[0], start = self.spare, 1
        got = fill(self.file, view, start, size + 1)
        self.spare = view[size] if got > size else None
        return view[:min(got, size)], self.spare is None


class ReadAhead:
    """Chunks and their CRC-32, each read in a thread while the one before is sent.

    Reading a chunk and computing its CRC cost a few milliseconds of CPU
    per 8 MiB, which the upload would otherwise spend between requests with
    the server idle; here they overlap the previous request (the file read
    and ISA-L's or zlib's CRC release the GIL). Memory: two chunk buffers.
    The file is read in order, by the thread alone, until :meth:`close`; a
    read that fails (the file became shorter) raises from :meth:`next`.
    """

    def __init__(self, file: BinaryIO, chunk_size: int, size: int | None) -> None:
        self.reader = ChunkReader(file, chunk_size, size, buffers=2)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="chunk-reader")
        self.pending: Future[tuple[memoryview, bool, int]] | None = self.pool.submit(self._read)

    def _read(self) -> tuple[memoryview, bool, int]:
        chunk, last = self.reader.next()
        return chunk, last, crc32(chunk)

    def next(self) -> tuple[memoryview, bool, int]:
        """The next chunk (valid until the next call), whether it is the last, its CRC."""
        if self.pending is None:
            raise EOFError("the last chunk has been read")
        chunk, last, crc = self.pending.result()
        # The chunk before is done with: its buffer takes the chunk after.
        self.pending = None if last else self.pool.submit(self._read)
        return chunk, last, crc

    def close(self) -> None:
        """Stop reading ahead (after the read under way, if any: the file stays ours)."""
        self.pending = None
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def fill(file: BinaryIO, view: memoryview, start: int, end: int) -> int:
    """Read into ``view[start:end]`` until full or end of file; where it stopped."""
    position = start
    readinto = getattr(file, "readinto", None)
    while position < end:
        if readinto is not None:
            count = readinto(view[position:end])
        else:
            data = file.read(end - position)
            count = len(data)
            view[position:position + count] = data
        if not count:
            break
        position += count
    return position


def crc_of_prefix(file: BinaryIO, length: int, piece: int) -> int:
    """CRC-32 of the file's first ``length`` bytes; the file is left at ``length``."""
    file.seek(0)
    buffer = memoryview(bytearray(min(piece, max(length, 1))))
    crc, left = 0, length
    while left:
        got = fill(file, buffer, 0, min(len(buffer), left))
        if not got:
            raise ResumeError("the file is shorter than what the server already holds")
        crc, left = crc32(buffer[:got], crc), left - got
    return crc


def remaining_size(file: BinaryIO) -> int | None:
    """Bytes from the file's position to its end, None if it cannot seek (a pipe)."""
    try:
        if not file.seekable():
            return None
        position = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(position)
        return end - position
    except (AttributeError, OSError):
        return None
