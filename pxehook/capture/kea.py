"""Kea DHCPv4 for capture: its ``run_script`` records and its memfile CSV.

The ``run_script`` hook library (``name: <hook>``) passes argv ``<hook point>`` and the
environment ``LEASE4_*`` (``LEASES4_AT<i>_*`` and ``DELETED_LEASES4_AT<i>_*`` for
leases4_committed). Kea exports no option 60/77/93: the architecture comes from the
listener or the boot request.
"""

from __future__ import annotations

import csv
import io
import re

from pxehook.capture.sightings import (
    GONE,
    GONE_ACTIONS,
    LEASE,
    DhcpSighting,
    Lease,
    Reader,
    env_text,
    lease_mac,
    pad_mac,
    text,
)
from pxehook.capture.spool import Record
from pxehook.daemons import KEA

#: Hook points pxehook reads, and the action each becomes.
POINTS = {
    "leases4_committed": "commit",
    "lease4_renew": "renew",
    "lease4_recover": "recover",
    "lease4_release": "release",
    "lease4_expire": "expiry",
    "lease4_decline": "decline",
}


def _lease(rec: Record, prefix: str, action: str, idx: str) -> DhcpSighting | None:
    hw = env_text(rec, f"{prefix}HWADDR")
    if not hw:
        return None
    state = env_text(rec, f"{prefix}STATE")
    kind = GONE if action in GONE_ACTIONS or prefix.startswith("DELETED") else LEASE
    data = {"state": state, "subnet_id": env_text(rec, f"{prefix}SUBNET_ID")}
    data["valid_lifetime"] = env_text(rec, f"{prefix}VALID_LIFETIME")
    data["query"] = env_text(rec, "QUERY4_TYPE")
    return DhcpSighting(
        KEA.name,
        action,
        kind,
        rec.at,
        rec.rid + idx,
        mac=pad_mac(hw),
        ip=env_text(rec, f"{prefix}ADDRESS"),
        hostname=env_text(rec, f"{prefix}HOSTNAME").rstrip("."),
        data={k: v for k, v in data.items() if v},
    )


def hook_sightings(rec: Record) -> list[DhcpSighting]:
    """The sightings in one run_script record; [] for DHCPv6 and unknown hook points."""
    point = rec.arg(0)
    action = POINTS.get(point)
    if action is None:
        return []  # DHCPv6 hook points and future ones
    if point != "leases4_committed":
        one = _lease(rec, "LEASE4_", action, "")
        return [one] if one else []
    out = []
    for size_var, prefix, act, tag in (
        ("LEASES4_SIZE", "LEASES4_AT", action, "c"),
        ("DELETED_LEASES4_SIZE", "DELETED_LEASES4_AT", "del", "d"),
    ):
        size = env_text(rec, size_var)
        count = int(size) if re.fullmatch(r"[0-9]{1,3}", size) else 0
        for i in range(count):
            sighting = _lease(rec, f"{prefix}{i}_", act, f"-{tag}{i}")
            if sighting:
                out.append(sighting)
    return out


def parse_leases(data: str) -> list[Lease]:
    """Kea memfile CSV: the last row per address wins; state 0 is an active lease."""
    latest: dict[str, Lease | None] = {}
    for row in csv.DictReader(io.StringIO(data)):
        ip, mac = row.get("address") or "", lease_mac(row.get("hwaddr") or "")
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


READER = Reader(
    daemon=KEA,
    first_arg=re.compile(r"leases?[46]_.*"),  # hook points: lease4_renew, leases4_committed, ...
    hook_sightings=hook_sightings,
    parse_leases=parse_leases,
)
