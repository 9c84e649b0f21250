"""Turn a spool record into a DHCP event: which server, what happened, which facts.

Pure functions, no store. What each server passes (the contract the generators wire in):

dnsmasq ``dhcp-script=<hook>``
    argv ``<action> <mac> <ip> [hostname]`` for add/old/del, ``tftp <size> <ip> <path>``,
    ``arp-add|arp-del <mac> <ip>``, ``init``; environment ``DNSMASQ_*``. The architecture
    comes from ``DNSMASQ_TAGS`` (tags ``pxh-<slug>`` set by the generated ``dhcp-match``
    lines, see ``arch.from_tags``), else from the vendor class ``PXEClient:Arch:NNNNN``.
    ``old`` with ``DNSMASQ_DATA_MISSING=1`` (start-up and SIGHUP replays, renewals with
    ``script-on-renewal``; dnsmasq 2.90 sets ``DNSMASQ_INTERFACE`` on all of them, so they
    cannot be told apart) only fills gaps: no timeline event, no ``last_seen`` change.

ISC dhcpd ``execute("<hook>", "isc", EVENT, IP, MAC, VENDOR_CLASS, USER_CLASS, HOSTNAME, ARCH)``
    EVENT is commit, release or expiry; MAC as ``binary-to-ascii(16, 8, ":", substring(
    hardware, 1, 6))`` (not zero-padded: normalised here); ARCH is option 93 as
    ``binary-to-ascii(10, 16, ",", option pxe-system-type)``; trailing arguments may be
    missing or empty; dhcpd's ``\\nnn`` octal escapes are decoded.

Kea ``run_script`` (``name: <hook>``)
    argv ``<hook point>``; environment ``LEASE4_*`` (``LEASES4_AT<i>_*`` for
    leases4_committed). Kea exports no option 60/77/93: arch comes from the listener or
    the boot request.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from pxehook import archsource
from pxehook.capture.spool import Record
from pxehook.errors import InvalidInput
from pxehook.mac import normalize_mac
from pxehook.textsafe import clean_field

log = logging.getLogger("pxehook.capture.events")

LEASE = "lease"  # observe the facts, add a timeline event
REPLAY = "replay"  # a lease the server re-announces: fill gaps only, no event
GONE = "gone"  # lease released/expired/declined: timeline event for a known host
TFTP = "tftp"  # a transfer finished: timeline event for the host owning the IP
SEEN = "seen"  # the same facts again (listener refresh): observe, no event

KEA_POINTS = {
    "leases4_committed": "commit",
    "lease4_renew": "renew",
    "lease4_recover": "recover",
    "lease4_release": "release",
    "lease4_expire": "expiry",
    "lease4_decline": "decline",
}
_GONE_ACTIONS = {"del", "release", "expiry", "decline"}
_ISC_OCTAL = re.compile(rb"\\([0-7]{3})")


@dataclass(frozen=True)
class DhcpEvent:
    """One normalised fact about one MAC (or one IP, for tftp)."""

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


def pad_mac(value: str) -> str:
    """Normalise a MAC, accepting ISC's unpadded ``52:54:0:a:b:c``. Raises InvalidInput."""
    parts = value.strip().split(":")
    if len(parts) == 6 and all(1 <= len(p) <= 2 for p in parts):
        value = ":".join(p.zfill(2) for p in parts)
    return normalize_mac(value)


def arch_from(tags: str = "", vendor_class: str = "", option93: str = "") -> int | None:
    """Option 93 from what the server passed (which fact wins: ``archsource.dhcp_arch``)."""
    return archsource.dhcp_arch(tags, vendor_class, option93)


def from_record(rec: Record) -> list[DhcpEvent]:
    """All events in one hook record; [] for actions pxehook ignores (init, arp, unknown)."""
    first = rec.arg(0)
    try:
        if first == "isc":
            return _isc(rec)
        if first in KEA_POINTS or first.startswith(("lease4_", "leases4_", "lease6_")):
            return _kea(rec)
        if rec.env or first in ("add", "old", "del", "tftp", "arp-add", "arp-del"):
            return _dnsmasq(rec)
    except InvalidInput as exc:
        log.warning("spool record at %d skipped: %s", rec.offset, exc)
        return []
    log.info("spool record at %d: unknown action %r ignored", rec.offset, text(first, 40))
    return []


def _env(rec: Record, name: str) -> str:
    return text(rec.env.get(name, b""))


