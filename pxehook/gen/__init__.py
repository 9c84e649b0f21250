"""DHCP config generators: dnsmasq drop-ins, an ISC dhcpd include, a Kea Dhcp4 config.

``plan`` turns settings + the arch table into checked data, each daemon module renders it
through its templates, ``writer`` validates with the daemon and replaces the file atomically,
``lint`` warns about known traps.
"""

from __future__ import annotations

from pxehook.gen import dnsmasq, isc, kea
from pxehook.gen.base import Generator


def generator(name: str) -> Generator:
    """The generator for daemon ``name`` (dnsmasq, isc, kea)."""
    table = {"dnsmasq": dnsmasq.GENERATOR, "isc": isc.GENERATOR, "kea": kea.GENERATOR}
    return table[name]


DAEMONS = ("dnsmasq", "isc", "kea")
