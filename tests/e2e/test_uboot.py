"""U-Boot (arm64): QEMU ``virt`` with Debian's ``u-boot-qemu`` (``qemu_arm64/u-boot.bin``).

Its distro boot has no ``pxe`` target: the ``dhcp`` target fetches ``boot.scr.uimg``, which
``pxehook loaders install`` writes for U-Boot architectures (``pxe get`` / ``pxe boot``,
``pxehook/bootfiles/ubootscript.py``). Two machines boot in parallel on one site, in full
mode and in "ARM without DHCP control" (``listen``: the site's own DHCP server, which only
names pxehook as next-server; the arch comes from ``pxehook listen``):

* a known machine (in the inventory, being deployed): DHCP records option 93 = 22, the
  script runs, pxehook's TFTP answers ``pxelinux.cfg/01-<mac>`` with its profile's config,
  U-Boot fetches Debian's arm64 kernel and the busybox installer over TFTP and boots them,
  the installer calls back and reboots, and the next ``01-<mac>`` answer is LOCALBOOT;
* an unknown machine (not in the inventory): the DHCP hook or the listener records it and
  its arch (the MAC→arch record); U-Boot's first config name, ``pxelinux.cfg/01-<mac>``, is
  answered from that record (state ``new``, arch ``uboot-arm64`` from DHCP: local boot).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import require_tool
from tests.harness import qemu_artifacts as art
from tests.harness.qemu import VmSpec, qemu_tools

from .flows import (
    failure_report,
    run_flow,
    uboot_install_milestones,
    uboot_milestones,
    uboot_names,
)
from .test_arm64 import INVENTORY

pytestmark = [pytest.mark.qemu, pytest.mark.netns, pytest.mark.daemon, pytest.mark.slow]

#: U-Boot's empty boot targets, DHCP, script, `pxe get` under TCG: ~3-10 s.
UBOOT_TIMEOUT = 90
#: + 33 MB kernel over TFTP, the arm64 kernel booting under TCG, callback, U-Boot again.
INSTALL_TIMEOUT = 400


@pytest.mark.parametrize("dhcp_mode", ["full", "listen"])
def test_uboot_install_and_unknown_machine(dhcp_mode, make_site, arm64_files, record, tmp_path):  # type: ignore[no-untyped-def]
    """``listen``: "ARM without DHCP control": the site's own DHCP server hands out the
    addresses and names pxehook as next-server (nothing else); the MAC→arch record comes from
    ``pxehook listen``."""
    require_tool(*qemu_tools("uboot"))
    n = {"full": 1, "listen": 3}[dhcp_mode]
    known = VmSpec(f"uboot{n}", "uboot", f"52:54:00:e2:0{n}:50")
    unknown = VmSpec(f"uboot{n + 1}", "uboot", f"52:54:00:e2:0{n}:51")
    site = make_site(
        dhcp_mode,
        INVENTORY.format(mac=known.mac, name=known.name),
        loaders=arm64_files,
        # "listen": the site's server names pxehook as next-server (set-up 3)
        site_next_server="" if dhcp_mode == "full" else "pxelinux.0",
    )
    # what the operator runs: the boot script U-Boot's distro boot fetches, into tftp_root
    out = site.cli(
        "loaders", "install", "--arch", "uboot-arm64", "--cache", str(tmp_path / "c"), "--json"
    )
    files = json.loads(out.stdout)["files"]
    assert [f["path"] for f in files] == [str(site.tftp_root / "boot.scr.uimg")], files
    then = {
        known.name: (r"Retrieving file: /?arm64/", "U-Boot fetches the profile's files (TFTP)"),
        unknown.name: (r"missing environment variable: localcmd", "U-Boot runs LOCALBOOT"),
    }
    flow = {known.name: "uboot-known", unknown.name: "uboot-unknown"}

    def one(spec):  # type: ignore[no-untyped-def]
        if spec is known:
            milestones, final, timeout = (
                uboot_install_milestones(site, spec),
                "localboot",
                INSTALL_TIMEOUT,
            )
        else:
            milestones, final, timeout = (
                uboot_milestones(site, spec, then[spec.name]),
                "read",
                UBOOT_TIMEOUT,
            )
        return run_flow(
            site,
            spec,
            tmp_path / "vm",
            milestones,
            final,
            flow[spec.name],
            timeout,
            every_stage=True,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(one, [known, unknown]))
    for result, _watch, vm in outcomes:
        record(result)
        if not result.ok:
            print(failure_report(site, vm, result))
    assert all(r.ok for r, _, _ in outcomes), [r.stopped for r, _, _ in outcomes]
    for (_result, _watch, vm), spec in zip(outcomes, (known, unknown), strict=True):
        dashed = "01-" + spec.mac.replace(":", "-")
        # the first name U-Boot asks for is its MAC's, and pxehook answered it
        assert uboot_names(vm.serial())[:1] == [f"pxelinux.cfg/{dashed}"], vm.serial()
        events = site.events(spec.mac)
        # option 93 as U-Boot sent it, on the timeline (later DHCPs of its EFI fallback say 11)
        dhcp = [e["data"] for e in events if e["kind"].startswith("dhcp.")]
        assert dhcp and dhcp[0].get("arch") == 22, (spec.name, dhcp)
        assert dhcp[0].get("vendor_class") == "U-Boot.armv8", dhcp[0]
        configs = [e["data"] for e in events if e["kind"] == "boot.config"]
        assert configs, (spec.name, [e["kind"] for e in events])
        first = configs[0]
        assert first["path"] == f"pxelinux.cfg/{dashed}", first
        assert (first["via"], first["arch"], first["arch_source"]) == (
            "tftp",
            "uboot-arm64",
            "dhcp",
        )
    known_config = next(e["data"] for e in site.events(known.mac) if e["kind"] == "boot.config")
    assert (known_config["action"], known_config["profile"]) == ("boot", "e2e-arm64"), known_config
    # the install ran: kernel and initrd over pxehook's TFTP, the callback accepted, and the
    # next boot got the deployed answer
    assert art.INSTALLER_CALLBACK_OK in outcomes[0][2].serial()
    host = site.host(known.mac)
    assert (host["state"], host["profile"]) == ("deployed", "e2e-arm64"), host
    events = site.events(known.mac)
    fetched = {e["data"].get("path") for e in events if e["kind"] == "boot.kernel"}
    assert {"arm64/vmlinuz", "arm64/installer.img"} <= fetched, fetched
    deployed_at = next(e["id"] for e in events if e["data"].get("to") == "deployed")
    after = [e["data"] for e in events if e["kind"] == "boot.config" and e["id"] > deployed_at]
    assert after and after[0]["action"] == "local", after
    new = site.host(unknown.mac)
    assert (new["state"], new["inventory"]) == ("new", {}), new
    unknown_config = next(e["data"] for e in site.events(unknown.mac) if e["kind"] == "boot.config")
    assert (unknown_config["action"], unknown_config["state"]) == ("local", "new"), unknown_config
