"""Lease-file watcher: for sites where no hook may be installed (OpenWrt, Pi-hole, ...).

Reads a registered daemon's lease file (dnsmasq's leases file, ISC's ``dhcpd.leases``,
Kea's memfile CSV; each parsed by ``capture/<daemon>.py``) whenever it changes (watchdog +
a periodic poll) and applies what changed. Lease files hold MAC, IP, hostname and times
only (no option 60/77/93): pair this with the passive listener when the architecture
matters. The first scan after start only fills gaps (like a dnsmasq replay),
so restarting the watcher changes nothing.

Lease files are rewritten under our feet (dnsmasq truncates its file and writes it again in
place on every change), so one read is never trusted to say a lease is gone:

* a read counts only when two reads in a row give the same bytes (else: look again soon);
* a record the text stops inside (a line without its newline, an open ISC block) is
  left for the next read (``LeaseParse.partial``);
* new and changed leases are applied at once — every complete record is real;
* a big file that keeps changing is read at most a fifth of the time (``BUSY_FACTOR``);
* a lease missing from a read is a deletion only when the file was *quiet* (unchanged for
  ``quiet`` seconds, complete) and the lease is still missing from a quiet read ``confirm``
  seconds later. A half-written file therefore costs a short delay, never a false
  ``dhcp.del`` and ``dhcp.lease`` pair.

A malformed line is skipped with one warning naming the file and line (the rest is
imported) and counted in :meth:`LeaseFile.status` (``/metrics``, ``watch-leases --once``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pxehook.capture import status
from pxehook.capture.apply import apply_sightings
from pxehook.capture.readers import parse_leases
from pxehook.capture.sightings import (
    GONE,
    LEASE,
    REPLAY,
    BadLine,
    DhcpSighting,
    Lease,
    LeaseParse,
)
from pxehook.daemons import NAMES
from pxehook.errors import PxehookError
from pxehook.fswatch import stop_all, watch_files
from pxehook.store import Store

log = logging.getLogger("pxehook.capture.leases")

POLL_SECONDS = 5.0
#: a file unchanged this long, and complete, is not being written: it may show deletions
QUIET_SECONDS = 1.0
#: a lease must be missing from two quiet reads this far apart before it is deleted
CONFIRM_SECONDS = 2.0
#: how soon to look again at a file that was changing while it was read
RETRY_SECONDS = 0.2
#: a read that took longer than this is not repeated for ``BUSY_FACTOR`` times as long, so a
#: big file changing all the time costs at most 1 / (1 + BUSY_FACTOR) of a core
SLOW_READ_SECONDS = 0.05
BUSY_FACTOR = 4.0
#: sightings applied per transaction group (``capture.apply.apply_sightings``)
BATCH = 2000
#: malformed lines logged per read (the rest are only counted)
REPORT_LINES = 20


def parse_spec(spec: str) -> tuple[str, str]:
    """``KIND:PATH`` (the ``lease_files`` setting) -> (kind, path); KIND is a daemon name."""
    kind, sep, path = spec.partition(":")
    if not sep or kind not in NAMES or not path:
        raise PxehookError(f"lease file {spec!r}: expected KIND:PATH with KIND one of {NAMES}")
    return kind, path


def read_settled(path: Path, attempts: int = 4) -> tuple[str, float, tuple[int, ...]] | None:
    """(text, mtime, (inode, size, mtime_ns)) once two reads in a row give the same bytes
    from the same file; None when it does not exist. Raises BlockingIOError while it keeps
    changing."""
    last: tuple[bytes, int, int] | None = None
    for _ in range(attempts):
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                data = fh.read()
        except FileNotFoundError:
            return None
        this = (data, st.st_ino, st.st_mtime_ns)
        if this == last:
            signature = (st.st_ino, st.st_size, st.st_mtime_ns)
            return data.decode("utf-8", "surrogateescape"), st.st_mtime, signature
        last = this
    raise BlockingIOError(f"{path} kept changing while it was read")


class LeaseFile:
    """One lease file and what was last imported from it."""

    quiet = QUIET_SECONDS
    confirm = CONFIRM_SECONDS

    def __init__(
        self, store: Store, kind: str, path: str, *, warn: Callable[[str], None] = log.warning
    ) -> None:
        self.store, self.kind, self.path, self.warn = store, kind, Path(path), warn
        self.known: dict[str, Lease] | None = None  # None until the first scan
        self.missing: dict[str, float] = {}  # MAC -> when a quiet read first lacked it
        self.due: float | None = None  # look again then, even without a file event
        self.bad: list[BadLine] = []  # malformed lines in the last read
        self._reported: set[BadLine] = set()
        self.busy_reads = 0  # reads that found the file being written (since start)
        self.last_read = 0.0
        self._read_stat: tuple[int, ...] = ()  # (inode, size, mtime_ns) of the last read
        self.not_before = 0.0  # a slow read is not repeated before this

    def scan(self) -> dict[str, int]:
        """Read the file if it changed or a re-check is due, apply changes; returns counts."""
        now = time.time()
        try:
            read = self._read(now)
        except BlockingIOError:
            self.busy_reads += 1
            self.due = now + RETRY_SECONDS
            return {"busy": 1}
        if read is None:
            return {}
        parsed, mtime = read
        quiet = not parsed.partial and now - mtime >= self.quiet
        if not quiet:
            self.busy_reads += 1
            self.due = max(now + RETRY_SECONDS, mtime + self.quiet)
        current = {lease.mac: lease for lease in parsed.leases}
        first, previous = self.known is None, self.known or {}
        sightings = [
            self._sighting(lease, REPLAY if first else LEASE, now)
            for mac, lease in current.items()
            if previous.get(mac) != lease
        ]
        for mac in current:
            self.missing.pop(mac, None)
        gone = self._confirmed_gone(previous, current, now) if quiet else []
        sightings += [
            DhcpSighting(
                f"leases-{self.kind}", "del", GONE, now, f"del:{mac}", mac=mac, ip=previous[mac].ip
            )
            for mac in gone
        ]
        counts = self._apply(sightings)
        if parsed.bad:
            counts["bad_lines"] = len(parsed.bad)
        kept = {mac: lease for mac, lease in previous.items() if mac not in gone}
        self.known = {**kept, **current} if not quiet else {**self._pending(previous), **current}
        cost = time.time() - now
        self.not_before = now + cost * (1 + BUSY_FACTOR) if cost > SLOW_READ_SECONDS else 0.0
        return counts

    def _read(self, now: float) -> tuple[LeaseParse, float] | None:
        """The file parsed and its mtime; None when it is missing or needs no read now.
        Raises BlockingIOError while it keeps changing."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.due = None  # its creation wakes the watcher
            return None
        if (st.st_ino, st.st_size, st.st_mtime_ns) == self._read_stat and (
            self.due is None or self.due > now
        ):
            return None  # the file as last read, nothing to re-check: no parse when idle
        if now < self.not_before:
            self.due = self.not_before  # read again once the last read's cost is paid off
            return None
        self.due = None
        read = read_settled(self.path)
        if read is None:
            return None
        data, mtime, self._read_stat = read
        parsed = parse_leases(self.kind, data)
        self.last_read = now
        self._report(parsed.bad)
        return parsed, mtime

    def _sighting(self, lease: Lease, kind: str, now: float) -> DhcpSighting:
        return DhcpSighting(
            f"leases-{self.kind}",
            "lease",
            kind,
            lease.at or now,
            f"{self.kind}:{lease.mac}:{lease.ip}:{lease.at}",
            mac=lease.mac,
            ip=lease.ip,
            hostname=lease.hostname,
        )

    def _confirmed_gone(
        self, previous: dict[str, Lease], current: dict[str, Lease], now: float
    ) -> list[str]:
        """MACs missing from this quiet read and from one ``confirm`` seconds before."""
        gone = []
        for mac in previous.keys() - current.keys():
            since = self.missing.setdefault(mac, now)
            if now - since >= self.confirm:
                gone.append(mac)
                del self.missing[mac]
        for mac in [m for m in self.missing if m not in previous]:
            del self.missing[mac]
        if self.missing:
            recheck = min(self.missing.values()) + self.confirm
            self.due = recheck if self.due is None else min(self.due, recheck)
        return gone

    def _pending(self, previous: dict[str, Lease]) -> dict[str, Lease]:
        return {mac: previous[mac] for mac in self.missing if mac in previous}

    def _apply(self, sightings: list[DhcpSighting]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for start in range(0, len(sightings), BATCH):
            for outcome in apply_sightings(self.store, sightings[start : start + BATCH]):
                counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def _report(self, bad: list[BadLine]) -> None:
        """One warning per malformed line (while the file keeps it), naming file and line."""
        self.bad = bad
        new = [b for b in bad if b not in self._reported]
        for item in new[:REPORT_LINES]:
            self.warn(f"lease file {self.path} line {item.line} skipped: {item.reason}")
        if len(new) > REPORT_LINES:
            self.warn(f"lease file {self.path}: {len(new) - REPORT_LINES} more lines skipped")
        self._reported = set(bad)

    def status(self) -> dict[str, Any]:
        """What ``/metrics`` and ``watch-leases`` show for this file."""
        return {
            "kind": self.kind,
            "path": str(self.path),
            "leases": len(self.known or {}),
            "bad_lines": len(self.bad),
            "busy_reads": self.busy_reads,
            "pending_deletions": len(self.missing),
            "last_read": self.last_read,
        }


class LeaseWatchService:
    """Watches lease files (watchdog on their directories + a poll) in one thread."""

    name = "lease-watcher"

    def __init__(
        self,
        store: Store,
        specs: list[tuple[str, str]],
        poll: float = POLL_SECONDS,
        *,
        status_file: str = "",
        warn: Callable[[str], None] = log.warning,
    ) -> None:
        self.files = [LeaseFile(store, kind, path, warn=warn) for kind, path in specs]
        self.poll = poll
        self.status_file = status_file
        self._wake, self._stop = threading.Event(), threading.Event()
        self._observers: list = []
        self._thread: threading.Thread | None = None
        self._written: list[dict[str, Any]] = []
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
        """Scan every file (each reads only when it changed or a re-check is due)."""
        total: dict[str, int] = {}
        for lease_file in self.files:
            try:
                for key, n in lease_file.scan().items():
                    total[key] = total.get(key, 0) + n
            except PxehookError as exc:  # store locked: the next pass retries
                log.warning("lease file %s: %s", lease_file.path, exc)
                lease_file.due = time.time() + RETRY_SECONDS * 10
            except Exception:  # one file's fault never stops the others
                log.exception("lease file %s: scan failed", lease_file.path)
                lease_file.due = time.time() + self.poll
        self._write_status()
        return total

    def status(self) -> list[dict[str, Any]]:
        return [lease_file.status() for lease_file in self.files]

    def _write_status(self) -> None:
        """The files' status for ``/metrics`` (rewritten only when it changed)."""
        if not self.status_file:
            return
        files = [{k: v for k, v in s.items() if k != "last_read"} for s in self.status()]
        if files == self._written:
            return
        try:
            status.write(self.status_file, files)
            self._written = files
        except OSError as exc:
            log.warning("lease file status %s: %s", self.status_file, exc)

    def _wait(self) -> float:
        """Seconds until the next scan without a file event."""
        dues = [f.due for f in self.files if f.due is not None]
        return max(0.0, min([self.poll, *(d - time.time() for d in dues)]))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.passes += 1
            self.scan_all()
            self._wake.wait(self._wait())
            self._wake.clear()
