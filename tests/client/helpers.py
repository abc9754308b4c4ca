"""Helpers of the client's tests: files made on the fly, the command run, the ledger read."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.integrity.database import REPO
from tests.integrity.site import DemoSite

MiB = 1 << 20
CHUNK = 256 * 1024  # the server's smallest chunk: many chunks from small files


def make_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path`` a MiB at a time; their SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as file:
        left = size
        while left:
            piece = os.urandom(min(left, MiB))
            digest.update(piece)
            file.write(piece)
            left -= len(piece)
    return digest.hexdigest()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while piece := file.read(MiB):
            digest.update(piece)
    return digest.hexdigest()


def stored_sha256(site: DemoSite, version_id: int) -> str:
    """The SHA-256 the server recorded for a version (it hashes what it stores)."""
    return site.database.query("SELECT sha256 FROM chunked_upload_documentversion "
                               "WHERE id = %s", (version_id,))[0][0]


def ledger(site: DemoSite, handler: str) -> list[tuple[int, int, int]]:
    """The handler's chunk rows: (index, offset, length), in order."""
    return site.database.query(
        'SELECT "index", "offset", length FROM chunked_upload_chunk WHERE handler_id = %s '
        'ORDER BY "index"', (site.database.handler_key(handler),))


def assert_ledger_contiguous(site: DemoSite, handler: str, size: int) -> None:
    """Every byte appended exactly once: chunks back to back, 0 to ``size``."""
    rows = ledger(site, handler)
    position = 0
    for number, (index, offset, length) in enumerate(rows):
        assert (index, offset) == (number, position), f"chunk {number} is {rows[number]}"
        position += length
    assert position == size, f"the ledger adds up to {position}, not {size}"


class Cli:
    """Runs ``python -m chunked_upload.client`` as a user would, against the site."""

    def __init__(self, url: str, user: str, password: str, state_dir: Path, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CHUNKED_UPLOAD_")}
        self.env.update(CHUNKED_UPLOAD_URL=url, CHUNKED_UPLOAD_USER=user,
                        CHUNKED_UPLOAD_PASSWORD=password,
                        CHUNKED_UPLOAD_STATE_DIR=str(state_dir),
                        PYTHONPATH=str(REPO))

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "chunked_upload.client", *args]

    def run(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), cwd=self.cwd, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), cwd=self.cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
