"""Which Debian package file makes each loader of the arch table boot, and which loaders a
site wants (the ``loader_arches`` setting, the boot modes in force).

The arch table names the loader a code boots (``snponly.efi``); the catalog adds where
Debian ships it and what it needs beside it (PXELINUX's modules, shim's GRUB). A loader
with no entry is one Debian does not package (``ipxe-ia32/snponly.efi``, ``bootcode.bin``):
the operator puts it into the TFTP root.
"""

from __future__ import annotations

from dataclasses import dataclass

from pxehook import arch as archtable
from pxehook.boot import loaders
from pxehook.config import Settings
from pxehook.gen.layout import boot_mode_overrides, check_slugs

#: ``Part.deb_arch`` of a file pxehook generates (no package, no apt)
GENERATED = "generated"


@dataclass(frozen=True)
class Part:
    """One file of a loader: a path inside a Debian package, and its name under the root."""

    package: str
    deb_arch: str  # the package's architecture: "all", a dpkg name ("amd64", "arm64"), or
    # GENERATED: pxehook writes the file itself (``source`` names the generator)
    source: str  # absolute path inside the package
    dest: str  # path relative to the TFTP root

    @property
    def spec(self) -> str:
        """The package as apt names it (``grub-efi-arm64-signed:arm64``)."""
        if self.deb_arch in ("all", GENERATED):
            return self.package
        return f"{self.package}:{self.deb_arch}"

    @property
    def generated(self) -> bool:
        return self.deb_arch == GENERATED


def _syslinux_module(name: str) -> Part:
    return Part("syslinux-common", "all", f"/usr/lib/syslinux/modules/bios/{name}", name)


#: loader file (as the arch table names it) -> the files that make it boot (Debian 12)
CATALOG: dict[str, tuple[Part, ...]] = {
    "undionly.kpxe": (Part("ipxe", "all", "/usr/lib/ipxe/undionly.kpxe", "undionly.kpxe"),),
    "snponly.efi": (Part("ipxe", "all", "/usr/lib/ipxe/snponly.efi", "snponly.efi"),),
    "lpxelinux.0": (
        Part("pxelinux", "all", "/usr/lib/PXELINUX/lpxelinux.0", "lpxelinux.0"),
        *(_syslinux_module(m) for m in ("ldlinux.c32", "libutil.c32", "libcom32.c32", "menu.c32")),
    ),
    # Secure Boot: shim (signed by Microsoft) loads grubx64.efi (signed by Debian) and, to
    # enrol a key, mmx64.efi; the network GRUB finds its grub.cfg from the DHCP answer
    "shimx64.efi": (
        Part("shim-signed", "amd64", "/usr/lib/shim/shimx64.efi.signed", "shimx64.efi"),
        Part("shim-helpers-amd64-signed", "amd64", "/usr/lib/shim/mmx64.efi.signed", "mmx64.efi"),
        Part(
            "grub-efi-amd64-signed",
            "amd64",
            "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
            "grubx64.efi",
        ),
    ),
    # U-Boot (arch codes 21-24) is handed the name pxelinux.0 only for its directory (where
    # `pxe get` looks for pxelinux.cfg/); it never runs it. What its distro boot fetches is
    # boot.scr.uimg: pxehook writes one that runs `pxe get` / `pxe boot` (ubootscript.py)
    "pxelinux.0": (
        Part("pxehook", GENERATED, "ubootscript", loaders.UBOOT.stands_for["pxelinux.0"]),
    ),
    "grubaa64.efi": (
        Part(
            "grub-efi-arm64-signed",
            "arm64",
            "/usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed",
            "grubaa64.efi",
        ),
    ),
}


@dataclass(frozen=True)
class Wanted:
    """A loader the site needs: its file, the architectures that boot it, its parts."""

    loader: str
    arches: tuple[str, ...]  # arch slugs
    parts: tuple[Part, ...]  # () when Debian packages no such loader


def wanted(
    settings: Settings, arches: list[str] | None = None, modes: list[str] | None = None
) -> list[Wanted]:
    """The loaders of ``arches`` (default: the ``loader_arches`` setting), in the boot modes
    ``modes`` (default: the mode each arch boots in, ``boot_modes`` included)."""
    slugs = check_slugs(arches or settings.loader_arches, "loader architectures")
    overrides = boot_mode_overrides(settings.boot_modes)
    users: dict[str, list[str]] = {}
    for slug in slugs:
        row = archtable.BY_SLUG[slug]
        chosen = modes or [overrides.get(slug, row.default_boot_mode or "")]
        for mode in chosen:
            loader = row.loader(mode) if mode in row.loaders else None
            if loader:
                users.setdefault(loader, []).append(slug)
    return [Wanted(name, tuple(s), CATALOG.get(name, ())) for name, s in sorted(users.items())]
