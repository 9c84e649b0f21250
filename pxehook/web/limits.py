"""Caps on what the network can make the server write: a per-key count per time window.

Each refused install-done callback used to add a ``callback.refused`` row to the host's
timeline, so anyone could grow the events table at will by guessing tokens. A worker now
records at most ``callback_refusals_logged`` refusals per host per hour; further ones are
still refused and logged, and counted in /metrics (``callback_event_dropped``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class WindowCap:
    """At most ``limit`` per key per ``window`` seconds; remembers at most ``keys`` keys
    (the oldest forgotten first), so the cap itself stays bounded."""

    def __init__(
        self, limit: int, window: float = 3600.0, keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.limit, self.window, self.keys, self.clock = limit, window, keys, clock
        self._seen: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> bool:
        """Count one for ``key``; False when its window is already full."""
        with self._lock:
            now = self.clock()
            start, n = self._seen.pop(key, (now, 0))
            if now - start >= self.window:
                start, n = now, 0
            self._seen[key] = (start, n + 1)
            while len(self._seen) > self.keys:
                self._seen.popitem(last=False)
            return n < self.limit
