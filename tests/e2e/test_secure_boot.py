"""Secure Boot, x64: OVMF with Secure Boot on and Microsoft's keys enrolled (Debian's
``OVMF_CODE_4M.ms.fd`` / ``OVMF_VARS_4M.ms.fd``).

The signed chain: ``boot_modes: [efi-x64=grub]`` hands x64 UEFI ``shimx64.efi`` (Debian's
Microsoft-signed shim), shim loads ``grubx64.efi`` (Debian's signed network GRUB) from the
same TFTP server, and GRUB fetches its per-MAC config from pxehook.

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

from .flows import failure_report, install_milestones, run_flow, signed_grub_milestones
from .test_boot import boot_all, inventory

pytestmark = [pytest.mark.qemu, pytest.mark.netns, pytest.mark.daemon, pytest.mark.slow]

#: OVMF's PXE DHCP + TFTP under TCG with SMM: ~10-20 s; then nothing more can happen.
REFUSED_TIMEOUT = 60
#: DHCP → shim → GRUB → config under TCG with SMM: ~20-40 s.
SIGNED_TIMEOUT = 150


@pytest.fixture(scope="session")
def signed_x64() -> art.SignedX64:
    return art.signed_x64()


def test_secure_boot_signed_shim_and_grub_fetch_their_config(
    make_site, signed_x64, record, tmp_path
):  # type: ignore[no-untyped-def]
    require_tool(*qemu_tools("uefi-sb"))
    spec = VmSpec("sb1", "uefi-sb", "52:54:00:e2:01:40")
    shim = archtable.lookup(7).loader("grub")
    assert shim
    site = make_site(
        "full",
        inventory([(spec.mac, spec.name, "local", "deployed")]),
        settings={"PXEHOOK_BOOT_MODES": "efi-x64=grub"},
        loaders={shim: signed_x64.shim, "grubx64.efi": signed_x64.grub},
    )
    [(_result, _watch, vm)] = boot_all(
        site, [spec], tmp_path, record, signed_grub_milestones, "config", "loader", SIGNED_TIMEOUT
    )
    assert "Access Denied" not in vm.serial()
    host = site.host(spec.mac)
    assert host["arch"] == 7, host
    configs = [e["data"] for e in site.events(spec.mac) if e["kind"] == "boot.config"]
    assert any(c.get("loader") == "grub" and c.get("arch") == "efi-x64" for c in configs), configs


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
