"""What a requested file name means: PXELINUX/U-Boot and GRUB config names, under any prefix.

Shared by the HTTP routes and the TFTP server so both read names the same way. A name that
looks like a config name but means nothing (a shorter hex-IP narrowing step, garbage after
``01-``) is ``Name(kind="none")``: answered with a clean "not found" at once.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass

from pxehook import arch as archtable
from pxehook.errors import InvalidInput
from pxehook.mac import normalize_mac

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HEXIP = re.compile(r"^[0-9A-F]{1,8}$")
_DASHED = re.compile(r"^[0-9a-f]{2}(-[0-9a-f]{2}){5}$")
_UBOOT = re.compile(r"^default-([a-z0-9_]+)(?:-[A-Za-z0-9_.]+)*$")


@dataclass(frozen=True)
class Name:
    """A parsed config name. ``kind``: mac | uuid | ip | generic | none."""

    loader: str  # pxelinux | uboot | grub
    kind: str
    mac: str = ""
    uuid: str = ""
    ip: str = ""
    claim: archtable.Arch | None = None
    claim_note: str = ""


def clean_path(raw: str) -> str:
    """A relative, normalised path; refuses NUL, ``..``, backslashes and control bytes."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in raw) or "\\" in raw:
        raise InvalidInput("path contains control characters or backslashes")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidInput("path traversal ('..') is refused")
    return posixpath.join(*parts) if parts else ""


def fast_mac(text: str) -> str:
    """Normalise a MAC; the canonical lower-case dashed form skips netaddr (hot path)."""
    return text.replace("-", ":") if _DASHED.match(text) else normalize_mac(text)


def _hexip(text: str) -> str:
    return str(ipaddress.IPv4Address(int(text, 16)))


def parse(path: str) -> Name | None:
    """Classify ``path`` (already cleaned). None = not a config name (a static file)."""
    directory, _, base = path.rpartition("/")
    if posixpath.basename(directory) == "pxelinux.cfg":
        return _pxelinux(base)
    if base == "grub.cfg" or base.startswith("grub.cfg-"):
        return _grub(base)
    return None


def _pxelinux(base: str) -> Name:
    if base == "default":
        return Name("pxelinux", "generic")
    if base.startswith("01-"):
        try:
            return Name("pxelinux", "mac", mac=fast_mac(base[3:]))
        except InvalidInput:
            return Name("pxelinux", "none")
    if _UUID.match(base):
        return Name("pxelinux", "uuid", uuid=base)
    if _HEXIP.match(base):
        # PXELINUX tries C0A8010A, C0A8010, … C: only the full address names a machine.
        return (
            Name("pxelinux", "ip", ip=_hexip(base)) if len(base) == 8 else Name("pxelinux", "none")
        )
    match = _UBOOT.match(base)
    if match:
        word = match.group(1)
        note = f"U-Boot name {base} (CONFIG_SYS_ARCH={word})"
        return Name("uboot", "generic", claim_note=note)
    return Name("pxelinux", "none")


def _grub(base: str) -> Name:
    if base == "grub.cfg":
        return Name("grub", "generic")
    rest = base[len("grub.cfg-") :]
    if rest.startswith("01-"):
        try:
            return Name("grub", "mac", mac=normalize_mac(rest))
        except InvalidInput:
            return Name("grub", "none")
    if _HEXIP.match(rest) and len(rest) == 8:
        return Name("grub", "ip", ip=_hexip(rest))
    return Name("grub", "none")
