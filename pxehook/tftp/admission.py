"""Which read requests may start a transfer: the bounds one client, or a flood, can hold.

At most ``limit`` transfers at once and ``per_client`` per client address. A transfer is
*unconfirmed* from the moment its first packet (an OACK or DATA 1) is sent until the client
acknowledges it; a flood of requests that are never acknowledged (or come from spoofed
addresses) only ever produces unconfirmed transfers. So when a bound is reached, a new
request takes the place of the oldest unconfirmed transfer (of the same address for the
per-client bound); only when every slot holds a client that answered is a request refused.
A real client acknowledges within a round trip and is then never displaced.
"""

from __future__ import annotations

import enum
import threading
from collections import Counter, OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")
Peer = tuple[str, int]


class Verdict(enum.Enum):
    ADMITTED = "admitted"
    DUPLICATE = "duplicate"  # this address and port already has a transfer
    REFUSED = "refused"  # every slot holds a confirmed transfer


class Admission(Generic[T]):
    """The table of live transfers by client (address, port); thread-safe."""

    def __init__(self, limit: int, per_client: int) -> None:
        self.limit = limit
        self.per_client = per_client
        self._lock = threading.Lock()
        self._live: dict[Peer, T] = {}
        self._per_ip: Counter[str] = Counter()
        self._unconfirmed: OrderedDict[Peer, T] = OrderedDict()  # oldest first
        self.refused = 0
        self.displaced = 0

    def __len__(self) -> int:
        return len(self._live)

    def get(self, peer: Peer) -> T | None:
        return self._live.get(peer)

    def admit(self, peer: Peer, item: T) -> tuple[Verdict, T | None]:
        """Admit ``item`` for ``peer``; returns the verdict and the transfer it displaced
        (which the caller must end)."""
        with self._lock:
            if peer in self._live:
                return Verdict.DUPLICATE, None
            displaced = None
            if self._per_ip[peer[0]] >= self.per_client:
                displaced = self._oldest_unconfirmed(peer[0])
            elif len(self._live) >= self.limit:
                displaced = self._oldest_unconfirmed(None)
            else:
                self._add(peer, item)
                return Verdict.ADMITTED, None
            if displaced is None:
                self.refused += 1
                return Verdict.REFUSED, None
            self.displaced += 1
            self._remove(displaced[0])
            self._add(peer, item)
            return Verdict.ADMITTED, displaced[1]

    def waiting(self, peer: Peer) -> None:
        """``peer``'s first packet is out: it may be displaced until confirmed."""
        with self._lock:
            if peer in self._live:
                self._unconfirmed[peer] = self._live[peer]

    def confirm(self, peer: Peer) -> None:
        """``peer`` acknowledged its first packet: it keeps its slot to the end."""
        with self._lock:
            self._unconfirmed.pop(peer, None)

    def release(self, peer: Peer, item: T) -> None:
        """The transfer ended (idempotent; a displaced one is already gone)."""
        with self._lock:
            if self._live.get(peer) is item:
                self._remove(peer)

    def items(self) -> list[T]:
        with self._lock:
            return list(self._live.values())

    def _oldest_unconfirmed(self, ip: str | None) -> tuple[Peer, T] | None:
        for peer, item in self._unconfirmed.items():
            if ip is None or peer[0] == ip:
                return peer, item
        return None

    def _add(self, peer: Peer, item: T) -> None:
        self._live[peer] = item
        self._per_ip[peer[0]] += 1

    def _remove(self, peer: Peer) -> None:
        del self._live[peer]
        self._unconfirmed.pop(peer, None)
        self._per_ip[peer[0]] -= 1
        if not self._per_ip[peer[0]]:
            del self._per_ip[peer[0]]
