"""DHCP sightings and lease rows: what every daemon's capture reader produces.

A sighting is one DHCP happening as capture saw it (from a hook record, a lease file or the
listener), normalised: who, which address, which facts, and what ``apply`` does with it
(its kind). Applying it may add a row to the host's timeline (a ``models.Event``).

Each daemon in the registry (pxehook/daemons.py) has a reader in ``capture/<name>.py``
(a module-level ``READER``, a ``Reader``): how one of its hook records becomes sightings
and how its lease file parses. ``capture/readers.py`` finds them by name and dispatches.
Pure: no store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pxehook import archsource
from pxehook.capture.packet import ZERO
from pxehook.capture.spool import Record
from pxehook.daemons import Daemon
from pxehook.errors import InvalidInput
from pxehook.mac import normalize_mac
from pxehook.textsafe import clean_field

# Sighting kinds.
LEASE = "lease"  # observe the facts, add a timeline event
REPLAY = "replay"  # a lease the server re-announces: fill gaps only, no timeline event
GONE = "gone"  # lease released/expired/declined: timeline event for a known host
TFTP = "tftp"  # a transfer finished: timeline event for the host owning the IP
SEEN = "seen"  # the same facts again (listener refresh): observe, no timeline event

#: Actions that end a lease (a GONE sighting), whichever daemon reports them.
GONE_ACTIONS = frozenset({"del", "release", "expiry", "decline"})


@dataclass(frozen=True)
class DhcpSighting:
    """One DHCP happening, normalised: facts about one MAC (or one IP, for tftp)."""

    source: str
    action: str
    kind: str
    at: float
    rid: str
    mac: str = ""
    ip: str = ""
    hostname: str = ""
    arch: int | None = None
    vendor_class: str = ""
    user_class: str = ""
    uuid: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def text(raw: bytes | str | None, limit: int = 255) -> str:
    """Client-controlled bytes as storable text (see textsafe.clean_field)."""
    return clean_field(raw, limit)


def env_text(rec: Record, name: str) -> str:
    """Environment variable ``name`` of a hook record as storable text ('' when absent)."""
    return text(rec.env.get(name, b""))


def pad_mac(value: str) -> str:
    """Normalise a MAC, accepting ISC's unpadded ``52:54:0:a:b:c``. Raises InvalidInput."""
    parts = value.strip().split(":")
    if len(parts) == 6 and all(1 <= len(p) <= 2 for p in parts):
        value = ":".join(p.zfill(2) for p in parts)
    return normalize_mac(value)


def arch_from(tags: str = "", vendor_class: str = "", option93: str = "") -> int | None:
    """Option 93 from what the server passed (which fact wins: ``archsource.dhcp_arch``)."""
    return archsource.dhcp_arch(tags, vendor_class, option93)


@dataclass(frozen=True)
class Lease:
    """One active lease in a lease file."""

    mac: str
    ip: str
    hostname: str = ""
    at: float | None = None  # when the client last talked (None: unknown)


@dataclass(frozen=True)
class BadLine:
    """A lease-file line that was skipped, and why (``line`` counts from 1)."""

    line: int
    reason: str


@dataclass(frozen=True)
class LeaseParse:
    """What one read of a lease file holds: the active leases, the lines skipped as
    malformed, and whether the text stops inside a record (``partial``: a writer is
    mid-write, or the file was cut short; the unfinished record is not in ``leases``)."""

    leases: list[Lease]
    bad: list[BadLine] = field(default_factory=list)
    partial: bool = False


_CANONICAL_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def lease_mac(value: str) -> str | None:
    """A lease file's MAC normalised, or None for what is not Ethernet (DHCPv6 DUIDs, ...)."""
    if _CANONICAL_MAC.fullmatch(value):
        return value  # already the normal form: skip the normaliser (100,000-lease files)
    try:
        return pad_mac(value)
    except InvalidInput:
        return None


def is_ipv4(value: str) -> bool:
    """A dotted-quad IPv4 address (how every lease file writes one)."""
    return _IPV4.fullmatch(value) is not None


def relay_data(giaddr: str) -> dict[str, str]:
    """``{"relay_address": giaddr}`` for a request a DHCP relay forwarded (the key dnsmasq's
    ``DNSMASQ_RELAY_ADDRESS`` gets); {} when not relayed (``0.0.0.0``) or not an address."""
    return {"relay_address": giaddr} if is_ipv4(giaddr) and giaddr != ZERO else {}


@dataclass(frozen=True)
class Reader:
    """How capture reads one daemon: its hook records and its lease file."""

    daemon: Daemon
    first_arg: re.Pattern[str]  # the first hook argument(s) it passes, matched whole
    hook_sightings: Callable[[Record], list[DhcpSighting]]  # may raise InvalidInput
    parse_leases: Callable[[str], LeaseParse]  # a lease file's text -> leases, bad lines
