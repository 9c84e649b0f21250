"""Lease-file watcher: for sites where no hook may be installed (OpenWrt, Pi-hole, ...).

Reads a registered daemon's lease file (dnsmasq's leases file, ISC's ``dhcpd.leases``,
Kea's memfile CSV; each parsed by ``capture/<daemon>.py``) whenever it changes (watchdog +
a periodic poll) and applies what changed. Lease files hold MAC, IP, hostname and times
only (no option 60/77/93): pair this with the passive listener when the architecture
matters. The first scan after start only fills gaps (like a dnsmasq replay),
so restarting the watcher changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from pxehook.capture.apply import apply_sighting
from pxehook.capture.readers import parse_leases
from pxehook.capture.sightings import GONE, LEASE, REPLAY, DhcpSighting, Lease
from pxehook.daemons import NAMES
from pxehook.errors import PxehookError
from pxehook.fswatch import stop_all, watch_files
from pxehook.store import Store

log = logging.getLogger("pxehook.capture.leases")

POLL_SECONDS = 5.0


def parse_spec(spec: str) -> tuple[str, str]:
    """``KIND:PATH`` (the ``lease_files`` setting) -> (kind, path); KIND is a daemon name."""
    kind, sep, path = spec.partition(":")
    if not sep or kind not in NAMES or not path:
        raise PxehookError(f"lease file {spec!r}: expected KIND:PATH with KIND one of {NAMES}")
    return kind, path


class LeaseFile:
    """One lease file and what was last imported from it."""

    def __init__(self, store: Store, kind: str, path: str) -> None:
        self.store, self.kind, self.path = store, kind, Path(path)
        self.known: dict[str, Lease] | None = None  # None until the first scan

    def scan(self) -> dict[str, int]:
        """Read the file and apply changes; returns outcome counts."""
        try:
            data = self.path.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return {}
        current = {lease.mac: lease for lease in parse_leases(self.kind, data)}
        first, previous = self.known is None, self.known or {}
        counts: dict[str, int] = {}
        now = time.time()
        for mac, lease in current.items():
            if previous.get(mac) == lease:
                continue
            sighting = DhcpSighting(
                f"leases-{self.kind}",
                "lease",
                REPLAY if first else LEASE,
                lease.at or now,
                f"{self.kind}:{mac}:{lease.ip}:{lease.at}",
                mac=mac,
                ip=lease.ip,
                hostname=lease.hostname,
            )
            outcome = apply_sighting(self.store, sighting)
            counts[outcome] = counts.get(outcome, 0) + 1
        for mac in set(previous) - set(current):
            old = previous[mac]
            sighting = DhcpSighting(
                f"leases-{self.kind}", "del", GONE, now, f"del:{mac}", mac=mac, ip=old.ip
            )
            outcome = apply_sighting(self.store, sighting)
            counts[outcome] = counts.get(outcome, 0) + 1
        self.known = current
        return counts


class LeaseWatchService:
    """Watches lease files (watchdog on their directories + a poll) in one thread."""

    name = "lease-watcher"

    def __init__(self, store: Store, specs: list[tuple[str, str]], poll: float = POLL_SECONDS):
        self.files = [LeaseFile(store, kind, path) for kind, path in specs]
        self.poll = poll
        self._wake, self._stop = threading.Event(), threading.Event()
        self._observers: list = []
        self._thread: threading.Thread | None = None
        self.passes = 0  # scans so far: an idle watcher must not keep counting

    def start(self) -> None:
        self._observers = watch_files([f.path for f in self.files], self._wake.set)
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        stop_all(self._observers)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def scan_all(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for lease_file in self.files:
            try:
                for key, n in lease_file.scan().items():
                    total[key] = total.get(key, 0) + n
            except PxehookError as exc:  # store locked: the next pass retries
                log.warning("lease file %s: %s", lease_file.path, exc)
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.passes += 1
            self.scan_all()
            self._wake.wait(self.poll)
            self._wake.clear()
