"""PXELINUX on BIOS: ``boot_modes: [bios=pxelinux]`` behind QEMU's iPXE NIC ROM.

SeaBIOS runs QEMU's iPXE ROM (e1000), whose DHCP carries user class iPXE and option 93 = 0.
With ``bios=pxelinux`` the generated drop-in hands it ``lpxelinux.0`` over TFTP (not the
iPXE script); PXELINUX runs on iPXE's PXE stack without a DHCP of its own, fetches
``pxelinux.cfg/01-<mac>`` from pxehook's TFTP server, then the kernel and initrd over HTTP.
The installer calls back and reboots; the next network boot gets ``LOCALBOOT``, which must
hand the machine back to SeaBIOS's next boot device: the local disk.

Without the iPXE hand-off (the generator before it) the ROM gets ``/boot.ipxe`` and the
boot stops after the DHCP offer: 'loader fetched (lpxelinux.0)' never comes.
"""

from __future__ import annotations

import re

import pytest

from tests.harness import qemu_artifacts as art
from tests.harness.qemu import Milestone, VmSpec
from tests.harness.qemu_site import PxeSite

from .flows import (
    IPXE_RUNNING,
    failure_report,
    installer_milestones,
    loader_milestone,
    network_milestones,
    run_flow,
)
from .test_boot import inventory

pytestmark = [pytest.mark.qemu, pytest.mark.netns, pytest.mark.daemon, pytest.mark.slow]

#: SeaBIOS → iPXE ROM → lpxelinux → installer → callback → reboot → LOCALBOOT → disk: ~60 s
TIMEOUT = 300
#: PXELINUX's banner on the serial console (SeaBIOS's serial console under -nographic).
PXELINUX_RUNNING = r"PXELINUX \d+\.\d+"


def pxelinux_milestones(site: PxeSite, spec: VmSpec, loader: str, after: str = "") -> list:
    """DHCP offer → iPXE ROM → ``lpxelinux.0`` over TFTP → PXELINUX → its per-MAC config."""
    sfx = f"#{after}" if after else ""
    name = re.escape(spec.mac.replace(":", "-"))
    offers = network_milestones(site, spec, after)[: 2 if site.proxied else 1]
    ms = [
        Milestone("ipxe" + sfx, "serial", IPXE_RUNNING, after, "iPXE ROM running"),
        *offers,
        loader_milestone(site, loader, sfx, after),
        Milestone("pxelinux" + sfx, "serial", PXELINUX_RUNNING, after, "PXELINUX running"),
        Milestone(
            "config" + sfx,
            "events",
            rf"^boot\.config\|\w+\|pxelinux \S*pxelinux\.cfg/01-{name}",
            after,
            "config served",
        ),
    ]
    if after:
        for m in ms:
            if not m.label.endswith(f"(after {after})"):
                m.label = f"{m.label} (after {after})"
    return ms


@pytest.mark.parametrize("dhcp_mode", ["full", "proxy"])
def test_pxelinux_behind_ipxe_rom_installs_then_boots_local_disk(  # type: ignore[no-untyped-def]
    dhcp_mode, make_site, artifacts, record, tmp_path
):
    """``full``: pxehook's drop-in on the DHCP server; ``proxy``: the site's plain dnsmasq
    hands out the address, pxehook's ProxyDHCP hands the iPXE ROM ``lpxelinux.0``."""
    pxelinux = art.pxelinux_bios()
    loader = "lpxelinux.0"
    n = {"full": 1, "proxy": 2}[dhcp_mode]
    spec = VmSpec(f"pxl{n}", "bios", f"52:54:00:e2:0{n}:50", artifacts["disk"])
    site = make_site(
        dhcp_mode,
        inventory([(spec.mac, spec.name, "local", "ready")]),
        settings={"PXEHOOK_BOOT_MODES": "bios=pxelinux"},
        loaders=pxelinux.files,
    )
    assert loader in pxelinux.files
    site.cli("host", "deploy", spec.mac, "--profile", "e2e-installer")
    milestones = pxelinux_milestones(site, spec, loader) + installer_milestones()
    milestones += pxelinux_milestones(site, spec, loader, after="reboot")
    milestones.append(
        Milestone("localdisk", "serial", art.LOCALDISK_MARKER, "reboot", "local disk booted")
    )
    result, _watch, vm = run_flow(
        site, spec, tmp_path / "vm", milestones, "localdisk", "install", TIMEOUT
    )
    result.loader = loader
    record(result)
    if not result.ok:
        print(failure_report(site, vm, result))
    assert result.ok, result.stopped

    host = site.host(spec.mac)
    assert host["state"] == "deployed", host
    events = site.events(spec.mac)
    dhcp_arches = [e["data"].get("arch") for e in events if e["kind"].startswith("dhcp.")]
    assert dhcp_arches and dhcp_arches[0] == 0, dhcp_arches  # option 93 from the ROM
    configs = [e["data"] for e in events if e["kind"] == "boot.config"]
    assert [c["action"] for c in configs if c["loader"] == "pxelinux"][:1] == ["boot"], configs
    assert configs[-1]["loader"] == "pxelinux" and configs[-1]["action"] == "local", configs
    assert not any(c["loader"] == "ipxe" for c in configs), configs  # never the iPXE script
    assert any(e["kind"] == "boot.kernel" for e in events)
