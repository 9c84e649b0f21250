"""Which read requests may start a transfer: the bounds one client, or a flood, can hold.

A transfer *waits* from its request until the client acknowledges the first packet (an
OACK or DATA 1), then it is *active* (a worker thread sends the rest). A flood of requests
that are never acknowledged, from one address or from spoofed ones, only ever produces
waiting transfers, which cost a socket and no thread. So:

* at most ``per_client`` transfers per client address; a new request from an address at
  its bound takes the place of that address's oldest waiting transfer, else is refused;
* at most ``max_waiting`` waiting transfers; at the bound a new request takes the place of
  a waiting one of the address that holds the most (the oldest of them); only when every
  address holds one does the oldest give way. A real machine asks for one file at a time
  and acknowledges within a round trip, after which it is never displaced;
* at most ``max_active`` active transfers; while that many clients are being served, new
  requests are refused (dropped: the client asks again).
"""

from __future__ import annotations

import enum
import threading
from collections import Counter, OrderedDict, defaultdict
from typing import Generic, TypeVar

T = TypeVar("T")
Peer = tuple[str, int]


class Verdict(enum.Enum):
    ADMITTED = "admitted"
    DUPLICATE = "duplicate"  # this address and port already has a transfer
    REFUSED = "refused"


class Admission(Generic[T]):
    """The table of live transfers by client (address, port); thread-safe."""

    def __init__(self, max_active: int, max_waiting: int, per_client: int) -> None:
        self.max_active = max_active
        self.max_waiting = max_waiting
        self.per_client = per_client
        self._lock = threading.Lock()
        self._live: dict[Peer, T] = {}
        self._active: set[Peer] = set()
        self._per_ip: Counter[str] = Counter()
        # displaceable (first packet out, not acknowledged): oldest first, overall and per
        # address, and addresses by how many they hold
        self._oldest: OrderedDict[Peer, T] = OrderedDict()
        self._by_ip: dict[str, OrderedDict[Peer, T]] = {}
        self._holding: defaultdict[int, set[str]] = defaultdict(set)
        self._most = 0
        self.refused = 0
        self.displaced = 0

    def __len__(self) -> int:
        return len(self._live)

    @property
    def active(self) -> int:
        return len(self._active)

    @property
    def waiting(self) -> int:
        return len(self._live) - len(self._active)

    def get(self, peer: Peer) -> T | None:
        return self._live.get(peer)

    def admit(self, peer: Peer, item: T) -> tuple[Verdict, T | None]:
        """Admit ``item`` for ``peer``: the verdict and the waiting transfer it displaced
        (which the caller must end)."""
        with self._lock:
            if peer in self._live:
                return Verdict.DUPLICATE, None
            victim = None
            if self._per_ip[peer[0]] >= self.per_client:
                victim = next(iter(self._by_ip.get(peer[0], ())), None)
                if victim is None:
                    return self._refuse()
            elif len(self._active) >= self.max_active:
                return self._refuse()
            elif self.waiting >= self.max_waiting:
                victim = self._victim()
                if victim is None:
                    return self._refuse()
            displaced = None
            if victim is not None:
                displaced = self._live[victim]
                self.displaced += 1
                self._remove(victim)
            self._live[peer] = item
            self._per_ip[peer[0]] += 1
            return Verdict.ADMITTED, displaced

    def sent(self, peer: Peer) -> None:
        """``peer``'s first packet is out: it may be displaced until it is acknowledged."""
        with self._lock:
            if peer not in self._live or peer in self._active or peer in self._oldest:
                return
            item = self._live[peer]
            self._oldest[peer] = item
            held = self._by_ip.setdefault(peer[0], OrderedDict())
            self._move(peer[0], len(held), len(held) + 1)
            held[peer] = item

    def confirm(self, peer: Peer) -> None:
        """``peer`` acknowledged its first packet: it keeps its slot to the end."""
        with self._lock:
            if peer in self._live:
                self._undisplaceable(peer)
                self._active.add(peer)

    def release(self, peer: Peer, item: T) -> None:
        """The transfer ended (idempotent; a displaced one is already gone)."""
        with self._lock:
            if self._live.get(peer) is item:
                self._remove(peer)

    def items(self) -> list[T]:
        with self._lock:
            return list(self._live.values())

    def _refuse(self) -> tuple[Verdict, None]:
        self.refused += 1
        return Verdict.REFUSED, None

    def _victim(self) -> Peer | None:
        """The oldest waiting transfer of the address holding the most (of all, when each
        address holds one)."""
        while self._most > 0 and not self._holding[self._most]:
            self._most -= 1
        if self._most == 0:
            return None
        if self._most == 1:
            return next(iter(self._oldest))
        ip = next(iter(self._holding[self._most]))
        return next(iter(self._by_ip[ip]))

    def _move(self, ip: str, before: int, after: int) -> None:
        if before:
            self._holding[before].discard(ip)
        if after:
            self._holding[after].add(ip)
        self._most = max(self._most, after)

    def _undisplaceable(self, peer: Peer) -> None:
        if self._oldest.pop(peer, None) is None:
            return
        held = self._by_ip[peer[0]]
        del held[peer]
        self._move(peer[0], len(held) + 1, len(held))
        if not held:
            del self._by_ip[peer[0]]

    def _remove(self, peer: Peer) -> None:
        self._undisplaceable(peer)
        del self._live[peer]
        self._active.discard(peer)
        self._per_ip[peer[0]] -= 1
        if not self._per_ip[peer[0]]:
            del self._per_ip[peer[0]]
