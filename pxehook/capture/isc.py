"""ISC dhcpd for capture: its ``execute()`` records and its ``dhcpd.leases`` file.

The generated include calls ``execute("<hook>", "isc", EVENT, IP, MAC, VENDOR_CLASS,
USER_CLASS, HOSTNAME, ARCH)``: EVENT is commit, release or expiry; MAC as
``binary-to-ascii(16, 8, ":", substring(hardware, 1, 6))`` (not zero-padded: normalised
here); ARCH is option 93 as ``binary-to-ascii(10, 16, ",", option pxe-system-type)``;
trailing arguments may be missing or empty; dhcpd's ``\\nnn`` octal escapes are decoded.
"""

from __future__ import annotations

import calendar
import re
import time

from pxehook.capture.sightings import (
    GONE,
    GONE_ACTIONS,
    LEASE,
    DhcpSighting,
    Lease,
    Reader,
    arch_from,
    lease_mac,
    pad_mac,
    text,
)
from pxehook.capture.spool import Record
from pxehook.daemons import ISC
from pxehook.errors import InvalidInput

_OCTAL = re.compile(rb"\\([0-7]{3})")


def unescape(raw: bytes) -> bytes:
    """Decode the ``\\nnn`` octal escapes dhcpd puts in execute() arguments and leases."""
    return _OCTAL.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]), raw)


def hook_sightings(rec: Record) -> list[DhcpSighting]:
    """The sighting in one execute() record. Raises InvalidInput without a MAC."""
    args = [unescape(a) for a in rec.args[1:]] + [b""] * 8
    action, ip, mac, vendor_class, user, hostname, arch = (text(a) for a in args[:7])
    if not mac:
        raise InvalidInput(f"ISC {action!r} event without a MAC (check the execute() line)")
    kind = GONE if action in GONE_ACTIONS else LEASE
    return [
        DhcpSighting(
            ISC.name,
            action or "commit",
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


_LEASE = re.compile(r"^lease ([0-9.]+) \{(.*?)^\}", re.M | re.S)
_TIME = re.compile(r"^\s*(?:cltt|starts) \d+ (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d);", re.M)
_HW = re.compile(r"^\s*hardware ethernet ([0-9a-fA-F:]+);", re.M)
_STATE = re.compile(r"^\s*binding state (\w+);", re.M)
_NAME = re.compile(r'^\s*client-hostname "((?:[^"\\]|\\.)*)";', re.M)


def parse_leases(data: str) -> list[Lease]:
    """The last ``lease`` block per IP in ``binding state active``."""
    latest: dict[str, Lease | None] = {}
    for match in _LEASE.finditer(data):
        ip, body = match.group(1), match.group(2)
        state = _STATE.search(body)
        hw = _HW.search(body)
        mac = lease_mac(hw.group(1)) if hw else None
        if not state or state.group(1) != "active" or not mac:
            latest[ip] = None
            continue
        name = _NAME.search(body)
        raw_name = unescape(name.group(1).encode("latin-1", "replace")) if name else b""
        raw_name = raw_name.replace(b'\\"', b'"')
        times = [
            calendar.timegm(time.strptime(t, "%Y/%m/%d %H:%M:%S")) for t in _TIME.findall(body)
        ]
        latest[ip] = Lease(mac, ip, text(raw_name), float(max(times)) if times else None)
    return [lease for lease in latest.values() if lease is not None]


READER = Reader(
    daemon=ISC,
    first_arg=re.compile(re.escape(ISC.name)),  # the generated execute() passes it first
    hook_sightings=hook_sightings,
    parse_leases=parse_leases,
)
