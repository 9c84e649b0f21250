"""The option-93 table itself: the ``Arch`` record, every registry code, the dnsmasq tags.

No other file may spell out an option-93 fact. Sources: IANA "Processor Architecture Types"
(dhcpv6-parameters), RFC 4578 + erratum 4624, EDK2 ``Dhcp.h``, iPXE ``dhcp.h``, U-Boot
``cmd/Kconfig`` (see docs/architectures.md). Read it through ``pxehook.arch``.
"""

from __future__ import annotations

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
    loaders: dict[str, str] = field(default_factory=dict)  # boot mode -> first-stage file
    default_boot_mode: str | None = None
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

    def loader(self, boot_mode: str | None = None) -> str | None:
        """First-stage boot file for ``boot_mode`` (default: this arch's default), or None."""
        return self.loaders.get(boot_mode or self.default_boot_mode or "")

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "hex": self.hex,
            "slug": self.slug,
            "name": self.name,
            "firmware": self.firmware,
            "cpu": self.cpu,
            "default_boot_mode": self.default_boot_mode,
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
        default_boot_mode="ipxe",
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
        default_boot_mode="ipxe",
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
        default_boot_mode="ipxe",
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
        default_boot_mode="ipxe",
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
        default_boot_mode="grub",
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
        default_boot_mode="grub",
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
        default_boot_mode="ipxe",
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
        default_boot_mode="ipxe",
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
        default_boot_mode="ipxe",
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
        default_boot_mode="grub",
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
        default_boot_mode="grub",
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
        default_boot_mode="ipxe",
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
        default_boot_mode="uboot",
        note="U-Boot 'pxe get' reads pxelinux.cfg/ next to the boot file name.",
    ),
    _a(
        22,
        "uboot-arm64",
        "ARM 64-bit U-Boot",
        UBOOT,
        "arm64",
        loaders={"uboot": "pxelinux.0"},
        default_boot_mode="uboot",
        note="U-Boot's default on arm64 (DHCP_PXE_CLIENTARCH 0x16).",
    ),
    _a(
        23,
        "uboot-http-arm32",
        "ARM 32-bit U-Boot boot from HTTP",
        UBOOT_HTTP,
        "arm32",
        loaders={"uboot": "pxelinux.0"},
        default_boot_mode="uboot",
    ),
    _a(
        24,
        "uboot-http-arm64",
        "ARM 64-bit U-Boot boot from HTTP",
        UBOOT_HTTP,
        "arm64",
        loaders={"uboot": "pxelinux.0"},
        default_boot_mode="uboot",
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
        default_boot_mode="grub",
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
        default_boot_mode="grub",
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
        default_boot_mode="grub",
        grub_platform="loongarch64-efi",
    ),
    _a(
        40,
        "http-loongarch64",
        "LoongArch 64-bit UEFI boot from HTTP",
        UEFI_HTTP,
        "loongarch64",
        loaders={"grub": "grubloongarch64.efi"},
        default_boot_mode="grub",
        grub_platform="loongarch64-efi",
    ),
    _a(
        41,
        "arm-rpiboot",
        "ARM rpiboot",
        RPIBOOT,
        "arm64",
        loaders={"uboot": "bootcode.bin"},
        default_boot_mode="uboot",
        note=(
            "Listed in copies of the registry; Raspberry Pi boot ROMs send 0 in practice (a MAC "
            "rule maps them here). The ROM fetches its firmware from the TFTP root (bootcode.bin, "
            "or <serial>/start4.elf on a Pi 4/5); config.txt's kernel=u-boot.bin hands over to "
            "U-Boot, which PXE-boots as code 21/22 and reads pxehook's pxelinux.cfg."
        ),
    ),
)

BY_CODE: dict[int, Arch] = {a.code: a for a in TABLE}
BY_SLUG: dict[str, Arch] = {a.slug: a for a in TABLE}
BY_TAG: dict[str, Arch] = {a.dnsmasq_tag: a for a in TABLE}

#: dnsmasq tag set on clients already running iPXE (user class or option 175).
IPXE_TAG = "pxh-ipxe"
#: dnsmasq tag set on UEFI HTTP-boot clients (vendor class HTTPClient).
HTTPCLIENT_TAG = "pxh-httpclient"
