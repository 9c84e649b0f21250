"""``pxehook loaders install`` / ``list``: real apt-get download + dpkg-deb from Debian's
mirror (cached under /var/cache, as the e2e artifacts are), files checked byte for byte.

Attacks and faults: a file the site put there (or changed since) is never overwritten
without --force; a symlink in the TFTP root is not written through; a symlink inside a
package is not followed; --check writes nothing.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

from pxehook.bootfiles.catalog import Part
from pxehook.bootfiles.install import source_file
from pxehook.errors import PxehookError
from tests.conftest import require_tool

pytestmark = pytest.mark.daemon  # needs apt, dpkg and Debian's mirror

CACHE = os.environ.get("PXH_LOADER_CACHE", "/var/cache/pxehook-test-loaders")
DEFAULT_FILES = {"undionly.kpxe", "snponly.efi", "grubaa64.efi"}  # bios, x64 and arm64 UEFI
X86 = ("--arch", "bios", "--arch", "efi-x64")  # iPXE only: one package


@pytest.fixture
def loaders(cli, env):  # type: ignore[no-untyped-def]
    require_tool("apt-get")
    require_tool("dpkg-deb")

    def run(*args: str):  # type: ignore[no-untyped-def]
        return (
            cli("loaders", *args, "--cache", CACHE)
            if args[0] == "install"
            else cli("loaders", *args)
        )

    return run


def _machine(path: Path) -> int:
    """The PE/COFF machine field of an EFI binary (0x8664 x64, 0xaa64 arm64)."""
    data = path.read_bytes()
    assert data[:2] == b"MZ", path
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    assert data[pe : pe + 4] == b"PE\0\0", path
    return int(struct.unpack_from("<H", data, pe + 4)[0])


def _from_debian(package: str, member: str, tmp: Path) -> bytes:
    """The file as Debian ships it, fetched independently of pxehook."""
    tmp.mkdir(mode=0o755)
    subprocess.run(["apt-get", "-q", "download", package], cwd=tmp, check=True, capture_output=True)
    deb = next(tmp.glob("*.deb"))
    tree = tmp / "tree"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    return (tree / member.lstrip("/")).read_bytes()


def test_install_fills_tftp_root_and_says_what_it_put_there(loaders, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = Path(env["PXEHOOK_TFTP_ROOT"])
    result = loaders("install", "--json")
    assert result.code == 0, result
    report = json.loads(result.out)
    assert report["changed"] and {Path(f["path"]).name for f in report["files"]} == DEFAULT_FILES
    for row in report["files"]:
        assert row["action"] == "installed" and row["package"] and row["version"], row
        assert len(row["sha256"]) == 64
    assert {p.name for p in root.iterdir()} == DEFAULT_FILES
    assert (root / "undionly.kpxe").read_bytes() == _from_debian(
        "ipxe", "/usr/lib/ipxe/undionly.kpxe", tmp_path / "deb"
    )
    assert _machine(root / "snponly.efi") == 0x8664
    assert _machine(root / "grubaa64.efi") == 0xAA64  # the arm64 package, fetched on amd64
    assert oct((root / "grubaa64.efi").stat().st_mode & 0o777) == "0o644"
    listed = json.loads(loaders("list", "--json").out)
    assert {(Path(r["path"]).name, r["action"]) for r in listed} == {
        (name, "installed") for name in DEFAULT_FILES
    }
    again = json.loads(loaders("install", "--json").out)  # idempotent: the manifest
    assert not again["changed"] and {f["action"] for f in again["files"]} == {"unchanged"}


def test_a_file_it_did_not_install_is_left_alone(loaders, env) -> None:  # type: ignore[no-untyped-def]
    root = Path(env["PXEHOOK_TFTP_ROOT"])
    root.mkdir(parents=True, exist_ok=True)
    (root / "snponly.efi").write_bytes(b"the site's own iPXE build")
    result = loaders("install", *X86)
    assert result.code == 7 and "snponly.efi" in result.err and "--force" in result.err, result
    assert (root / "snponly.efi").read_bytes() == b"the site's own iPXE build"
    assert (root / "undionly.kpxe").stat().st_size > 0  # the others are installed
    assert "foreign" in loaders("list", *X86).out
    forced = loaders("install", *X86, "--force")
    assert forced.code == 0 and "replaced" in forced.out, forced
    assert _machine(root / "snponly.efi") == 0x8664


def test_a_file_changed_since_it_was_installed_is_left_alone(loaders, env) -> None:  # type: ignore[no-untyped-def]
    root = Path(env["PXEHOOK_TFTP_ROOT"])
    assert loaders("install", *X86).code == 0
    (root / "undionly.kpxe").write_bytes(b"patched by hand")
    assert "modified" in loaders("list", *X86).out
    assert loaders("install", *X86).code == 7
    assert (root / "undionly.kpxe").read_bytes() == b"patched by hand"


def test_a_symlink_in_the_root_is_not_written_through(loaders, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = Path(env["PXEHOOK_TFTP_ROOT"])
    root.mkdir(parents=True, exist_ok=True)
    victim = tmp_path / "etc-file"
    victim.write_text("keep me\n")
    (root / "undionly.kpxe").symlink_to(victim)
    assert loaders("install", *X86).code == 7
    assert victim.read_text() == "keep me\n" and (root / "undionly.kpxe").is_symlink()


def test_check_writes_nothing(loaders, env) -> None:  # type: ignore[no-untyped-def]
    result = json.loads(loaders("install", *X86, "--check", "--json").out)
    assert result["check"] and result["changed"]
    assert not Path(env["PXEHOOK_TFTP_ROOT"]).exists() or not any(
        Path(env["PXEHOOK_TFTP_ROOT"]).iterdir()
    )
    assert not (Path(env["PXEHOOK_STATE_DIR"]) / "loaders.json").exists()


def test_pxelinux_modules_shim_and_grub_and_the_http_dir(loaders, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    http = tmp_path / "http-boot"
    args = ["--arch", "bios", "--mode", "pxelinux", "--http-dir", str(http)]
    assert loaders("install", *args).code == 0
    x64 = loaders("install", "--arch", "efi-x64", "--mode", "grub", "--http-dir", str(http))
    assert x64.code == 0, x64
    names = {"lpxelinux.0", "ldlinux.c32", "libutil.c32", "libcom32.c32", "menu.c32"}
    names |= {"shimx64.efi", "mmx64.efi", "grubx64.efi"}
    for folder in (Path(env["PXEHOOK_TFTP_ROOT"]), http):
        assert {p.name for p in folder.iterdir()} == names
    assert _machine(http / "shimx64.efi") == _machine(http / "grubx64.efi") == 0x8664


def test_a_loader_debian_does_not_package_is_named(loaders) -> None:  # type: ignore[no-untyped-def]
    result = loaders("install", "--arch", "efi-riscv64")
    assert result.code == 4 and "Debian packages no grubriscv64.efi" in result.err, result
    assert loaders("install", "--arch", "efi-riscv64", "--skip-unavailable").code == 0


def test_gen_warns_only_for_the_sites_architectures_and_points_at_loaders(cli, loaders) -> None:  # type: ignore[no-untyped-def]
    site = {
        "PXEHOOK_SERVER_IP": "192.0.2.10",
        "PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24",
        "PXEHOOK_DHCP_RANGE": "192.0.2.100,192.0.2.199",
    }
    before = cli("gen", "dnsmasq", extra_env={**site, "PXEHOOK_LOADER_ARCHES": "bios"})
    missing = [line for line in before.err.splitlines() if "is missing from tftp_root" in line]
    assert len(missing) == 1 and "undionly.kpxe" in missing[0], before.err
    assert "run 'pxehook loaders install'" in missing[0]
    assert loaders("install").code == 0  # the default loader_arches
    after = cli("gen", "dnsmasq", extra_env=site)
    assert after.code == 0 and "is missing from tftp_root" not in after.err, after.err


def test_a_symlink_inside_a_package_is_not_followed(tmp_path) -> None:
    tree = tmp_path / "tree"
    (tree / "usr/lib/ipxe").mkdir(parents=True)
    (tree / "usr/lib/ipxe/ipxe.efi").symlink_to("/etc/passwd")  # as Debian's ipxe ships it
    with pytest.raises(PxehookError, match="not a plain file"):
        source_file(tree, Part("ipxe", "all", "/usr/lib/ipxe/ipxe.efi", "ipxe.efi"))
