"""Which rack leads the fleet: several ``pxehook serve`` on one database, one leader.

Work done once per fleet (inventory apply, the life-cycle sweep and time-outs, pruning)
runs only on the resolver holding the database's leader lock (``store/leader.py``); the
supervisor (``services.py``) asks :meth:`Leadership.check` every ``leader_check_interval``
seconds and starts or stops that work when the answer changes. When the leader dies, its
database session ends, the lock is free and the next resolver to ask takes it (docs/racks.md).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pxehook.servicestatus import LEADER, STANDBY
from pxehook.store import Store

log = logging.getLogger("pxehook.fleet")


class Leadership:
    """This resolver's role in the fleet, from the database's leader lock."""

    def __init__(self, store: Store, rack: str) -> None:
        self.lock = store.leader_lock()
        self.rack = rack
        self.leader = False
        self.since = time.time()

    def check(self) -> bool:
        """Take the lock if it is free, or confirm we still hold it; True when the role
        changed since the last check."""
        held = self.lock.hold()
        if held == self.leader:
            return False
        self.leader, self.since = held, time.time()
        if held:
            log.warning("rack %s now leads the fleet (inventory, life-cycle sweep)", self.rack)
        else:
            why = f" ({self.lock.error})" if self.lock.error else ""
            log.warning("rack %s no longer leads the fleet%s", self.rack, why)
        return True

    def release(self) -> None:
        """Give the lead up (a clean stop: another rack takes it at its next check)."""
        self.lock.release()
        self.leader = False

    def view(self) -> dict[str, Any]:
        """What ``/healthz`` and ``/metrics`` show."""
        return {
            "rack": self.rack,
            "role": LEADER if self.leader else STANDBY,
            "since": self.since,
            "error": self.lock.error,
        }
