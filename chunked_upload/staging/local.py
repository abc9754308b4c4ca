"""Staging on a local (or shared POSIX) filesystem.

Each handler's bytes are one file ``<dir>/<k[:2]>/<key>.part``, beside a
``<key>.fence`` file holding the fence (lease generation) of its newest
writer. Every change takes ``flock`` on the staged file for as long as the
disk write lasts and checks the fence under it (see :class:`LocalStagedFile`):
``flock`` serialises writers on a host (and across hosts on a shared POSIX
filesystem), the fence makes a stale writer harmless wherever it runs.

Finalizing hard-links the staged file into the document storage (no copy)
only where that is exactly what ``storage.save()`` would have produced: the
storage is Django's own ``FileSystemStorage`` (not a subclass, whose ``_save``
or ``get_available_name`` may do more), or it declares
``chunked_upload_hard_links = True``; the link then gets the storage's
``file_permissions_mode`` (or the umask's default) and new directories its
``directory_permissions_mode``, as ``save()`` would give them. Anything else
is a streamed ``storage.save()``.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.functional import cached_property

from ..conf import get_config
from .base import StagedFile, StagingBackend, StagingError, StagingFenced

SUFFIX = ".part"
# Beside each staged file: the fence of its newest writer (8 bytes, big-endian).
FENCE_SUFFIX = ".fence"
_FENCE = struct.Struct(">Q")
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


def links_like_save(storage: Storage) -> bool:
    """Is a hard link into ``storage`` exactly what its ``save()`` would store?

    True for Django's own ``FileSystemStorage`` (the class itself: a subclass
    may override ``_save`` or ``get_available_name``), and for any storage
    that declares ``chunked_upload_hard_links = True``: a promise that it
    keeps a file named ``name`` at ``storage.path(name)`` and that its
    ``save()`` does nothing beyond writing it there with its
    ``file_permissions_mode`` and ``directory_permissions_mode``.
    """
    if type(storage) is FileSystemStorage:
        return True
    return getattr(storage, "chunked_upload_hard_links", False) is True


def _umask() -> int | None:
    """The process's umask, read without changing it (Linux); None if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return None


