"""Secure Boot, x64: OVMF with Secure Boot on and Microsoft's keys enrolled (Debian's
``OVMF_CODE_4M.ms.fd`` / ``OVMF_VARS_4M.ms.fd``).

The install: ``boot_modes: [efi-x64=grub]`` hands x64 UEFI ``shimx64.efi`` (Debian's
Microsoft-signed shim), shim loads ``grubx64.efi`` (Debian's signed network GRUB) from the
same TFTP server, GRUB fetches its per-MAC config from pxehook's TFTP server, then the
kernel (Debian's signed ``vmlinuz``) and the installer initrd. That GRUB has no HTTP client
(and Secure Boot forbids loading one), so it gets them from pxehook's TFTP server's
``files/`` (docs/secure-boot.md). The installer calls back and reboots; the next network
boot gets GRUB's local config, which chainloads the disk's shim → the disk's signed GRUB.

The negative row: pxehook's default x64 UEFI loader is Debian's iPXE ``snponly.efi``, which
is not signed. The firmware fetches it over TFTP and refuses to run it ("Access Denied");
the stage watch must say the boot stopped after the loader fetch and never reached iPXE.
"""

from __future__ import annotations

import pytest

from pxehook import arch as archtable
from tests.conftest import require_tool
from tests.harness import qemu_artifacts as art
from tests.harness.qemu import VmSpec, qemu_tools

from .flows import failure_report, install_milestones, run_flow, secure_boot_install_milestones
from .test_boot import inventory

pytestmark = [pytest.mark.qemu, pytest.mark.netns, pytest.mark.daemon, pytest.mark.slow]

#: OVMF's PXE DHCP + TFTP under TCG with SMM: ~10-20 s; then nothing more can happen.
REFUSED_TIMEOUT = 60
#: DHCP → shim → GRUB → kernel + initrd over TFTP → installer → callback → reboot → the
#: chain again → disk, under TCG with SMM.
SIGNED_INSTALL_TIMEOUT = 420
#: Debian's kernel, booted with Secure Boot on, locks itself down and says so.
LOCKED_DOWN = "Kernel is locked down from EFI Secure Boot"


@pytest.fixture(scope="session")
def signed_x64() -> art.SignedX64:
    return art.signed_x64()


def test_secure_boot_install_then_local_disk(make_site, signed_x64, record, tmp_path):  # type: ignore[no-untyped-def]
    require_tool(*qemu_tools("uefi-sb"), "mkfs.vfat", "mcopy")
    disk = art.local_disk_secure_boot(signed_x64)
    spec = VmSpec("sb1", "uefi-sb", "52:54:00:e2:01:40", disk)
    shim = archtable.lookup(7).loader("grub")
    assert shim
    # the kernel's own word that it runs under Secure Boot is a notice: no "quiet" here
    loud = inventory([(spec.mac, spec.name, "local", "ready")]).replace(" quiet", "")
    assert 'cmdline: "console=ttyS0"' in loud
    site = make_site(
        "full",
        loud,
        settings={"PXEHOOK_BOOT_MODES": "efi-x64=grub"},
        loaders={shim: signed_x64.shim, "grubx64.efi": signed_x64.grub},
    )
    site.cli("host", "deploy", spec.mac, "--profile", "e2e-installer")
    milestones = secure_boot_install_milestones(site, spec)
    result, _watch, vm = run_flow(
        site, spec, tmp_path / "vm", milestones, "localdisk", "install", SIGNED_INSTALL_TIMEOUT
    )
    result.loader = shim
    record(result)
    if not result.ok:
        print(failure_report(site, vm, result))
    assert result.ok, result.stopped
    serial = vm.serial()
    assert "Access Denied" not in serial and "bad shim signature" not in serial
    # the kernel ran under Secure Boot: firmware, shim and GRUB verified every stage
    assert LOCKED_DOWN in serial, serial[-3000:]
    host = site.host(spec.mac)
    assert host["state"] == "deployed", host
    assert host["arch"] == 7, host
    events = site.events(spec.mac)
    fetched = {
        e["data"].get("path"): e["data"].get("via") for e in events if e["kind"] == "boot.kernel"
    }
    # kernel and initrd came from pxehook's TFTP server's files/ (files_dir)
    assert fetched.get("files/vmlinuz") == "tftp", fetched
    assert fetched.get("files/installer.img") == "tftp", fetched
    configs = [e for e in events if e["kind"] == "boot.config"]
    assert {(c["data"].get("loader"), c["data"].get("arch")) for c in configs} == {
        ("grub", "efi-x64")
    }, configs
    deployed_at = next(e["id"] for e in events if e["data"].get("to") == "deployed")
    assert any(c["id"] > deployed_at for c in configs), "no config served after the callback"


def test_secure_boot_refuses_the_unsigned_ipxe_loader(make_site, artifacts, record, tmp_path):  # type: ignore[no-untyped-def]
    require_tool(*qemu_tools("uefi-sb"))
    spec = VmSpec("sbbad", "uefi-sb", "52:54:00:e2:0f:30", artifacts["disk"])
    site = make_site("full", inventory([(spec.mac, spec.name, "local", "ready")]))
    site.cli("host", "deploy", spec.mac, "--profile", "e2e-installer")
    loader = archtable.lookup(7).loader("ipxe")
    result, _watch, vm = run_flow(
        site,
        spec,
        tmp_path / "vm",
        install_milestones(site, spec),
        "ipxe",
        "broken",
        REFUSED_TIMEOUT,
    )
    record(result)
    print(failure_report(site, vm, result))
    assert not result.ok
    assert f"boot stopped after 'loader fetched ({loader})'" in result.stopped, result.stopped
    assert "never saw 'iPXE running'" in result.stopped, result.stopped
    assert "Access Denied" in vm.serial()  # the firmware's verdict on the unsigned loader
    assert site.host(spec.mac)["state"] == "deploying"
