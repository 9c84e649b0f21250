"""Lease-file watcher: for sites where no hook may be installed (OpenWrt, Pi-hole, ...).

Reads dnsmasq's leases file, ISC's ``dhcpd.leases`` or Kea's memfile CSV whenever it
changes (watchdog + a periodic poll) and applies what changed. Lease files hold MAC, IP,
hostname and times only (no option 60/77/93): pair this with the passive listener when the
architecture matters. The first scan after start only fills gaps (like a dnsmasq replay),
so restarting the watcher changes nothing.
"""

from __future__ import annotations

import calendar
import csv
import io
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pxehook.capture.apply import apply_event
from pxehook.capture.events import GONE, LEASE, REPLAY, DhcpEvent, isc_unescape, pad_mac, text
from pxehook.errors import InvalidInput, PxehookError
from pxehook.fswatch import stop_all, watch_files
from pxehook.store import Store

log = logging.getLogger("pxehook.capture.leases")

KINDS = ("dnsmasq", "isc", "kea")
POLL_SECONDS = 5.0


@dataclass(frozen=True)
class Lease:
    mac: str
    ip: str
    hostname: str = ""
    at: float | None = None  # when the client last talked (None: unknown)


def _mac(value: str) -> str | None:
    try:
        return pad_mac(value)
    except InvalidInput:
        return None  # DHCPv6 DUIDs, non-Ethernet hardware


def parse_dnsmasq(data: str) -> list[Lease]:
    """``<expiry> <mac> <ip> <hostname|*> <client-id|*>`` per line (IPv4 leases only)."""
    out = []
    for line in data.splitlines():
        parts = line.split(" ")
        if len(parts) < 4 or parts[0] == "duid":
            continue
        mac = _mac(parts[1])
        if mac and "." in parts[2]:
            host = "" if parts[3] == "*" else text(parts[3])
            out.append(Lease(mac, parts[2], host))
    return out


_ISC_LEASE = re.compile(r"^lease ([0-9.]+) \{(.*?)^\}", re.M | re.S)
_ISC_TIME = re.compile(r"^\s*(?:cltt|starts) \d+ (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d);", re.M)
_ISC_HW = re.compile(r"^\s*hardware ethernet ([0-9a-fA-F:]+);", re.M)
_ISC_STATE = re.compile(r"^\s*binding state (\w+);", re.M)
_ISC_NAME = re.compile(r'^\s*client-hostname "((?:[^"\\]|\\.)*)";', re.M)


def parse_isc(data: str) -> list[Lease]:
    """The last ``lease`` block per IP in ``binding state active``."""
    latest: dict[str, Lease | None] = {}
    for match in _ISC_LEASE.finditer(data):
        ip, body = match.group(1), match.group(2)
        state = _ISC_STATE.search(body)
        hw = _ISC_HW.search(body)
        mac = _mac(hw.group(1)) if hw else None
        if not state or state.group(1) != "active" or not mac:
            latest[ip] = None
            continue
        name = _ISC_NAME.search(body)
        raw_name = isc_unescape(name.group(1).encode("latin-1", "replace")) if name else b""
        raw_name = raw_name.replace(b'\\"', b'"')
        times = [
            calendar.timegm(time.strptime(t, "%Y/%m/%d %H:%M:%S")) for t in _ISC_TIME.findall(body)
        ]
        latest[ip] = Lease(mac, ip, text(raw_name), float(max(times)) if times else None)
    return [lease for lease in latest.values() if lease is not None]


def parse_kea(data: str) -> list[Lease]:
    """Kea memfile CSV: the last row per address wins; state 0 is an active lease."""
    latest: dict[str, Lease | None] = {}
    for row in csv.DictReader(io.StringIO(data)):
        ip, mac = row.get("address") or "", _mac(row.get("hwaddr") or "")
        if not ip or row.get("state", "0") != "0" or not mac:
            latest[ip] = None
            continue
        try:
            at = float(row["expire"]) - float(row["valid_lifetime"])
        except (KeyError, ValueError):
            at = None
        name = (row.get("hostname") or "").replace("&#x2c", ",").rstrip(".")
        latest[ip] = Lease(mac, ip, text(name), at)
    return [lease for lease in latest.values() if lease is not None]


PARSERS = {"dnsmasq": parse_dnsmasq, "isc": parse_isc, "kea": parse_kea}


def parse_spec(spec: str) -> tuple[str, str]:
    """``KIND:PATH`` (the ``lease_files`` setting) -> (kind, path)."""
    kind, sep, path = spec.partition(":")
    if not sep or kind not in KINDS or not path:
        raise PxehookError(f"lease file {spec!r}: expected KIND:PATH with KIND one of {KINDS}")
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
        current = {lease.mac: lease for lease in PARSERS[self.kind](data)}
        first, previous = self.known is None, self.known or {}
        counts: dict[str, int] = {}
        now = time.time()
        for mac, lease in current.items():
            if previous.get(mac) == lease:
                continue
            ev = DhcpEvent(
                f"leases-{self.kind}",
                "lease",
                REPLAY if first else LEASE,
                lease.at or now,
                f"{self.kind}:{mac}:{lease.ip}:{lease.at}",
                mac=mac,
                ip=lease.ip,
                hostname=lease.hostname,
            )
            outcome = apply_event(self.store, ev)
            counts[outcome] = counts.get(outcome, 0) + 1
        for mac in set(previous) - set(current):
            old = previous[mac]
            ev = DhcpEvent(
                f"leases-{self.kind}", "del", GONE, now, f"del:{mac}", mac=mac, ip=old.ip
            )
            outcome = apply_event(self.store, ev)
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
