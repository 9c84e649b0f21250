"""The architecture table: complete, consistent, and parsed the way firmware speaks."""

from __future__ import annotations

import pytest

from pxehook import arch
from pxehook.boot import loaders


def test_table_covers_every_registry_code_0_to_0x29_once():
    codes = [a.code for a in arch.TABLE]
    assert codes == sorted(set(codes))
    assert set(range(0, 0x2A)) <= set(codes)


def test_slugs_and_dnsmasq_tags_are_unique_and_valid():
    slugs = [a.slug for a in arch.TABLE]
    assert len(slugs) == len(set(slugs))
    for a in arch.TABLE:
        assert a.dnsmasq_tag == f"pxh-{a.slug}"
        assert a.dnsmasq_tag.replace("-", "").isalnum()
    assert arch.IPXE_TAG not in arch.BY_TAG and arch.HTTPCLIENT_TAG not in arch.BY_TAG


@pytest.mark.parametrize(
    ("code", "firmware", "cpu", "loader"),
    [
        (0, arch.BIOS, "x86", "undionly.kpxe"),
        (6, arch.UEFI, "x86", "ipxe-ia32/snponly.efi"),
        (7, arch.UEFI, "x86", "snponly.efi"),
        (9, arch.UEFI, "x86", "snponly.efi"),
        (11, arch.UEFI, "arm64", "grubaa64.efi"),
        (16, arch.UEFI_HTTP, "x86", "snponly.efi"),
        (22, arch.UBOOT, "arm64", "pxelinux.0"),
        (27, arch.UEFI, "riscv64", "grubriscv64.efi"),
    ],
)
def test_field_facts_for_the_codes_operators_meet(code, firmware, cpu, loader):
    row = arch.lookup(code)
    assert (row.firmware, row.cpu, row.loader()) == (firmware, cpu, loader)


def test_7_and_9_are_both_x64_uefi():
    x64, bc = arch.lookup(7), arch.lookup(9)
    assert x64.loaders == bc.loaders
    assert (x64.ipxe_buildarch, bc.ipxe_buildarch) == ("x86_64", "x86_64")


def test_http_codes_are_marked_http_and_pxe_codes_are_not():
    assert {a.code for a in arch.TABLE if a.is_http} >= {15, 16, 17, 18, 19, 20, 23, 24, 26, 28}
    assert not any(arch.lookup(c).is_http for c in (0, 6, 7, 9, 10, 11, 21, 22))


def test_every_loader_keeps_an_extension_and_uefi_loaders_end_in_efi():
    for a in arch.TABLE:
        for boot_mode, loader in a.loaders.items():
            assert boot_mode in loaders.BOOT_MODES
            assert "." in loader.rsplit("/", 1)[-1], (a.code, loader)
            if a.is_efi:
                assert loader.endswith(".efi"), (a.code, loader)
        if a.loaders:
            assert a.default_boot_mode in a.loaders


def test_unknown_code_is_explicit_and_keeps_the_raw_code():
    row = arch.lookup(0x0FFF)
    assert not row.known and row.code == 0x0FFF and row.loader() is None
    assert "0x0fff" in row.name
    with pytest.raises(ValueError):
        arch.lookup(70000)


@pytest.mark.parametrize(
    ("raw", "kind", "code", "undi"),
    [
        ("PXEClient:Arch:00000:UNDI:002001", "pxe", 0, (2, 1)),
        ("PXEClient:Arch:00007:UNDI:003016", "pxe", 7, (3, 16)),
        ("HTTPClient:Arch:00016:UNDI:003000", "http", 16, (3, 0)),
        ("PXEClient:Arch:0001b:UNDI:003000", "pxe", 27, (3, 0)),  # U-Boot bootstd writes hex
        ("PXEClient", "pxe", None, (None, None)),
    ],
)
def test_vendor_class_parsing(raw, kind, code, undi):
    vc = arch.parse_vendor_class(raw)
    assert vc is not None
    assert (vc.kind, vc.arch_code, (vc.undi_major, vc.undi_minor)) == (kind, code, undi)


@pytest.mark.parametrize(
    ("raw", "code"),
    [("U-Boot.armv8", 22), ("U-boot.armv7", 21), ("U-Boot.arm", 21), ("U-Boot", None)],
)
def test_uboot_vendor_classes(raw, code):
    vc = arch.parse_vendor_class(raw)
    assert vc is not None and vc.kind == "uboot" and vc.arch_code == code


def test_other_vendor_class_is_kept_raw():
    vc = arch.parse_vendor_class("MSFT 5.0")
    assert vc is not None and vc.kind == "other" and vc.raw == "MSFT 5.0" and vc.arch is None


def test_user_class_raw_ipxe_and_rfc3004_framing():
    assert arch.parse_user_class(b"iPXE") == ["iPXE"]
    assert arch.parse_user_class(b"\x04iPXE\x03foo") == ["iPXE", "foo"]
    assert arch.parse_user_class(b"") == []
    assert arch.is_ipxe(arch.parse_user_class(b"iPXE"))
    assert arch.is_ipxe([], has_option_175=True)
    assert not arch.is_ipxe(["gPXE"])


def test_option93_decoding():
    assert arch.parse_option93(b"\x00\x07") == [7]
    assert arch.parse_option93(b"\x00\x07\x00\x09") == [7, 9]
    with pytest.raises(ValueError):
        arch.parse_option93(b"\x07")


def test_tags_and_ipxe_variables_map_back_to_the_table():
    assert arch.from_tags("pxs0 known pxh-ipxe pxh-efi-x64").code == 7
    assert arch.from_tags(["lan"]) is None
    assert arch.from_ipxe("x86_64", "efi").code == 7
    assert arch.from_ipxe("i386", "pcbios").code == 0
    assert arch.from_ipxe("x86_64", "pcbios").code == 0
    assert arch.from_ipxe("arm64", "efi").code == 11
    assert arch.from_ipxe("sparc", "efi") is None
