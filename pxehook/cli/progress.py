"""A progress bar on stderr for long work, shown only on a terminal and only when slow.

Commands pass a ``ProgressBar`` as the ``progress(phase, done, total)`` callback of the
inventory's check and apply. Nothing is printed when stderr is not a terminal (scripts,
logs) or when the work ends within ``delay`` seconds; the bar is erased when it is done.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

WIDTH = 30


class ProgressBar:
    """``progress(phase, done, total)``, drawn as ``phase [####      ] done/total``."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        delay: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.delay, self.clock = delay, clock
        self.started = clock()
        self._drawn_at = float("-inf")
        self._width = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if now - self.started < self.delay or (now - self._drawn_at < 0.1 and done < total):
            return
        filled = WIDTH * done // total if total else WIDTH
        line = f"{phase:<6} [{'#' * filled}{' ' * (WIDTH - filled)}] {done}/{total}"
        self.stream.write("\r" + line + " " * max(0, self._width - len(line)))
        self.stream.flush()
        self._drawn_at, self._width = now, len(line)

    def close(self) -> None:
        """Erase the bar, if one was drawn."""
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
