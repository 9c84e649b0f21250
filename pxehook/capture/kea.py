"""Kea DHCPv4 for capture: its ``run_script`` records and its memfile CSV.

The ``run_script`` hook library (``name: <hook>``) passes argv ``<hook point>`` and the
environment ``LEASE4_*`` (``LEASES4_AT<i>_*`` and ``DELETED_LEASES4_AT<i>_*`` for
leases4_committed), and the request's ``QUERY4_*`` (``QUERY4_GIADDR``: the relay's address,
kept as ``relay_address``). Kea exports no option 60/77/93: the architecture comes from the
listener or the boot request.
"""

from __future__ import annotations

import re

from pxehook.capture.sightings import (
    GONE,
    GONE_ACTIONS,
    LEASE,
    BadLine,
    DhcpSighting,
    Lease,
    LeaseParse,
    Reader,
    env_text,
    is_ipv4,
    lease_mac,
    pad_mac,
    relay_data,
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
    data.update(relay_data(env_text(rec, "QUERY4_GIADDR")))
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


#: Columns of Kea's memfile CSV that pxehook reads (Kea 1.x-2.x write more).
_COLUMNS = ("address", "hwaddr", "valid_lifetime", "expire", "hostname", "state")
_HEX = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2})*")


def parse_leases(data: str) -> LeaseParse:
    """Kea memfile CSV: the last row per address wins; state 0 is an active lease. A row
    that does not fit the header is reported and skipped."""
    lines = data.split("\n")
    partial = lines[-1] != ""  # Kea ends every row: the last one is still being written
    latest: dict[str, Lease | None] = {}
    bad: list[BadLine] = []
    col: dict[str, int] | None = None
    width = 0
    for number, line in enumerate(lines[:-1], 1):
        if not line:
            continue
        row = line.split(",")  # Kea escapes commas inside fields as &#x2c
        if row[0] == "address":
            col, width = {name: i for i, name in enumerate(row)}, len(row)
            if not all(name in col for name in _COLUMNS):
                bad.append(BadLine(number, f"header lacks one of {', '.join(_COLUMNS)}"))
                col = None
            continue
        if col is None:
            bad.append(BadLine(number, "row before a CSV header"))
            continue
        reason = _bad_row(row, col, width)
        if reason:
            bad.append(BadLine(number, reason))
            continue
        address, hw = row[col["address"]], row[col["hwaddr"]]
        mac = lease_mac(hw) if hw else None
        if row[col["state"]] != "0" or mac is None:
            latest[address] = None  # not active, or not Ethernet
            continue
        name = row[col["hostname"]].replace("&#x2c", ",").rstrip(".")
        at = float(row[col["expire"]]) - float(row[col["valid_lifetime"]])
        latest[address] = Lease(mac, address, text(name), at)
    leases = [lease for lease in latest.values() if lease is not None]
    return LeaseParse(leases, bad, partial)


def _bad_row(row: list[str], col: dict[str, int], width: int) -> str:
    """Why a memfile row is malformed ('' when it is not)."""
    if len(row) != width:
        return f"{len(row)} fields, the header has {width}"
    if not is_ipv4(row[col["address"]]):
        return f"bad IPv4 address {text(row[col['address']], 40)!r}"
    for name in ("valid_lifetime", "expire", "state"):
        if not row[col[name]].isdigit():
            return f"bad {name} {text(row[col[name]], 40)!r}"
    hw = row[col["hwaddr"]]
    if hw and not _HEX.fullmatch(hw):
        return f"bad hwaddr {text(hw, 40)!r}"
    return ""


READER = Reader(
    daemon=KEA,
    first_arg=re.compile(r"leases?[46]_.*"),  # hook points: lease4_renew, leases4_committed, ...
    hook_sightings=hook_sightings,
    parse_leases=parse_leases,
)