def _dnsmasq(rec: Record) -> list[DhcpEvent]:
    action = rec.arg(0)
    if action == "tftp":
        data = {"size": text(rec.args[1] if len(rec.args) > 1 else b"", 20)}
        data["path"] = text(rec.args[3] if len(rec.args) > 3 else b"", 1024)
        ip = text(rec.args[2] if len(rec.args) > 2 else b"", 64)
        return [DhcpEvent("dnsmasq", "tftp", TFTP, rec.at, rec.rid, ip=ip, data=data)]
    if action not in ("add", "old", "del"):
        return []  # arp-add/arp-del, relay-snoop and future actions: not boot events
    mac = normalize_mac(rec.arg(1))
    vendor = _env(rec, "DNSMASQ_VENDOR_CLASS")
    tags = _env(rec, "DNSMASQ_TAGS")
    users = [_env(rec, f"DNSMASQ_USER_CLASS{i}") for i in range(16)]
    users = [u for u in users if u]
    hostname = text(rec.args[3]) if len(rec.args) > 3 else _env(rec, "DNSMASQ_SUPPLIED_HOSTNAME")
    replay = action == "old" and rec.env.get("DNSMASQ_DATA_MISSING") == b"1"
    kind = GONE if action == "del" else REPLAY if replay else LEASE
    data = {
        key.lower(): _env(rec, f"DNSMASQ_{key}")
        for key in (
            "INTERFACE",
            "TAGS",
            "CLIENT_ID",
            "RELAY_ADDRESS",
            "REQUESTED_OPTIONS",
            "LEASE_EXPIRES",
            "SUPPLIED_HOSTNAME",
            "DATA_MISSING",
        )
        if f"DNSMASQ_{key}" in rec.env
    }
    return [
        DhcpEvent(
            "dnsmasq",
            action,
            kind,
            rec.at,
            rec.rid,
            mac=mac,
            ip=text(rec.args[2] if len(rec.args) > 2 else b"", 64),
            hostname=hostname,
            arch=arch_from(tags=tags, vendor_class=vendor),
            vendor_class=vendor,
            user_class=",".join(users),
            data=data,
        )
    ]


def isc_unescape(raw: bytes) -> bytes:
    """Decode the ``\\nnn`` octal escapes dhcpd puts in execute() arguments."""
    return _ISC_OCTAL.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]), raw)


def _isc(rec: Record) -> list[DhcpEvent]:
    args = [isc_unescape(a) for a in rec.args[1:]] + [b""] * 8
    event, ip, mac, vendor_class, user, hostname, arch = (text(a) for a in args[:7])
    if not mac:
        raise InvalidInput(f"ISC {event!r} event without a MAC (check the execute() line)")
    kind = GONE if event in _GONE_ACTIONS else LEASE
    return [
        DhcpEvent(
            "isc",
            event or "commit",
            kind,
            rec.at,
            rec.rid,
            mac=pad_mac(mac),
            ip=text(ip, 64),
            hostname=hostname,
            arch=arch_from(vendor_class=vendor_class, option93=arch),
            vendor_class=vendor_class,
            user_class=user,
            data={"ip": ip} if ip else {},
        )
    ]


def _kea_lease(rec: Record, prefix: str, action: str, idx: str) -> DhcpEvent | None:
    hw = _env(rec, f"{prefix}HWADDR")
    if not hw:
        return None
    state = _env(rec, f"{prefix}STATE")
    kind = GONE if action in _GONE_ACTIONS or prefix.startswith("DELETED") else LEASE
    data = {"state": state, "subnet_id": _env(rec, f"{prefix}SUBNET_ID")}
    data["valid_lifetime"] = _env(rec, f"{prefix}VALID_LIFETIME")
    data["query"] = _env(rec, "QUERY4_TYPE")
    return DhcpEvent(
        "kea",
        action,
        kind,
        rec.at,
        rec.rid + idx,
        mac=pad_mac(hw),
        ip=_env(rec, f"{prefix}ADDRESS"),
        hostname=_env(rec, f"{prefix}HOSTNAME").rstrip("."),
        data={k: v for k, v in data.items() if v},
    )


def _kea(rec: Record) -> list[DhcpEvent]:
    point = rec.arg(0)
    action = KEA_POINTS.get(point)
    if action is None:
        return []  # DHCPv6 hook points and future ones
    if point != "leases4_committed":
        one = _kea_lease(rec, "LEASE4_", action, "")
        return [one] if one else []
    out = []
    for size_var, prefix, act, tag in (
        ("LEASES4_SIZE", "LEASES4_AT", action, "c"),
        ("DELETED_LEASES4_SIZE", "DELETED_LEASES4_AT", "del", "d"),
    ):
        size = _env(rec, size_var)
        count = int(size) if re.fullmatch(r"[0-9]{1,3}", size) else 0
        for i in range(count):
            ev = _kea_lease(rec, f"{prefix}{i}_", act, f"-{tag}{i}")
            if ev:
                out.append(ev)
    return out
