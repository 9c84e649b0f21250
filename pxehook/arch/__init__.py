"""The one architecture table: DHCP option 93 codes and everything derived from them.

Every other part of pxehook (generators, hooks, resolver, docs, CLI) reads this package as
``from pxehook import arch as archtable``; no other file may spell out an option-93 fact.

Two questions are kept apart (pixiecore's lesson): *which CPU* (picks the kernel: ``cpu``)
and *which firmware / loader* (picks the first-stage boot file: ``firmware`` + ``loaders``).

- ``table.py``: the ``Arch`` record, firmware kinds, the rows, the dnsmasq tag names;
- ``lookup.py``: finding a row (by code, slug, tag, iPXE/GRUB platform), boot families, and
  the MAC rules for firmware that announces the wrong code;
- ``dhcp.py``: decoding what a DHCP packet says (options 93, 60, 77 and 175).
"""

from __future__ import annotations

from pxehook.arch.dhcp import (
    VendorClass,
    is_ipxe,
    parse_option93,
    parse_user_class,
    parse_vendor_class,
)
from pxehook.arch.lookup import (
    MAC_RULES,
    UBOOT_SYS_ARCH,
    MacRule,
    code_of,
    equivalent,
    family,
    from_grub,
    from_ipxe,
    from_tags,
    lookup,
    rule_for_mac,
    supported,
)
from pxehook.arch.table import (
    BIOS,
    BIOS_HTTP,
    BY_CODE,
    BY_SLUG,
    BY_TAG,
    HTTP_FIRMWARE,
    HTTPCLIENT_TAG,
    IPXE_TAG,
    LEGACY,
    OPAL,
    OPEN_FIRMWARE,
    RPIBOOT,
    S390,
    TABLE,
    UBOOT,
    UBOOT_HTTP,
    UEFI,
    UEFI_HTTP,
    UNKNOWN,
    Arch,
)

__all__ = [
    "BIOS",
    "BIOS_HTTP",
    "BY_CODE",
    "BY_SLUG",
    "BY_TAG",
    "HTTPCLIENT_TAG",
    "HTTP_FIRMWARE",
    "IPXE_TAG",
    "LEGACY",
    "MAC_RULES",
    "OPAL",
    "OPEN_FIRMWARE",
    "RPIBOOT",
    "S390",
    "TABLE",
    "UBOOT",
    "UBOOT_HTTP",
    "UBOOT_SYS_ARCH",
    "UEFI",
    "UEFI_HTTP",
    "UNKNOWN",
    "Arch",
    "MacRule",
    "VendorClass",
    "code_of",
    "equivalent",
    "family",
    "from_grub",
    "from_ipxe",
    "from_tags",
    "is_ipxe",
    "lookup",
    "parse_option93",
    "parse_user_class",
    "parse_vendor_class",
    "rule_for_mac",
    "supported",
]
