"""The loader kinds pxehook answers, one record each: the one list every part reads.

Adding a loader kind is one record here plus its templates (``templates/<template_dir>/
boot.<suffix>`` and ``local.<suffix>``); give it a name parser in ``boot/names.py`` when it
asks for config files by name, and add its first-stage file to the arch table
(``arch.TABLE[*].loaders``) when DHCP should hand it out.

Readers: ``boot/render`` (template folder and suffix), ``boot/decide`` (local boot by
firmware), ``boot/prerender`` and ``boot/front`` (pre-rendered files, nginx locations),
``parse_name`` below (HTTP and TFTP config names), ``gen/layout`` (the ``boot_modes`` setting),
``pxehook explain`` (which answers to show).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pxehook.boot.names import Name, grub_name, pxelinux_name, uboot_name

#: Reads a cleaned request path; returns the loader's Name for it, or None (not its name).
NameParser = Callable[[str, str], Name | None]

#: Local-boot method (``decide.LOCAL_METHODS``) by firmware family when nothing chose one.
_BY_FIRMWARE = MappingProxyType({"bios": "sanboot"})


@dataclass(frozen=True)
class Front:
    """How the nginx front serves a loader's pre-rendered per-MAC file."""

    file: str  # under prerender_dir; ``{mac}`` is the dashed MAC
    location: str  # nginx location regex matching the request URI
    try_file: str  # what that location tries before asking gunicorn (``$n`` = a group)


@dataclass(frozen=True)
class Loader:
    """One loader kind and everything pxehook needs to know about it."""

    name: str
    template_dir: str  # folder under templates/ (and under the site directory)
    suffix: str  # templates are ``boot.<suffix>`` and ``local.<suffix>``
    offered_by_dhcp: bool = False  # a boot mode DHCP can hand out (arch table, boot_modes)
    serves_config: bool = True  # False: the answer is a loader file or 404, never the text
    name_parser: NameParser | None = None  # reads its config file names (HTTP and TFTP)
    front: Front | None = None  # pre-rendered for the nginx front
    local_auto: Mapping[str, str] = field(default_factory=lambda: _BY_FIRMWARE)  # family → method
    #: a boot file name DHCP hands out that the firmware never fetches → the file it does
    #: fetch from the TFTP root instead (what ``loaders install`` writes and lint looks for)
    stands_for: Mapping[str, str] = field(default_factory=dict)

    def template(self, kind: str) -> str:
        """The packaged template name for ``kind`` (``boot`` or ``local``)."""
        return f"{self.template_dir}/{kind}.{self.suffix}"


IPXE = Loader(
    "ipxe",
    "ipxe",
    "ipxe.j2",
    offered_by_dhcp=True,
    front=Front(
        file="ipxe/{mac}",
        location=r"^/ipxe/([0-9a-f]{2}(-[0-9a-f]{2}){5})$",
        try_file="/ipxe/$1",
    ),
    # with the arch unknown the iPXE script picks exit 1 on EFI at run time
    local_auto=MappingProxyType({"bios": "sanboot", "": "sanboot"}),
)
GRUB = Loader(
    "grub",
    "grub",
    "cfg.j2",
    offered_by_dhcp=True,
    name_parser=grub_name,
    local_auto=MappingProxyType({"bios": "sanboot", "uefi": "grub-esp"}),
)
PXELINUX = Loader(
    "pxelinux",
    "pxelinux",
    "cfg.j2",
    offered_by_dhcp=True,
    name_parser=pxelinux_name,
    front=Front(
        file="pxelinux.cfg/01-{mac}",
        location=r"^/(.*/)?pxelinux\.cfg/(01(-[0-9a-f]{2}){6})$",
        try_file="/pxelinux.cfg/$2",
    ),
)
# U-Boot reads PXELINUX syntax; its own names are default-<arch>-<soc>-<board>. Handed
# pxelinux.0 only for its directory (`pxe get`'s prefix), it never runs it: its distro
# boot fetches boot.scr.uimg (bootfiles/ubootscript.py, docs/arm.md)
UBOOT = Loader(
    "uboot",
    "pxelinux",
    "cfg.j2",
    offered_by_dhcp=True,
    name_parser=uboot_name,
    stands_for=MappingProxyType({"pxelinux.0": "boot.scr.uimg"}),
)
UEFI_HTTP = Loader("uefi-http", "ipxe", "ipxe.j2", serves_config=False)

#: Every loader kind, in the order ``pxehook explain`` shows them.
LOADERS: tuple[Loader, ...] = (IPXE, GRUB, PXELINUX, UBOOT, UEFI_HTTP)
BY_NAME: dict[str, Loader] = {loader.name: loader for loader in LOADERS}

#: Boot modes the DHCP generators can hand out (keys of ``arch.TABLE[*].loaders``).
BOOT_MODES: tuple[str, ...] = tuple(lo.name for lo in LOADERS if lo.offered_by_dhcp)
#: Loaders the nginx front serves from pre-rendered files.
PRERENDERED: tuple[Loader, ...] = tuple(lo for lo in LOADERS if lo.front)
_NAMED: tuple[Loader, ...] = tuple(lo for lo in LOADERS if lo.name_parser)


def get(name: str) -> Loader:
    """The record for loader kind ``name``; KeyError for an unknown one."""
    return BY_NAME[name]


def parse_name(path: str) -> Name | None:
    """Which loader's config name ``path`` (already cleaned) is; None = a static file."""
    for loader in _NAMED:
        assert loader.name_parser is not None
        name = loader.name_parser(path, loader.name)
        if name is not None:
            return name
    return None


def tftp_file(mode: str | None, name: str) -> str:
    """The file a firmware in boot mode ``mode``, handed ``name``, fetches from the TFTP root."""
    found = BY_NAME.get(mode or "")
    return found.stands_for.get(name, name) if found else name


def local_auto(loader: str, family: str) -> str:
    """Local-boot method for ``loader`` on firmware ``family`` ('' = arch unknown)."""
    found = BY_NAME.get(loader)
    return (found.local_auto if found else _BY_FIRMWARE).get(family, "exit")
