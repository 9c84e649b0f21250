"""The one architecture table: DHCP option 93 codes and everything derived from them.

Every other part of pxehook (generators, hooks, resolver, docs, CLI) reads this module; no
other file may spell out an option-93 fact. Sources: IANA "Processor Architecture Types"
(dhcpv6-parameters), RFC 4578 + erratum 4624, EDK2 ``Dhcp.h``, iPXE ``dhcp.h``, U-Boot
``cmd/Kconfig`` (see docs/architectures.md).

Two questions are kept apart (pixiecore's lesson): *which CPU* (picks the kernel: ``cpu``)
and *which firmware / loader* (picks the first-stage boot file: ``firmware`` + ``loaders``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Firmware kinds.
BIOS = "bios"
UEFI = "uefi"
UEFI_HTTP = "uefi-http"
BIOS_HTTP = "bios-http"
UBOOT = "uboot"
UBOOT_HTTP = "uboot-http"
OPEN_FIRMWARE = "open-firmware"
OPAL = "opal"
S390 = "s390"
RPIBOOT = "rpiboot"
LEGACY = "legacy"
UNKNOWN = "unknown"

HTTP_FIRMWARE = frozenset({UEFI_HTTP, BIOS_HTTP, UBOOT_HTTP})


@dataclass(frozen=True)
class Arch:
    """One option-93 code and what pxehook knows about it."""

    code: int
    slug: str
    name: str
    firmware: str
    cpu: str
    loaders: dict[str, str] = field(default_factory=dict)
    default_mode: str | None = None
    ipxe_buildarch: str | None = None
    ipxe_platform: str | None = None
    grub_platform: str | None = None
    dnsmasq_csa: str | None = None
    deprecated: bool = False
    note: str = ""

    @property
    def known(self) -> bool:
        """False for codes outside the table: never guess a loader for those."""
        return self.firmware != UNKNOWN

    @property
    def hex(self) -> str:
        return f"0x{self.code:04x}"

    @property
    def is_http(self) -> bool:
        """True for the "boot from HTTP" codes: the reply must carry a URL, not a TFTP name."""
        return self.firmware in HTTP_FIRMWARE

    @property
    def is_efi(self) -> bool:
        return self.firmware in (UEFI, UEFI_HTTP)

    @property
    def dnsmasq_tag(self) -> str:
        """Tag name the generated dnsmasq config sets; the hook maps it back to the code."""
        return f"pxh-{self.slug}"

    def loader(self, mode: str | None = None) -> str | None:
        """First-stage boot file for ``mode`` (default: this arch's default mode), or None."""
        return self.loaders.get(mode or self.default_mode or "")

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "hex": self.hex,
            "slug": self.slug,
            "name": self.name,
            "firmware": self.firmware,
            "cpu": self.cpu,
            "default_mode": self.default_mode,
            "loaders": dict(self.loaders),
            "ipxe_buildarch": self.ipxe_buildarch,
            "ipxe_platform": self.ipxe_platform,
            "grub_platform": self.grub_platform,
            "dnsmasq_tag": self.dnsmasq_tag,
            "dnsmasq_csa": self.dnsmasq_csa,
            "deprecated": self.deprecated,
            "note": self.note,
        }


def _a(code: int, slug: str, name: str, firmware: str, cpu: str, **kw: object) -> Arch:
    return Arch(code=code, slug=slug, name=name, firmware=firmware, cpu=cpu, **kw)  # type: ignore[arg-type]


_X64_EFI = {"ipxe": "snponly.efi", "grub": "shimx64.efi"}

