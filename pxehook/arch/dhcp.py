"""What a DHCP packet says about the client: option 93, option 60, option 77 / 175."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pxehook.arch.lookup import lookup
from pxehook.arch.table import Arch


def parse_option93(raw: bytes) -> list[int]:
    """Decode option 93 (one or more big-endian uint16 values)."""
    if len(raw) < 2 or len(raw) % 2:
        raise ValueError(f"option 93 must be a non-empty even number of bytes, got {len(raw)}")
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


@dataclass(frozen=True)
class VendorClass:
    """Parsed option 60."""

    raw: str
    kind: str  # "pxe", "http", "uboot", "other"
    arch_code: int | None = None
    undi_major: int | None = None
    undi_minor: int | None = None

    @property
    def arch(self) -> Arch | None:
        return lookup(self.arch_code) if self.arch_code is not None else None


_PXE_VC = re.compile(
    r"^(?P<kind>PXEClient|HTTPClient)(?::Arch:(?P<arch>[0-9A-Fa-f]{5}))?"
    r"(?::UNDI:(?P<major>\d{3})(?P<minor>\d{3}))?"
)
_UBOOT_ARCH = {"armv8": 22, "armv7": 21, "arm": 21}


def parse_vendor_class(raw: str | bytes | None) -> VendorClass | None:
    """Parse ``PXEClient:Arch:xxxxx:UNDI:yyyzzz``, ``HTTPClient:…`` and U-Boot strings.

    The arch field is five decimal digits; U-Boot's EFI boot method writes it in hex, so a
    field holding a-f digits is read as hex. Unknown strings come back as kind "other".
    """
    if raw is None:
        return None
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    match = _PXE_VC.match(text)
    if match:
        arch_txt = match.group("arch")
        arch_code = None
        if arch_txt is not None:
            base = 10 if arch_txt.isdigit() else 16
            arch_code = int(arch_txt, base)
        major = match.group("major")
        return VendorClass(
            raw=text,
            kind="pxe" if match.group("kind") == "PXEClient" else "http",
            arch_code=arch_code,
            undi_major=int(major) if major else None,
            undi_minor=int(match.group("minor")) if major else None,
        )
    lowered = text.lower()
    if lowered.startswith("u-boot"):
        variant = lowered[len("u-boot") :].lstrip(".")
        return VendorClass(raw=text, kind="uboot", arch_code=_UBOOT_ARCH.get(variant))
    return VendorClass(raw=text, kind="other")


def parse_user_class(raw: bytes | None) -> list[str]:
    """Decode option 77: RFC 3004 length-prefixed list, or iPXE's raw unframed ``iPXE``."""
    if not raw:
        return []
    items: list[str] = []
    i = 0
    while i < len(raw):
        n = raw[i]
        if n == 0 or i + 1 + n > len(raw):
            return [raw.decode("latin-1")]
        items.append(raw[i + 1 : i + 1 + n].decode("latin-1"))
        i += 1 + n
    return items


def is_ipxe(user_classes: list[str] | tuple[str, ...], has_option_175: bool = False) -> bool:
    """True when the DHCP client is already iPXE: user class ``iPXE`` or option 175 present."""
    return has_option_175 or any(uc == "iPXE" for uc in user_classes)
