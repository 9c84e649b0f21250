"""How many unknown MACs boot requests may still enlist: a budget against a flood.

Anyone on the boot network can ask for ``/ipxe/<any MAC>`` or a TFTP config name; each
unknown MAC used to become a ``new`` host, without limit. Boot requests now enlist at most
``enlist_per_hour`` hosts first seen within the last hour and none while ``enlist_max_new``
hosts are ``new``. Beyond that the machine still gets the answer an unknown host gets, it
is only not recorded (``counters``: ``enlist_refused``). Once the store said no, a process
refuses without asking again for a second, so a flood costs one count query a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pxehook import counters
from pxehook.errors import StoreError
from pxehook.models import State
from pxehook.store import Store

WINDOW = 3600.0


class EnlistBudget:
    """Per process; thread-safe."""

    def __init__(
        self, store: Callable[[], Store], per_hour: int, max_new: int, *,
        recheck: float = 1.0, clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.store = store
        self.per_hour = per_hour
        self.max_new = max_new
        self.recheck = recheck
        self.clock = clock
        self._lock = threading.Lock()
        self._full_until = float("-inf")

    def take(self) -> bool:
        """May one more unknown MAC be enlisted now? The store is asked each time, except
        for ``recheck`` seconds after it said no (a flood then costs no query)."""
        with self._lock:
            now = self.clock()
            if now < self._full_until:
                counters.count("enlist_refused")
                return False
            store = self.store()
            try:
                full = (
                    store.host_count(seen_since=now - WINDOW) >= self.per_hour
                    or store.host_count(state=State.NEW) >= self.max_new
                )
            except StoreError:  # database away: enlist nobody now (docs/racks.md)
                full = True
            if full:
                self._full_until = now + self.recheck
                counters.count("enlist_refused")
                return False
            return True