#: The table. Loader names are file names under the TFTP root (or HTTP paths for HTTP codes).
TABLE: tuple[Arch, ...] = (
    _a(
        0,
        "bios",
        "x86 BIOS",
        BIOS,
        "x86",
        loaders={"ipxe": "undionly.kpxe", "pxelinux": "lpxelinux.0", "grub": "grub/i386-pc/core.0"},
        default_mode="ipxe",
        ipxe_buildarch="i386",
        ipxe_platform="pcbios",
        grub_platform="i386-pc",
        dnsmasq_csa="x86PC",
        note="Also sent by Raspberry Pi boot ROMs: use a MAC rule to mark those as ARM.",
    ),
    _a(1, "nec-pc98", "NEC/PC98", LEGACY, "x86", dnsmasq_csa="PC98", deprecated=True),
    _a(2, "efi-itanium", "EFI Itanium", UEFI, "ia64", dnsmasq_csa="IA64_EFI"),
    _a(3, "dec-alpha", "DEC Alpha", LEGACY, "alpha", dnsmasq_csa="Alpha", deprecated=True),
    _a(4, "arc-x86", "Arc x86", LEGACY, "x86", dnsmasq_csa="Arc_x86", deprecated=True),
    _a(
        5,
        "intel-lean",
        "Intel Lean Client",
        LEGACY,
        "x86",
        dnsmasq_csa="Intel_Lean_Client",
        deprecated=True,
    ),
    _a(
        6,
        "efi-ia32",
        "x86 UEFI (IA32)",
        UEFI,
        "x86",
        loaders={"ipxe": "ipxe-ia32/snponly.efi", "grub": "grubia32.efi"},
        default_mode="ipxe",
        ipxe_buildarch="i386",
        ipxe_platform="efi",
        grub_platform="i386-efi",
        dnsmasq_csa="IA32_EFI",
        note="32-bit UEFI firmware, often on 64-bit CPUs.",
    ),
    _a(
        7,
        "efi-x64",
        "x64 UEFI",
        UEFI,
        "x86",
        loaders=dict(_X64_EFI),
        default_mode="ipxe",
        ipxe_buildarch="x86_64",
        ipxe_platform="efi",
        grub_platform="x86_64-efi",
        dnsmasq_csa="x86-64_EFI",
        note="What x86-64 UEFI firmware sends (RFC 4578 erratum 4624 swaps 7 and 9).",
    ),
    _a(8, "efi-xscale", "EFI Xscale", LEGACY, "arm32", dnsmasq_csa="Xscale_EFI", deprecated=True),
    _a(
        9,
        "efi-bc",
        "EFI BC (x64 in the field)",
        UEFI,
        "x86",
        loaders=dict(_X64_EFI),
        default_mode="ipxe",
        ipxe_buildarch="x86_64",
        ipxe_platform="efi",
        grub_platform="x86_64-efi",
        dnsmasq_csa="BC_EFI",
        note="IANA: EFI byte code; old iPXE and some firmware send 9 for x64, so it is x64.",
    ),
    _a(
        10,
        "efi-arm32",
        "ARM 32-bit UEFI",
        UEFI,
        "arm32",
        loaders={"ipxe": "ipxe-arm32/snponly.efi", "grub": "grubarm.efi"},
        default_mode="grub",
        ipxe_buildarch="arm32",
        ipxe_platform="efi",
        grub_platform="arm-efi",
        dnsmasq_csa="ARM32_EFI",
    ),
    _a(
        11,
        "efi-arm64",
        "ARM 64-bit UEFI",
        UEFI,
        "arm64",
        loaders={"ipxe": "ipxe-arm64/snponly.efi", "grub": "grubaa64.efi"},
        default_mode="grub",
        ipxe_buildarch="arm64",
        ipxe_platform="efi",
        grub_platform="arm64-efi",
        dnsmasq_csa="ARM64_EFI",
        note="Debian ships no arm64 iPXE; GRUB (grubnetaa64.efi) is the default loader.",
    ),
    _a(12, "ppc-ofw", "PowerPC Open Firmware", OPEN_FIRMWARE, "ppc"),
    _a(13, "ppc-epapr", "PowerPC ePAPR", OPEN_FIRMWARE, "ppc"),
    _a(14, "power-opal", "POWER OPAL v3", OPAL, "ppc64"),
    _a(
        15,
        "http-ia32",
        "x86 UEFI boot from HTTP",
        UEFI_HTTP,
        "x86",
        loaders={"ipxe": "ipxe-ia32/snponly.efi", "grub": "grubia32.efi"},
        default_mode="ipxe",
        ipxe_buildarch="i386",
        ipxe_platform="efi",
        grub_platform="i386-efi",
    ),
    _a(
        16,
        "http-x64",
        "x64 UEFI boot from HTTP",
        UEFI_HTTP,
        "x86",
        loaders=dict(_X64_EFI),
        default_mode="ipxe",
        ipxe_buildarch="x86_64",
        ipxe_platform="efi",
        grub_platform="x86_64-efi",
        note="EDK2 (OVMF) HTTP boot on x86-64.",
    ),
    _a(
        17,
        "http-ebc",
        "EBC boot from HTTP",
        UEFI_HTTP,
        "x86",
        loaders=dict(_X64_EFI),
        default_mode="ipxe",
        ipxe_buildarch="x86_64",
        ipxe_platform="efi",
        grub_platform="x86_64-efi",
        note="Treated as x64, like code 9.",
    ),
    _a(
        18,
        "http-arm32",
        "ARM 32-bit UEFI boot from HTTP",
        UEFI_HTTP,
        "arm32",
        loaders={"ipxe": "ipxe-arm32/snponly.efi", "grub": "grubarm.efi"},
        default_mode="grub",
        ipxe_buildarch="arm32",
        ipxe_platform="efi",
        grub_platform="arm-efi",
    ),
    _a(
        19,
        "http-arm64",
        "ARM 64-bit UEFI boot from HTTP",
        UEFI_HTTP,
        "arm64",
        loaders={"ipxe": "ipxe-arm64/snponly.efi", "grub": "grubaa64.efi"},
        default_mode="grub",
        ipxe_buildarch="arm64",
        ipxe_platform="efi",
        grub_platform="arm64-efi",
    ),
    _a(
        20,
        "http-bios",
        "pc/AT BIOS boot from HTTP",
        BIOS_HTTP,
        "x86",
        loaders={"ipxe": "ipxe.lkrn"},
        default_mode="ipxe",
        ipxe_buildarch="i386",
        ipxe_platform="pcbios",
    ),
    _a(
        21,
        "uboot-arm32",
        "ARM 32-bit U-Boot",
        UBOOT,
        "arm32",
        loaders={"uboot": "pxelinux.0"},
        default_mode="uboot",
        note="U-Boot 'pxe get' reads pxelinux.cfg/ next to the boot file name.",
    ),
    _a(
        22,
        "uboot-arm64",
        "ARM 64-bit U-Boot",
        UBOOT,
        "arm64",
        loaders={"uboot": "pxelinux.0"},
        default_mode="uboot",
        note="U-Boot's default on arm64 (DHCP_PXE_CLIENTARCH 0x16).",
    ),
    _a(
        23,
        "uboot-http-arm32",
        "ARM 32-bit U-Boot boot from HTTP",
        UBOOT_HTTP,
        "arm32",
        loaders={"uboot": "pxelinux.0"},
        default_mode="uboot",
    ),
    _a(
        24,
        "uboot-http-arm64",
        "ARM 64-bit U-Boot boot from HTTP",
        UBOOT_HTTP,
        "arm64",
        loaders={"uboot": "pxelinux.0"},
        default_mode="uboot",
    ),
    _a(25, "efi-riscv32", "RISC-V 32-bit UEFI", UEFI, "riscv32"),
    _a(26, "http-riscv32", "RISC-V 32-bit UEFI boot from HTTP", UEFI_HTTP, "riscv32"),
    _a(
        27,
        "efi-riscv64",
        "RISC-V 64-bit UEFI",
        UEFI,
        "riscv64",
        loaders={"ipxe": "ipxe-riscv64/snponly.efi", "grub": "grubriscv64.efi"},
        default_mode="grub",
        ipxe_buildarch="riscv64",
        ipxe_platform="efi",
        grub_platform="riscv64-efi",
    ),
    _a(
        28,
        "http-riscv64",
        "RISC-V 64-bit UEFI boot from HTTP",
        UEFI_HTTP,
        "riscv64",
        loaders={"ipxe": "ipxe-riscv64/snponly.efi", "grub": "grubriscv64.efi"},
        default_mode="grub",
        ipxe_buildarch="riscv64",
        ipxe_platform="efi",
        grub_platform="riscv64-efi",
    ),
    _a(29, "efi-riscv128", "RISC-V 128-bit UEFI", UEFI, "riscv128"),
    _a(30, "http-riscv128", "RISC-V 128-bit UEFI boot from HTTP", UEFI_HTTP, "riscv128"),
    _a(31, "s390-basic", "s390 Basic", S390, "s390"),
    _a(32, "s390-extended", "s390 Extended", S390, "s390"),
    _a(33, "efi-mips32", "MIPS 32-bit UEFI", UEFI, "mips32"),
    _a(34, "efi-mips64", "MIPS 64-bit UEFI", UEFI, "mips64"),
    _a(35, "efi-sunway32", "Sunway 32-bit UEFI", UEFI, "sunway32"),
    _a(36, "efi-sunway64", "Sunway 64-bit UEFI", UEFI, "sunway64"),
    _a(37, "efi-loongarch32", "LoongArch 32-bit UEFI", UEFI, "loongarch32"),
    _a(38, "http-loongarch32", "LoongArch 32-bit UEFI boot from HTTP", UEFI_HTTP, "loongarch32"),
    _a(
        39,
        "efi-loongarch64",
        "LoongArch 64-bit UEFI",
        UEFI,
        "loongarch64",
        loaders={"grub": "grubloongarch64.efi"},
        default_mode="grub",
        grub_platform="loongarch64-efi",
    ),
    _a(
        40,
        "http-loongarch64",
        "LoongArch 64-bit UEFI boot from HTTP",
        UEFI_HTTP,
        "loongarch64",
        loaders={"grub": "grubloongarch64.efi"},
        default_mode="grub",
        grub_platform="loongarch64-efi",
    ),
    _a(
        41,
        "arm-rpiboot",
        "ARM rpiboot",
        RPIBOOT,
        "arm64",
        note="Listed in copies of the registry; Raspberry Pi boot ROMs send 0 in practice.",
    ),
)

