"""Measure percent-decoding of urlencoded chunk bodies, and print the figures.

The urlencoded binding carries chunks as Base64 text with ``+``, ``/`` and
``=`` escaped (about one character in 22). This decodes such a body through
the streaming form parser (what UploadFileChunk reads), for a body as a
browser or script sends it (``%XX`` only) and as a .NET HttpPost proxy sends
it (the same chunk, its text fields with ``%uXXXX``), and prints MB/s of body.

Usage (from the repository root)::

    .venv/bin/python benchmarks/urlencoding.py               # a 4 MiB chunk
    .venv/bin/python benchmarks/urlencoding.py --mib 32 --repeat 3
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chunked_upload.wire.bodies import Base64Decoder, iter_parts

TEXT = "AuthenticationTicket=x&UploadHandler=y&ChunkHEXCRC=0&LastChunk=false"
FIELDS = {"utf8": f"{TEXT}&Note=Gr%C3%BC%C3%9Fe", "dotnet": f"{TEXT}&Note=Gr%u00FC%u00DFe"}


def read_body(body: bytes) -> int:
    """Parse the body as UploadFileChunk does; return the chunk's decoded size."""
    size = 0
    for part in iter_parts(io.BytesIO(body), "application/x-www-form-urlencoded"):
        if part.name == "FileChunk":
            decoder = Base64Decoder()
            size += sum(len(decoder.feed(piece)) for piece in part.iter_bytes())
        else:
            part.read_text()
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=4, help="chunk size in MiB")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    args = parser.parse_args()
    chunk = os.urandom(args.mib << 20)
    encoded = quote(base64.b64encode(chunk).decode(), safe="")
    for name, fields in FIELDS.items():
        body = f"{fields}&FileChunk={encoded}".encode("ascii")
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            assert read_body(body) == len(chunk)
            best = min(best, time.perf_counter() - start)
        print(f"{name:>6}: {len(body) / 2**20:6.1f} MiB body, {args.mib} MiB chunk: "
              f"{best * 1000:7.1f} ms, {len(body) / best / 1e6:6.0f} MB/s (best of {args.repeat})")


if __name__ == "__main__":
    main()
