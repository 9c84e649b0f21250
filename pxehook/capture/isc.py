"""ISC dhcpd for capture: its ``execute()`` records and its ``dhcpd.leases`` file.

The generated include calls ``execute("<hook>", "isc", EVENT, IP, MAC, VENDOR_CLASS,
USER_CLASS, HOSTNAME, ARCH, RELAY)``: EVENT is commit, release or expiry; MAC as
``binary-to-ascii(16, 8, ":", substring(hardware, 1, 6))`` (not zero-padded: normalised
here); ARCH is option 93 as ``binary-to-ascii(10, 16, ",", option pxe-system-type)``; RELAY
is the request's ``giaddr`` (``0.0.0.0``: not relayed), kept as ``relay_address`` like
dnsmasq's; trailing arguments may be missing or empty; dhcpd's ``\\nnn`` octal escapes are
decoded.
"""

from __future__ import annotations

import re

from pxehook.capture.isc_leases import parse_leases, unescape
from pxehook.capture.sightings import (
    GONE,
    GONE_ACTIONS,
    LEASE,
    DhcpSighting,
    Reader,
    arch_from,
    pad_mac,
    relay_data,
    text,
)
from pxehook.capture.spool import Record
from pxehook.daemons import ISC
from pxehook.errors import InvalidInput


def hook_sightings(rec: Record) -> list[DhcpSighting]:
    """The sighting in one execute() record. Raises InvalidInput without a MAC."""
    args = [unescape(a) for a in rec.args[1:]] + [b""] * 8
    action, ip, mac, vendor_class, user, hostname, arch = (text(a) for a in args[:7])
    relay = text(args[7], 64)
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
            data={
                **({"ip": ip} if ip else {}),
                **relay_data(relay),
            },
        )
    ]


READER = Reader(
    daemon=ISC,
    first_arg=re.compile(re.escape(ISC.name)),  # the generated execute() passes it first
    hook_sightings=hook_sightings,
    parse_leases=parse_leases,
)
