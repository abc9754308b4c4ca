"""Progress on a terminal (a tqdm bar) or, elsewhere, plain lines now and then."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from .progress import RateMeter, format_bytes

PLAIN_INTERVAL = 5.0  # seconds between plain progress lines


class Display:
    """A callback that shows one transfer's progress on ``stream`` (stderr).

    A tqdm bar with rate and ETA when ``stream`` is a terminal and tqdm is
    installed (the ``progress`` extra); otherwise a line every few seconds
    and one at the end, which reads well in a log file or a CI job.
    """

    def __init__(self, name: str, stream: TextIO | None = None, *, enabled: bool = True,
                 interval: float = PLAIN_INTERVAL) -> None:
        self.name, self.stream, self.enabled = name, stream or sys.stderr, enabled
        self.interval = interval
        self.meter = RateMeter()
        self.bar = None
        self.last_line = 0.0
        self.started_at: int | None = None
        if enabled and self.stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self.bar = tqdm(desc=name, unit="B", unit_scale=True, unit_divisor=1024,
                                file=self.stream, dynamic_ncols=True, leave=True)

    def __call__(self, done: int, total: int | None) -> None:
        self.meter(done, total)
        if not self.enabled:
            return
        if self.bar is not None:
            if self.started_at is None:  # a resumed transfer starts part-way
                self.started_at = done
                self.bar.reset(total=total)
                self.bar.update(done)
            else:
                self.bar.update(done - self.bar.n)
            return
        now = time.monotonic()
        finished = total is not None and done >= total
        if finished or (done and now - self.last_line >= self.interval):
            self.last_line = now
            self.stream.write(self.line(done, total) + "\n")
            self.stream.flush()

    def line(self, done: int, total: int | None) -> str:
        """``name: 45% 450.0 MiB of 1.0 GiB, 98.1 MiB/s, ETA 5 s``."""
        text = f"{self.name}: "
        if total:
            text += f"{done * 100 // total}% {format_bytes(done)} of {format_bytes(total)}"
        else:
            text += format_bytes(done)
        text += f", {format_bytes(self.meter.rate)}/s"
        if (eta := self.meter.eta) is not None and total and done < total:
            text += f", ETA {eta:.0f} s"
        return text

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Display:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
