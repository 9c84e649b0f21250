"""IP → MAC from the kernel's neighbour table (``/proc/net/arp``), for generic file names."""

from __future__ import annotations

from pxehook.errors import InvalidInput
from pxehook.mac import normalize_mac

ARP_TABLE = "/proc/net/arp"
_COMPLETE = 0x2


def parse_arp(text: str) -> dict[str, str]:
    """``{ip: mac}`` for complete entries of a /proc/net/arp dump."""
    table = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        ip, flags, mac = fields[0], fields[2], fields[3]
        try:
            if int(flags, 16) & _COMPLETE and mac != "00:00:00:00:00:00":
                table[ip] = normalize_mac(mac)
        except (ValueError, InvalidInput):
            continue
    return table


def mac_for_ip(ip: str, path: str = ARP_TABLE) -> str:
    """The MAC the kernel last resolved for ``ip``, or ''."""
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return parse_arp(fh.read()).get(ip, "")
    except OSError:
        return ""
