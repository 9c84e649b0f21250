"""The one MAC normaliser: every edge (hook, web, TFTP, CLI, store keys) goes through it."""

from __future__ import annotations

import re

import netaddr

from pxehook.errors import InvalidInput

# Accepted spellings (case-insensitive):
#   aa:bb:cc:dd:ee:ff   aa-bb-cc-dd-ee-ff   aabbccddeeff   aabb.ccdd.eeff
#   01-aa-bb-cc-dd-ee-ff  (ARP hardware type 1 prefix, PXELINUX / GRUB file names)
_H2 = "[0-9a-f]{2}"
_FORMS = (
    re.compile(rf"^{_H2}(:{_H2}){{5}}$"),
    re.compile(rf"^{_H2}(-{_H2}){{5}}$"),
    re.compile(r"^[0-9a-f]{12}$"),
    re.compile(r"^[0-9a-f]{4}(\.[0-9a-f]{4}){2}$"),
)
_ARP_PREFIXED = re.compile(rf"^01[-:]({_H2}([-:]){_H2}(\2{_H2}){{4}})$")


def normalize_mac(value: object) -> str:
    """Return ``value`` as lower-case colon MAC, or raise InvalidInput naming the bad value."""
    if not isinstance(value, str):
        raise InvalidInput(f"MAC address must be a string, got {type(value).__name__}")
    text = value.strip().lower()
    prefixed = _ARP_PREFIXED.match(text)
    if prefixed:
        text = prefixed.group(1)
    if _FORMS[0].match(text):  # already the canonical form (the common case): as it is
        return text
    if not any(form.match(text) for form in _FORMS):
        raise InvalidInput(
            f"invalid MAC address {value[:64]!r}",
            hint="use aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabbccddeeff, aabb.ccdd.eeff "
            "or 01-aa-bb-cc-dd-ee-ff",
        )
    eui = netaddr.EUI(text, dialect=netaddr.mac_unix_expanded)
    return str(eui)


def mac_dashes(mac: str) -> str:
    """``aa-bb-cc-dd-ee-ff`` (dnsmasq ``tftp-unique-root=mac`` directory name)."""
    return normalize_mac(mac).replace(":", "-")


def mac_pxelinux(mac: str) -> str:
    """``01-aa-bb-cc-dd-ee-ff``: the name PXELINUX, U-Boot and GRUB look up."""
    return "01-" + mac_dashes(mac)


def mac_bare(mac: str) -> str:
    """``aabbccddeeff``."""
    return normalize_mac(mac).replace(":", "")
