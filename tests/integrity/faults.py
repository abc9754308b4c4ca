"""Pause points inside the demo server's workers, to crash it at an exact step.

The gunicorn configuration (:mod:`tests.integrity.gunicorn_conf`) installs
them in every worker. Nothing is replaced: each point runs the real function
and, just before or after it, only if the test armed it (a file named after
the point in the faults directory), records the worker's pid and waits until
the test disarms it or, usually, kills the process. That is how a test stops the server
between "bytes written and rows written" and "transaction committed", which
no timing trick could hit reliably.
"""

from __future__ import annotations

import functools
import importlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: point -> (module, class or None, function, "before" or "after" the call).
POINTS: dict[str, tuple[str, str | None, str, str]] = {
    # A chunk's bytes are fsynced and its ledger row written, not committed.
    "chunk-recorded": ("chunked_upload.engine.uploads", "ChunkAppend", "_append", "after"),
    # Finalize has stored the bytes and written the version row, not committed.
    "version-created": ("chunked_upload.engine.finalize", None, "_create_version", "after"),
    # A finalize (or delete) committed; its staged bytes are about to be removed.
    "staged-removal": ("chunked_upload.staging.local", "LocalStaging", "delete", "before"),
}


def install(directory: str | os.PathLike[str]) -> None:
    """Wrap every point's function (in a server worker)."""
    directory = Path(directory)
    points = dict(POINTS)
    if os.environ.get("DOCUMENTS_S3_BUCKET"):  # the site stages on S3 (see tests/integrity/s3.py)
        points["staged-removal"] = ("chunked_upload.staging.s3", "S3Staging", "delete", "before")
    for point, (module_name, class_name, function_name, when) in points.items():
        owner: Any = importlib.import_module(module_name)
        if class_name:
            owner = getattr(owner, class_name)
        original = getattr(owner, function_name, None)
        if original is None:
            raise RuntimeError(f"pause point {point}: {module_name}.{function_name} is gone")
        setattr(owner, function_name, _pausing(original, directory / point, when))


def _pausing(original: Callable[..., Any], arm: Path, when: str) -> Callable[..., Any]:
    def pause() -> None:
        if arm.exists():
            arm.with_suffix(".reached").write_text(str(os.getpid()))
            while arm.exists():
                time.sleep(0.02)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when == "before":
            pause()
        result = original(*args, **kwargs)
        if when == "after":
            pause()
        return result

    return wrapper


class Faults:
    """The test's side: arm a point, wait for a worker to reach it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def arm(self, point: str) -> None:
        assert point in POINTS, point
        (self.directory / f"{point}.reached").unlink(missing_ok=True)
        (self.directory / point).touch()

    def disarm(self, point: str) -> None:
        (self.directory / point).unlink(missing_ok=True)

    def disarm_all(self) -> None:
        for point in POINTS:
            self.disarm(point)

    def wait_reached(self, point: str, timeout: float = 30) -> int:
        """The pid of the worker paused at ``point``."""
        reached = self.directory / f"{point}.reached"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if reached.exists() and (text := reached.read_text()):
                return int(text)
            time.sleep(0.02)
        raise TimeoutError(f"no worker reached {point}")
