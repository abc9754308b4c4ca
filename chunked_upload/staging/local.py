"""Staging on a local (or shared POSIX) filesystem.

Each handler's bytes are one file ``<dir>/<k[:2]>/<key>.part``, locked with
``flock`` while open. Finalizing into a ``FileSystemStorage`` on the same
filesystem hard-links the file (no copy); anything else is a streamed save
through the Storage API.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage

from ..conf import get_config
from .base import StagedFile, StagingBackend, StagingError

SUFFIX = ".part"
# Writeback of staged bytes is started every WRITE_BEHIND bytes, so the disk
# writes while the rest of the chunk arrives and the fsync before the commit
# waits only for the tail. Durability is unchanged: that fsync still decides.
WRITE_BEHIND = 1 << 20


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's sync_file_range(2), which starts writeback without waiting for it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):  # pragma: no cover - an unusual libc
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStagedFile(StagedFile):
    """A staged file held open with an exclusive ``flock``."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._unsynced = 0  # bytes written since writeback was last started

    @property
    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def truncate(self, size: int) -> None:
        try:
            # Every chunk starts with a cut back to the committed size, nearly
            # always a no-op: skipped, as ftruncate would still dirty the inode.
            if os.fstat(self._fd).st_size != size:
                os.ftruncate(self._fd, size)
            os.lseek(self._fd, size, os.SEEK_SET)
        except OSError as exc:
            raise StagingError(f"cannot truncate staged file: {exc.strerror}", exc.errno) from exc
        self._unsynced = 0

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            raise StagingError(f"cannot write staged file: {exc.strerror}", exc.errno) from exc
        self._unsynced += len(data)
        if self._unsynced >= WRITE_BEHIND:
            self.start_sync()

    def start_sync(self) -> None:
        if self._unsynced and _sync_file_range is not None:
            end = os.lseek(self._fd, 0, os.SEEK_CUR)
            # Only a hint: a failure here is the fsync's to report.
            _sync_file_range(self._fd, end - self._unsynced, self._unsynced,
                             _SYNC_FILE_RANGE_WRITE)
        self._unsynced = 0

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise StagingError(f"cannot sync staged file: {exc.strerror}", exc.errno) from exc
        self._unsynced = 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing releases the flock
            self._fd = -1


class LocalStaging(StagingBackend):
    """Staged bytes as files under ``STAGING_DIR``."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        directory = directory or get_config()["STAGING_DIR"]
        if directory is None:
            directory = Path(settings.MEDIA_ROOT or ".") / "chunked_upload_staging"
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}{SUFFIX}"

    def open(self, key: str, *, create: bool) -> LocalStagedFile | None:
        path = self.path(key)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            if not create:
                return None
            fd = self._create(path)
        fcntl.flock(fd, fcntl.LOCK_EX)
        staged = LocalStagedFile(fd)
        os.lseek(fd, 0, os.SEEK_END)
        return staged

    def _create(self, path: Path) -> int:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            # The new directory entry must survive a crash as well as the bytes.
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StagingError(f"cannot create staged file: {exc.strerror}", exc.errno) from exc
        return fd

    def open_read(self, key: str) -> BinaryIO:
        try:
            return open(self.path(key), "rb")  # the caller closes it
        except FileNotFoundError as exc:
            raise StagingError("staged bytes are missing") from exc

    def delete(self, key: str) -> int:
        path = self.path(key)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def hand_over(self, key: str, storage: Storage, name: str) -> str:
        source = self.path(key)
        if not source.exists():
            raise StagingError("staged bytes are missing")
        if isinstance(storage, FileSystemStorage):
            linked = self._link_into(source, storage, name)
            if linked:
                return name
        if storage.exists(name):  # left by an interrupted earlier attempt
            storage.delete(name)
        with open(source, "rb") as content:
            return storage.save(name, File(content, name=name))

    def _link_into(self, source: Path, storage: FileSystemStorage, name: str) -> bool:
        """Hard-link ``source`` to ``name`` in a local storage; False if impossible."""
        target = Path(storage.path(name))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                if target.samefile(source):
                    return True
                target.unlink()
            os.link(source, target)
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                return False  # another filesystem, or no hard links: copy instead
            raise StagingError(
                f"cannot move staged file into storage: {exc.strerror}", exc.errno
            ) from exc
        _fsync_dir(target.parent)
        return True

    def modified_at(self, key: str) -> datetime | None:
        try:
            mtime = self.path(key).stat().st_mtime
        except FileNotFoundError:
            return None
        return datetime.fromtimestamp(mtime, tz=timezone.utc)

    def keys(self) -> Iterator[tuple[str, int]]:
        if not self.directory.is_dir():
            return
        for sub in self.directory.iterdir():
            if not sub.is_dir():
                continue
            for entry in os.scandir(sub):
                if not entry.name.endswith(SUFFIX):
                    continue
                try:
                    size = entry.stat().st_size
                except FileNotFoundError:
                    continue  # removed since the directory was listed (a finalize, a sweep)
                yield entry.name[: -len(SUFFIX)], size
