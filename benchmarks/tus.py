"""The Node tus server as a peer: ``@tus/server`` with ``@tus/file-store``.

``benchmarks/tus/`` pins both packages (package.json and package-lock.json)
and holds a ten-line ``server.mjs`` of ours; install them once with
``npm ci --prefix benchmarks/tus``. The server is started here, on loopback,
writing to its own directory, and driven by the benchmark's lean client
(:class:`~benchmarks.srvclient.Connection`): one creation POST, then one
PATCH per chunk, each body sent straight from the source buffer, as ours are.

Durability: the file store writes each PATCH into the page cache and never
fsyncs, and it answers ``204`` once the bytes are in the kernel. A power cut
or kernel crash can lose chunks it has acknowledged (a process crash cannot),
and its client would not resend them: the upload is silently short or has a
hole. UploadFileChunk answers only after fsync, so the comparison is the
durable promise against the page-cache one; the floor without fsync
(``--cache-floor``) shows what that difference is worth on this disk. It checks
no per-chunk checksum either (the tus checksum extension is not offered), so
it does less work per byte than ours (CRC-32 and SHA-256).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from .servers import Probe, free_port, stop
from .srvclient import BenchmarkError, Connection

PACKAGE = Path(__file__).resolve().parent / "tus"
TUS = {"Tus-Resumable": "1.0.0"}


class TusServer:
    """``node server.mjs`` on a free port, storing uploads in ``directory``."""

    def __init__(self, directory: Path, log: Path) -> None:
        if shutil.which("node") is None or not (PACKAGE / "node_modules/@tus/server").is_dir():
            raise BenchmarkError("the tus peer needs Node 20 and "
                                 "`npm ci --prefix benchmarks/tus`")
        directory.mkdir(exist_ok=True)
        self.directory = directory
        self.port = free_port()
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                ["node", "server.mjs", str(self.port), str(directory)], cwd=PACKAGE,
                stdout=output, stderr=subprocess.STDOUT)
        self.log = log
        self._wait_ready()
        self.pids = [self.process.pid]
        self.conn = Connection(self.port)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"the tus server exited, see {self.log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise BenchmarkError(f"the tus server did not start, see {self.log}")

    def probe(self) -> Probe:
        """Memory and CPU of the (single) Node process over one run."""
        return Probe(self.pids)

    def upload(self, data: memoryview, chunk_size: int) -> float:
        """Create an upload and PATCH ``data`` in chunks; seconds taken. The file is
        checked for its size and removed."""
        # A fresh connection: Node closes idle keep-alive connections (after 5 s by
        # default) while the other servers are measured.
        self.conn.close()
        started = time.perf_counter()
        status, headers, answer = self.conn.request(
            "POST", "/files", {**TUS, "Upload-Length": str(len(data))})
        if status != 201:
            raise BenchmarkError(f"tus: creation answered {status}: {answer[:300]!r}")
        upload_id = headers["Location"].rpartition("/")[2]
        path = f"/files/{upload_id}"
        for offset in range(0, len(data), chunk_size):
            chunk = data[offset:offset + chunk_size]
            status, headers, answer = self.conn.request(
                "PATCH", path, {**TUS, "Upload-Offset": str(offset),
                                "Content-Type": "application/offset+octet-stream"}, body=chunk)
            if status != 204 or int(headers["Upload-Offset"]) != offset + len(chunk):
                raise BenchmarkError(f"tus: PATCH at {offset} answered {status}: {answer[:300]!r}")
        seconds = time.perf_counter() - started
        stored = self.directory / upload_id
        if stored.stat().st_size != len(data):
            raise BenchmarkError(f"tus stored {stored.stat().st_size} bytes of {len(data)}")
        stored.unlink()
        stored.with_name(upload_id + ".json").unlink(missing_ok=True)
        return seconds

    def stop(self) -> None:
        self.conn.close()
        stop(self.process)
