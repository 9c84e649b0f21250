"""DHCP config generators: dnsmasq drop-ins, an ISC dhcpd include, a Kea Dhcp4 config.

``layout`` turns settings + the arch table into a checked ``SiteLayout``, each daemon
module renders it through its templates, ``writer`` validates with the daemon and replaces
the file atomically, ``lint`` warns about known traps.

Each daemon in the registry (pxehook/daemons.py) has its generator in ``gen/<name>.py``
(a module-level ``GENERATOR``), loaded here by that name: adding a daemon edits no list here.
"""

from __future__ import annotations

import importlib

from pxehook.daemons import DAEMONS
from pxehook.gen.base import Generator

GENERATORS: dict[str, Generator] = {
    d.name: importlib.import_module(f"pxehook.gen.{d.name}").GENERATOR for d in DAEMONS
}


def generator(name: str) -> Generator:
    """The generator for daemon ``name`` (a name from pxehook.daemons)."""
    return GENERATORS[name]