BY_CODE: dict[int, Arch] = {a.code: a for a in TABLE}
BY_SLUG: dict[str, Arch] = {a.slug: a for a in TABLE}
BY_TAG: dict[str, Arch] = {a.dnsmasq_tag: a for a in TABLE}

#: dnsmasq tag set on clients already running iPXE (user class or option 175).
IPXE_TAG = "pxh-ipxe"
#: dnsmasq tag set on UEFI HTTP-boot clients (vendor class HTTPClient).
HTTPCLIENT_TAG = "pxh-httpclient"


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


@dataclass(frozen=True)
class MacRule:
    """A MAC prefix whose machines announce a misleading arch (data, not code)."""

    prefix: str  # lower-case, colon-separated OUI (or longer)
    arch: int
    note: str


#: Raspberry Pi boot ROMs send option 93 = 0 (x86 BIOS) but are ARM: trust the OUI instead.
MAC_RULES: tuple[MacRule, ...] = tuple(
    MacRule(p, 41, "Raspberry Pi (boot ROM announces arch 0)")
    for p in ("b8:27:eb", "dc:a6:32", "e4:5f:01", "28:cd:c1", "d8:3a:dd", "2c:cf:67")
)


def rule_for_mac(mac: str, rules: tuple[MacRule, ...] = MAC_RULES) -> MacRule | None:
    """The longest rule whose prefix matches the normalised ``mac``, or None."""
    best = None
    for rule in rules:
        if mac.startswith(rule.prefix) and (best is None or len(rule.prefix) > len(best.prefix)):
            best = rule
    return best
