"""What a requested file name means: PXELINUX/U-Boot and GRUB config names, under any prefix.

One parser per name scheme; ``boot/loaders.py`` names the parser of each loader kind and
``loaders.parse_name`` asks them all, so the HTTP routes and the TFTP server read names the
same way. A name that looks like a config name but means nothing (a shorter hex-IP narrowing
step, garbage after ``01-``) is ``Name(kind="none")``: answered with a clean "not found" at
once.
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
PXELINUX_DIR = "pxelinux.cfg"
#: ``files/<rest>`` over TFTP names ``<rest>`` of ``files_dir``, as ``/files/<rest>`` does over
#: HTTP: GRUB builds without an HTTP client fetch pxehook's kernels and initrds this way.
FILES_DIR = "files"


@dataclass(frozen=True)
class Name:
    """A parsed config name. ``kind``: mac | uuid | ip | generic | none."""

    loader: str  # the loader kind whose parser read it (boot/loaders.py)
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


def files_name(path: str) -> str | None:
    """The part of a cleaned path under ``files/`` (a file of ``files_dir``), else None."""
    head, _, rest = path.partition("/")
    return rest if head == FILES_DIR and rest else None


def fast_mac(text: str) -> str:
    """Normalise a MAC; the canonical lower-case dashed form skips netaddr (hot path)."""
    return text.replace("-", ":") if _DASHED.match(text) else normalize_mac(text)


def _hexip(text: str) -> str:
    return str(ipaddress.IPv4Address(int(text, 16)))


def _split(path: str) -> tuple[str, str]:
    """(name of the directory holding the file, file name)."""
    directory, _, base = path.rpartition("/")
    return posixpath.basename(directory), base


def pxelinux_name(path: str, loader: str) -> Name | None:
    """A PXELINUX name under ``…/pxelinux.cfg/``: ``01-<mac>``, ``<uuid>``, ``<HEXIP>``,
    ``default``; anything else there but a U-Boot name is a Name of kind ``none``."""
    directory, base = _split(path)
    if directory != PXELINUX_DIR or _UBOOT.match(base):
        return None
    if base == "default":
        return Name(loader, "generic")
    if base.startswith("01-"):
        try:
            return Name(loader, "mac", mac=fast_mac(base[3:]))
        except InvalidInput:
            return Name(loader, "none")
    if _UUID.match(base):
        return Name(loader, "uuid", uuid=base)
    if _HEXIP.match(base):
        # PXELINUX tries C0A8010A, C0A8010, … C: only the full address names a machine.
        return Name(loader, "ip", ip=_hexip(base)) if len(base) == 8 else Name(loader, "none")
    return Name(loader, "none")


def uboot_name(path: str, loader: str) -> Name | None:
    """U-Boot's ``pxelinux.cfg/default-<CONFIG_SYS_ARCH>-<soc>-<board>`` (generic names)."""
    directory, base = _split(path)
    match = _UBOOT.match(base) if directory == PXELINUX_DIR else None
    if match is None:
        return None
    note = f"U-Boot name {base} (CONFIG_SYS_ARCH={match.group(1)})"
    return Name(loader, "generic", claim_note=note)


def grub_name(path: str, loader: str) -> Name | None:
    """``grub.cfg``, ``grub.cfg-01-<mac>``, ``grub.cfg-<HEXIP>`` (not under ``pxelinux.cfg/``)."""
    directory, base = _split(path)
    if directory == PXELINUX_DIR or not (base == "grub.cfg" or base.startswith("grub.cfg-")):
        return None
    if base == "grub.cfg":
        return Name(loader, "generic")
    rest = base[len("grub.cfg-") :]
    if rest.startswith("01-"):
        try:
            return Name(loader, "mac", mac=normalize_mac(rest))
        except InvalidInput:
            return Name(loader, "none")
    if _HEXIP.match(rest) and len(rest) == 8:
        return Name(loader, "ip", ip=_hexip(rest))
    return Name(loader, "none")
