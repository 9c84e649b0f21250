"""dnsmasq for capture: its ``dhcp-script`` records and its leases file.

``dhcp-script=<hook>`` passes argv ``<action> <mac> <ip> [hostname]`` for add/old/del,
``tftp <size> <ip> <path>``, ``arp-add|arp-del <mac> <ip>``, ``init``; environment
``DNSMASQ_*``. The architecture comes from ``DNSMASQ_TAGS`` (tags ``pxh-<slug>`` set by the
generated ``dhcp-match`` lines, see ``arch.from_tags``), else from the vendor class
``PXEClient:Arch:NNNNN``. ``old`` with ``DNSMASQ_DATA_MISSING=1`` (start-up and SIGHUP
replays, renewals with ``script-on-renewal``; dnsmasq 2.90 sets ``DNSMASQ_INTERFACE`` on all
of them, so they cannot be told apart) only fills gaps: no timeline event, no ``last_seen``
change.
"""

from __future__ import annotations

import re

from pxehook.capture.sightings import (
    GONE,
    LEASE,
    REPLAY,
    TFTP,
    BadLine,
    DhcpSighting,
    Lease,
    LeaseParse,
    Reader,
    arch_from,
    env_text,
    is_ipv4,
    lease_mac,
    text,
)
from pxehook.capture.spool import Record
from pxehook.daemons import DNSMASQ
from pxehook.mac import normalize_mac

#: Environment variables kept in a sighting's data (without the DNSMASQ_ prefix, lower-cased).
_DATA_VARS = (
    "INTERFACE",
    "TAGS",
    "CLIENT_ID",
    "RELAY_ADDRESS",
    "REQUESTED_OPTIONS",
    "LEASE_EXPIRES",
    "SUPPLIED_HOSTNAME",
    "DATA_MISSING",
)


def hook_sightings(rec: Record) -> list[DhcpSighting]:
    """The sighting in one dhcp-script record; [] for arp-add/arp-del and unknown actions."""
    action = rec.arg(0)
    if action == "tftp":
        data = {"size": text(rec.args[1] if len(rec.args) > 1 else b"", 20)}
        data["path"] = text(rec.args[3] if len(rec.args) > 3 else b"", 1024)
        ip = text(rec.args[2] if len(rec.args) > 2 else b"", 64)
        return [DhcpSighting(DNSMASQ.name, "tftp", TFTP, rec.at, rec.rid, ip=ip, data=data)]
    if action not in ("add", "old", "del"):
        return []  # arp-add/arp-del, relay-snoop and future actions: nothing about booting
    mac = normalize_mac(rec.arg(1))
    vendor = env_text(rec, "DNSMASQ_VENDOR_CLASS")
    tags = env_text(rec, "DNSMASQ_TAGS")
    users = [env_text(rec, f"DNSMASQ_USER_CLASS{i}") for i in range(16)]
    users = [u for u in users if u]
    hostname = (
        text(rec.args[3]) if len(rec.args) > 3 else env_text(rec, "DNSMASQ_SUPPLIED_HOSTNAME")
    )
    replay = action == "old" and rec.env.get("DNSMASQ_DATA_MISSING") == b"1"
    kind = GONE if action == "del" else REPLAY if replay else LEASE
    data = {
        key.lower(): env_text(rec, f"DNSMASQ_{key}")
        for key in _DATA_VARS
        if f"DNSMASQ_{key}" in rec.env
    }
    return [
        DhcpSighting(
            DNSMASQ.name,
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


#: A hardware address dnsmasq writes with its ARP type first: not Ethernet, not ours.
_OTHER_HW = re.compile(r"[0-9a-fA-F]{2}-(?:[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2})*)?")


def parse_leases(data: str) -> LeaseParse:
    """``<expiry> <mac> <ip> <hostname|*> <client-id|*>`` per line; IPv4 leases only
    (after the ``duid`` line come DHCPv6 leases, skipped). A malformed line is reported."""
    lines = data.split("\n")
    partial = lines[-1] != ""  # dnsmasq ends every line: the last one is still being written
    leases, bad, v6 = [], [], False
    for number, line in enumerate(lines[:-1], 1):
        parts = line.split(" ")
        if parts[0] == "duid" or v6:
            v6 = True  # DHCPv6 leases follow the server DUID
            continue
        if line == "":
            continue
        reason = _bad_lease_line(parts)
        if reason:
            bad.append(BadLine(number, reason))
            continue
        mac = lease_mac(parts[1])
        if mac is None:
            if not _OTHER_HW.fullmatch(parts[1]):
                bad.append(BadLine(number, f"bad MAC address {text(parts[1], 40)!r}"))
            continue
        leases.append(Lease(mac, parts[2], "" if parts[3] == "*" else text(parts[3])))
    return LeaseParse(leases, bad, partial)


def _bad_lease_line(parts: list[str]) -> str:
    """Why a split IPv4 lease line is malformed ('' when it is not)."""
    if len(parts) not in (4, 5):
        return f"{len(parts)} fields, expected 5"
    if not parts[0].isdigit():
        return f"bad expiry time {text(parts[0], 40)!r}"
    if not is_ipv4(parts[2]):
        return f"bad IPv4 address {text(parts[2], 40)!r}"
    return ""


READER = Reader(
    daemon=DNSMASQ,
    first_arg=re.compile(r"add|old|del|tftp|arp-add|arp-del"),
    hook_sightings=hook_sightings,
    parse_leases=parse_leases,
)
