"""Progress reporting: the callback type and a rate meter.

The library calls ``progress(bytes_done, bytes_total)`` after every chunk
(``bytes_total`` is None when the size is unknown, as for a pipe). A
:class:`RateMeter` turns those calls into a rate and an ETA; the CLI draws
them with tqdm when it is installed and the output is a terminal.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

#: ``progress(bytes_done, bytes_total)``.
ProgressCallback = Callable[[int, "int | None"], None]


class RateMeter:
    """Bytes per second over the last ``window`` seconds; usable as a callback.

    ::

        meter = RateMeter()
        upload(session, "big.iso", "/isos/big.iso", progress=meter)
        meter.rate, meter.eta
    """

    def __init__(self, window: float = 10.0, then: ProgressCallback | None = None) -> None:
        self.window = window
        self.then = then
        self.done = 0
        self.total: int | None = None
        self.started = time.monotonic()
        self._samples: deque[tuple[float, int]] = deque([(self.started, 0)])

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if done < self.done:  # a restart from zero (a download begun again)
            self._samples.clear()
        self.done, self.total = done, total
        self._samples.append((now, done))
        while len(self._samples) > 2 and self._samples[0][0] < now - self.window:
            self._samples.popleft()
        if self.then is not None:
            self.then(done, total)

    @property
    def rate(self) -> float:
        """Bytes per second over the window (0.0 before two samples)."""
        (first, first_done), (last, last_done) = self._samples[0], self._samples[-1]
        return (last_done - first_done) / (last - first) if last > first else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, None if unknown."""
        if self.total is None or not self.rate:
            return None
        return max(self.total - self.done, 0) / self.rate


def format_bytes(count: float) -> str:
    """``1536`` → ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