def _make_directories(directory: Path, mode: int | None) -> None:
    """Create ``directory`` and missing parents, as ``FileSystemStorage._save`` would."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue  # made meanwhile by another finalize
        if mode is not None:
            os.chmod(path, mode)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStagedFile(StagedFile):
    """A staged file and its fence file; every change is made under ``flock``.

    The lock is taken per change, never while the engine waits for the
    client's next bytes: holding it is only ever as long as a disk write. Under
    it the fence file is read, and a change is made only while it still holds
    this file's fence. A newer holder writes its (higher) fence under the same
    lock, so from then on nothing through this file can reach the bytes.
    """

    def __init__(self, fd: int, fence_fd: int | None, fence: int | None) -> None:
        self._fd = fd
        self._fence_fd = fence_fd
        self._fence = fence
        self._position = os.lseek(fd, 0, os.SEEK_END)
        self._unsynced = 0  # bytes written since writeback was last started

    def _lock(self) -> None:
        """Take the lock and check the fence under it; the caller unlocks (in a
        ``finally``). Not a context manager: this runs for every write."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if self._fence_fd is not None and _read_fence(self._fence_fd) != self._fence:
                raise StagingFenced("a newer request has taken over the staged file")
        except BaseException:
            self._unlock()
            raise

    def _unlock(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    @property
    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def truncate(self, size: int) -> None:
        self._lock()
        try:
            # Every chunk starts with a cut back to the committed size, nearly
            # always a no-op: skipped, as ftruncate would still dirty the inode.
            if os.fstat(self._fd).st_size != size:
                os.ftruncate(self._fd, size)
        except OSError as exc:
            raise StagingError(f"cannot truncate staged file: {exc.strerror}",
                               exc.errno) from exc
        finally:
            self._unlock()
        self._position = size
        self._unsynced = 0

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        self._lock()
        try:
            while view:
                written = os.pwrite(self._fd, view, self._position)
                self._position += written
                view = view[written:]
        except OSError as exc:
            raise StagingError(f"cannot write staged file: {exc.strerror}", exc.errno) from exc
        finally:
            self._unlock()
        self._unsynced += len(data)
        if self._unsynced >= WRITE_BEHIND:
            self.start_sync()

    def start_sync(self) -> None:
        if self._unsynced and _sync_file_range is not None:
            # Only a hint: a failure here is the fsync's to report.
            _sync_file_range(self._fd, self._position - self._unsynced, self._unsynced,
                             _SYNC_FILE_RANGE_WRITE)
        self._unsynced = 0

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise StagingError(f"cannot sync staged file: {exc.strerror}", exc.errno) from exc
        self._unsynced = 0

    def close(self) -> None:
        for fd in (self._fd, self._fence_fd):
            if fd is not None and fd >= 0:
                os.close(fd)
        self._fd = self._fence_fd = -1


def _read_fence(fd: int) -> int:
    raw = os.pread(fd, _FENCE.size, 0)
    return _FENCE.unpack(raw)[0] if len(raw) == _FENCE.size else 0


class LocalStaging(StagingBackend):
    """Staged bytes as files under ``STAGING_DIR``."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        directory = directory or get_config()["STAGING_DIR"]
        if directory is None:
            directory = os.path.join(settings.MEDIA_ROOT or "", "chunked_upload_staging")
        self._root = os.fspath(directory)

    @cached_property
    def directory(self) -> Path:
        # Made on first use: a backend is made for every chunk, and only the
        # file's path (a string) is needed there.
        return Path(self._root)

    def path(self, key: str) -> Path:
        return Path(self._file(key, SUFFIX))

    def fence_path(self, key: str) -> Path:
        return Path(self._file(key, FENCE_SUFFIX))

    def _file(self, key: str, suffix: str) -> str:
        # Plain strings: every chunk opens two of these, and pathlib's parsing
        # costs more than the open itself.
        return os.path.join(self._root, key[:2], key + suffix)

    def open(self, key: str, *, create: bool, fence: int | None = None) -> LocalStagedFile | None:
        path = self._file(key, SUFFIX)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            if not create:
                return None
            fd = self._create(Path(path))
        if fence is None:
            return LocalStagedFile(fd, None, None)
        try:
            fence_fd = os.open(self._file(key, FENCE_SUFFIX),
                               os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            os.close(fd)
            raise StagingError(f"cannot open fence file: {exc.strerror}", exc.errno) from exc
        try:
            self._take_over(fd, fence_fd, fence)
        except BaseException:
            os.close(fd)
            os.close(fence_fd)
            raise
        return LocalStagedFile(fd, fence_fd, fence)

    @staticmethod
    def _take_over(fd: int, fence_fd: int, fence: int) -> None:
        """Make ``fence`` the file's fence, under the lock every change takes."""
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = _read_fence(fence_fd)
            if current > fence:
                raise StagingFenced("a newer request has taken over the staged file")
            if current != fence:
                os.pwrite(fence_fd, _FENCE.pack(fence), 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _create(self, path: Path) -> int:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            # The new directory entry must survive a crash as well as the bytes.
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StagingError(f"cannot create staged file: {exc.strerror}", exc.errno) from exc
        return fd

    def delete(self, key: str) -> int:
        path = self.path(key)
        # The fence first: a staged file left without one by a crash in
        # between is an ordinary leftover, which the expiry sweep removes.
        self.fence_path(key).unlink(missing_ok=True)
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
        if links_like_save(storage):
            linked = self._link_into(source, storage, name)
            if linked is not None:
                return linked
        if storage.exists(name):  # left by an interrupted earlier attempt
            storage.delete(name)
        with open(source, "rb") as content:
            return storage.save(name, File(content, name=name))

    def _link_into(self, source: Path, storage: Storage, name: str) -> str | None:
        """Hard-link ``source`` as ``name`` in a local storage; None if impossible."""
        file_mode = getattr(storage, "file_permissions_mode", None)
        if file_mode is None:
            umask = _umask()
            if umask is None:
                return None  # cannot tell what save() would give: let it save
            file_mode = 0o666 & ~umask
        try:
            target = Path(storage.path(name))
            if target.exists():
                if target.samefile(source):
                    return name  # linked by an earlier attempt cut off by a crash
                storage.delete(name)  # left by an interrupted earlier attempt
            name = storage.get_available_name(name)
            target = Path(storage.path(name))
            _make_directories(target.parent, getattr(storage, "directory_permissions_mode", None))
            os.link(source, target)
            os.chmod(target, file_mode)
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                return None  # another filesystem, or no hard links: copy instead
            raise StagingError(
                f"cannot move staged file into storage: {exc.strerror}", exc.errno
            ) from exc
        _fsync_dir(target.parent)
        return name

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
