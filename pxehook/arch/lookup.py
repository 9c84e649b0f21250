"""Finding a table row: by code, slug, dnsmasq tag, iPXE or GRUB platform, boot family, MAC."""

from __future__ import annotations

from dataclasses import dataclass

from pxehook.arch.table import (
    BIOS,
    BIOS_HTTP,
    BY_CODE,
    BY_SLUG,
    BY_TAG,
    RPIBOOT,
    TABLE,
    UBOOT,
    UBOOT_HTTP,
    UEFI,
    UEFI_HTTP,
    UNKNOWN,
    Arch,
)


def lookup(code: int) -> Arch:
    """Return the table row for ``code``; an explicit unknown row (raw code kept) otherwise."""
    try:
        return BY_CODE[code]
    except KeyError:
        pass
    if not 0 <= code <= 0xFFFF:
        raise ValueError(f"option 93 value {code!r} is not a 16-bit number")
    return Arch(
        code=code,
        slug=f"unknown-{code}",
        name=f"unknown (0x{code:04x})",
        firmware=UNKNOWN,
        cpu=UNKNOWN,
    )


def code_of(value: object) -> int | None:
    """A table code from an int, a decimal/hex string or a slug (``efi-x64``); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in BY_CODE else None
    text = str(value).strip()
    if text in BY_SLUG:
        return BY_SLUG[text].code
    try:
        code = int(text, 0)
    except ValueError:
        return None
    return code if code in BY_CODE else None


def from_tags(tags: str | list[str]) -> Arch | None:
    """Recover the architecture from dnsmasq's ``DNSMASQ_TAGS`` (our ``pxh-*`` arch tags)."""
    words = tags.split() if isinstance(tags, str) else tags
    for word in words:
        arch = BY_TAG.get(word)
        if arch is not None:
            return arch
    return None


def from_ipxe(buildarch: str, platform: str) -> Arch | None:
    """Map iPXE's ``${buildarch}`` and ``${platform}`` to the PXE (non-HTTP) table row."""
    buildarch, platform = buildarch.strip().lower(), platform.strip().lower()
    if platform == "pcbios" and buildarch in ("i386", "x86_64"):
        return BY_CODE[0]
    for arch in TABLE:
        if (
            arch.firmware == UEFI
            and arch.ipxe_buildarch == buildarch
            and arch.ipxe_platform == platform
        ):
            return arch
    return None


def supported() -> list[Arch]:
    """Rows with at least one loader: the architectures pxehook can boot."""
    return [a for a in TABLE if a.loaders]


# --- boot families and request claims (used by the resolver) -------------------------------

#: Firmware kinds grouped by how a machine boots locally and which configs it reads.
_FAMILY = {
    BIOS: "bios",
    BIOS_HTTP: "bios",
    UEFI: "uefi",
    UEFI_HTTP: "uefi",
    UBOOT: "uboot",
    UBOOT_HTTP: "uboot",
    RPIBOOT: "rpi",
}


def family(a: Arch) -> str:
    """``bios``, ``uefi``, ``uboot``, ``rpi`` or ``other``: what local boot and loaders expect."""
    return _FAMILY.get(a.firmware, "other")


def equivalent(a: Arch, b: Arch) -> bool:
    """Same CPU and same boot family (x64 codes 7, 9 and 16 are equivalent, 0 and 7 are not)."""
    return a.cpu == b.cpu and family(a) == family(b)


def from_grub(platform: str, cpu: str = "") -> Arch | None:
    """Map GRUB's ``$grub_platform``/``$grub_cpu`` (``efi``/``x86_64``) or a full platform
    name (``x86_64-efi``, ``i386-pc``) to the PXE table row."""
    name = platform.strip().lower()
    if cpu:
        name = f"{cpu.strip().lower()}-{name}"
    for a in TABLE:
        if a.grub_platform == name and a.firmware in (BIOS, UEFI):
            return a
    return None


#: U-Boot's ``default-<CONFIG_SYS_ARCH>-…`` names: only the arch word, not the width.
UBOOT_SYS_ARCH = {"arm": "arm", "riscv": "riscv", "x86": "x86"}


# --- MAC quirks: firmware that announces the wrong arch, recognised by its OUI ----------------


@dataclass(frozen=True)
class MacRule:
    """A MAC prefix whose machines announce a misleading arch (data, not code).

    The rule corrects only the code the firmware lies with (``announces``): the same machine
    running firmware that tells the truth (a Pi with UEFI firmware sends 11, U-Boot sends 22)
    keeps what it sends. The DHCP generators, the resolver and every display read this.
    """

    prefix: str  # lower-case, colon-separated whole octets: an OUI (or longer)
    arch: int  # what these machines are
    note: str
    announces: int = 0  # the option-93 code their firmware sends instead
    pxe_menu: str = ""  # PXE menu text their boot ROM looks for in a ProxyDHCP answer

    @property
    def dnsmasq_tag(self) -> str:
        """Tag the generated dnsmasq config sets on these MACs; never an arch tag, so the
        hook still records the code the machine announced."""
        return f"pxh-mac-{lookup(self.announces).slug}-as-{lookup(self.arch).slug}"


#: Raspberry Pi boot ROMs send option 93 = 0 (x86 BIOS) but are ARM: trust the OUI instead.
#: Their ROM looks for "Raspberry Pi Boot" in a ProxyDHCP answer's PXE menu (Raspberry Pi's
#: own network-boot guide: ``pxe-service=0,"Raspberry Pi Boot"``).
MAC_RULES: tuple[MacRule, ...] = tuple(
    MacRule(p, 41, "Raspberry Pi (boot ROM announces arch 0)", pxe_menu="Raspberry Pi Boot")
    for p in ("b8:27:eb", "dc:a6:32", "e4:5f:01", "28:cd:c1", "d8:3a:dd", "2c:cf:67")
)


def rule_for_mac(mac: str, rules: tuple[MacRule, ...] = MAC_RULES) -> MacRule | None:
    """The longest rule whose prefix matches the normalised ``mac``, or None."""
    best = None
    for rule in rules:
        if mac.startswith(rule.prefix) and (best is None or len(rule.prefix) > len(best.prefix)):
            best = rule
    return best
