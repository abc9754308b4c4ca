"""Reading the local file: a chunk at a time into one reused buffer, and its CRC."""

from __future__ import annotations

import io
from typing import BinaryIO

from .errors import IntegrityError, ResumeError
from .protocol import crc32


class ChunkReader:
    """The source a chunk at a time, into one reused buffer.

    With a known size each chunk is exactly what is left or a chunk size;
    without one (a pipe) one byte more is read to learn whether this chunk
    is the last, and kept for the next.
    """

    def __init__(self, file: BinaryIO, chunk_size: int, size: int | None) -> None:
        self.file, self.chunk_size, self.left = file, chunk_size, size
        self.buffer = bytearray(chunk_size + 1)
        self.view = memoryview(self.buffer)
        self.spare = False

    def next(self) -> tuple[memoryview, bool]:
        """The next chunk (valid until the next call) and whether it is the last."""
        size = self.chunk_size
        if self.left is not None:
            wanted = min(size, self.left)
            if fill(self.file, self.view, 0, wanted) != wanted:
                raise IntegrityError("the file became shorter while it was being uploaded")
            self.left -= wanted
            return self.view[:wanted], self.left == 0
        start = 0
        if self.spare:
            self.buffer[0], start = self.buffer[size], 1
        got = fill(self.file, self.view, start, size + 1)
        self.spare = got > size
        return self.view[:min(got, size)], not self.spare


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
