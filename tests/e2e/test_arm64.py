"""AArch64 UEFI install: AAVMF → Debian's signed arm64 network GRUB → Debian's arm64 kernel
and the busybox installer → callback → reboot → the local disk (its ESP's
``BOOTAA64.EFI``, a GRUB that prints the marker), boot order untouched.

The kernel and initrd are named ``/arm64/vmlinuz`` and ``/arm64/installer.img``: paths on
GRUB's net root, i.e. pxehook's TFTP root (Debian's arm64 network GRUB fetches over TFTP;
docs/arm.md). The same profile serves U-Boot (tests/e2e/test_uboot.py).
"""

from __future__ import annotations

import pytest

from pxehook import arch as archtable
from tests.conftest import require_tool
from tests.harness import qemu_artifacts as art
from tests.harness.qemu import VmSpec, qemu_tools

from .flows import install_milestones
from .test_boot import boot_all

pytestmark = [pytest.mark.qemu, pytest.mark.netns, pytest.mark.daemon, pytest.mark.slow]

#: AAVMF DHCP + GRUB + 33 MB kernel over TFTP + arm64 kernel boot under TCG, twice DHCP.
INSTALL_TIMEOUT = 600

INVENTORY = """profiles:
  e2e-arm64:
    kind: installer
    description: arm64 kernel + busybox installer over TFTP (tests/e2e)
    kernel:
      arm64: "/arm64/vmlinuz"
    initrd:
      arm64: ["/arm64/installer.img"]
    cmdline: "console=ttyAMA0 quiet"
hosts:
  - mac: "{mac}"
    name: {name}
    profile: e2e-arm64
    state: deploying
"""


@pytest.mark.parametrize("dhcp_mode", ["full", "listen"])
def test_arm64_uefi_install_then_local_disk(  # type: ignore[no-untyped-def]
    dhcp_mode, make_site, grub_arm64, arm64_files, record, tmp_path
):
    """``listen``: the site's own DHCP server hands out the addresses and names pxehook as
    next-server with ``grubaa64.efi`` (GRUB 2.06 takes its TFTP server from the ACK, never
    from pxehook's ProxyDHCP offer: docs/arm.md); the arch comes from ``pxehook listen``."""
    require_tool(*qemu_tools("arm64"))
    n = {"full": 2, "listen": 3}[dhcp_mode]
    arm = VmSpec(f"arm{n}", "arm64", f"52:54:00:e2:0{n}:30", art.local_disk_arm64())
    loader = archtable.lookup(11).loader("grub") or ""
    site = make_site(
        dhcp_mode,
        INVENTORY.format(mac=arm.mac, name=arm.name),
        grub_arm64,
        loaders=arm64_files,
        site_next_server="" if dhcp_mode == "full" else loader,
    )
    boot_all(
        site, [arm], tmp_path, record, install_milestones, "localdisk", "install", INSTALL_TIMEOUT
    )
    host = site.host(arm.mac)
    assert (host["state"], host["profile"]) == ("deployed", "e2e-arm64"), host
    events = site.events(arm.mac)
    dhcp = [e["data"].get("arch") for e in events if e["kind"].startswith("dhcp.")]
    assert dhcp and dhcp[0] == 11, dhcp
    fetched = {e["data"].get("path") for e in events if e["kind"] == "boot.kernel"}
    assert {"arm64/vmlinuz", "arm64/installer.img"} <= fetched, fetched
    assert loader in fetched, fetched
    deployed_at = next(e["id"] for e in events if e["data"].get("to") == "deployed")
    after = [e["data"] for e in events if e["kind"] == "boot.config" and e["id"] > deployed_at]
    assert after and after[0]["action"] == "local", after
