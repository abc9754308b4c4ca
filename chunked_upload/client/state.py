"""Upload state files: what a crashed upload needs to resume.

One small JSON file per upload in progress (per server, user, source file
and destination), rewritten atomically after every chunk the server
acknowledged and removed when the upload is finalized. It names the
handler, the chunk size, the source file's identity (path, size, mtime)
and how far the server had committed, with the CRC-32 of those bytes.
Resuming always asks the server where it stands: the file is a pointer,
not the truth.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1


def default_directory() -> Path:
    """``$CHUNKED_UPLOAD_STATE_DIR``, else ``$XDG_STATE_HOME/chunked-upload``."""
    if configured := os.environ.get("CHUNKED_UPLOAD_STATE_DIR"):
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "chunked-upload"


@dataclass
class UploadState:
    """One upload in progress, as the last acknowledged chunk left it."""

    server: str
    user: str
    source: str  # absolute path of the local file
    destination: str  # the document path on the server
    size: int
    mtime_ns: int
    handler: str
    chunk_size: int
    offset: int = 0  # bytes the server acknowledged
    crc32: int = 0  # CRC-32 of those bytes
    options: dict[str, Any] = field(default_factory=dict)  # the finalizer's options
    updated: float = 0.0
    format: int = FORMAT


class StateStore:
    """The directory of state files (created on first write, mode 0700)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_directory()

    def path(self, server: str, user: str, source: str, destination: str) -> Path:
        key = "\n".join((server, user, source, destination.lower()))
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def load(self, server: str, user: str, source: str, destination: str) -> UploadState | None:
        """The state of this upload, None if there is none."""
        return self._read(self.path(server, user, source, destination))

    def save(self, state: UploadState, *, sync: bool = True) -> None:
        """Write ``state``: a new file renamed over the old one, fsynced if ``sync``.

        The handler id must survive a power cut (the first save, with
        ``sync``); the offset is only a hint, since resuming asks the
        server, so the uploader's later saves skip the fsync.
        """
        state.updated = time.time()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.path(state.server, state.user, state.source, state.destination)
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w") as file:
                json.dump(asdict(state), file, indent=1)
                file.flush()
                if sync:
                    os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def remove(self, state: UploadState) -> None:
        self.path(state.server, state.user, state.source, state.destination).unlink(
            missing_ok=True)

    def all(self) -> list[UploadState]:
        """Every upload in progress, oldest first."""
        if not self.directory.is_dir():
            return []
        states = [state for path in self.directory.glob("*.json")
                  if (state := self._read(path)) is not None]
        return sorted(states, key=lambda state: state.updated)

    @staticmethod
    def _read(path: Path) -> UploadState | None:
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                return None
            return UploadState(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            return None  # a torn or foreign file: not ours to resume
