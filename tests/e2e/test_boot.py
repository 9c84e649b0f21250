"""Real firmware boots through pxehook: install → callback → local disk, BIOS and UEFI,
full and proxy DHCP; AArch64 UEFI gets its loader and its per-MAC config.

Each test boots its VMs in parallel (one TCG vCPU each) and prints every boot stage with its
time since QEMU started; on failure it prints where the boot stopped, then the serial
console, dnsmasq's and pxehook's logs and the host's timeline.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from pxehook import arch as archtable
from tests.conftest import require_tool
from tests.harness.qemu import VmSpec, qemu_tools

from .flows import arm64_milestones, failure_report, install_milestones, run_flow

pytestmark = [pytest.mark.qemu, pytest.mark.netns, pytest.mark.daemon, pytest.mark.slow]

#: One x86 VM through install → callback → reboot → local disk: 40-120 s on TCG; UEFI in
#: proxy mode ~190 s on a loaded machine (OVMF HTTP-boot wait, see docs/hardware.md).
INSTALL_TIMEOUT = 300
#: AAVMF DHCP → GRUB over TFTP → config: ~15-30 s on TCG.
ARM64_TIMEOUT = 120

PROFILE = """profiles:
  e2e-installer:
    kind: installer
    description: busybox "installer" that calls back and reboots (tests/e2e)
    kernel:
      x86: "{{ files_url }}/vmlinuz"
    initrd:
      x86: ["{{ files_url }}/installer.img"]
    cmdline: "console=ttyS0 quiet"
  local:
    kind: local
"""


def inventory(hosts: list[tuple[str, str, str, str]]) -> str:
    """YAML inventory: the e2e profile plus hosts (mac, name, profile, state)."""
    lines = [PROFILE, "hosts:"]
    for mac, name, profile, state in hosts:
        lines += [f'  - mac: "{mac}"', f"    name: {name}", f"    profile: {profile}"]
        lines.append(f"    state: {state}")
    return "\n".join(lines) + "\n"


def boot_all(site, specs, tmp_path, record, flow_milestones, final, flow, timeout):  # type: ignore[no-untyped-def]
    """Boot ``specs`` in parallel; record each result; fail with where each one stopped."""

    def one(spec):  # type: ignore[no-untyped-def]
        return run_flow(
            site,
            spec,
            tmp_path / "vm",
            flow_milestones(site, spec),
            final,
            flow,
            timeout,
        )

    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        outcomes = list(pool.map(one, specs))
    problems = []
    for result, _watch, vm in outcomes:
        record(result)
        if not result.ok:
            print(failure_report(site, vm, result))
            problems.append(result.stopped)
    assert not problems, "\n".join(problems)
    return outcomes


@pytest.mark.parametrize("dhcp_mode", ["full", "proxy", "listen"])
def test_install_callback_then_local_disk(dhcp_mode, make_site, artifacts, record, tmp_path):  # type: ignore[no-untyped-def]
    """deploying → installer kernel → callback with the token → deployed → next network
    boot gets local boot → the local disk's marker, with the boot order untouched.
    ``listen``: "can't touch DHCP" — the site's plain dnsmasq, pxehook's ProxyDHCP and its
    listener only (no lease file): the listener alone vouches for the callback's address."""
    install_both(
        {"full": 1, "proxy": 2, "listen": 3}[dhcp_mode],
        dhcp_mode,
        "dnsmasq",
        make_site,
        artifacts,
        record,
        tmp_path,
    )


def test_install_with_isc_dhcpd(make_site, artifacts, record, tmp_path):  # type: ignore[no-untyped-def]
    """The same flow with ISC dhcpd as the site's DHCP server, running the file
    ``pxehook gen isc`` writes; pxehook's hook (``execute()``) records each lease and arch."""
    require_tool("dhcpd")
    install_both(4, "full", "isc", make_site, artifacts, record, tmp_path)


def test_install_with_kea(make_site, artifacts, record, tmp_path):  # type: ignore[no-untyped-def]
    """The same flow with Kea as the site's DHCP server, running the file ``pxehook gen kea``
    writes: its run_script hook records the leases, pxehook's listener the arch."""
    require_tool("kea-dhcp4")
    install_both(5, "full", "kea", make_site, artifacts, record, tmp_path)


def test_install_through_a_dhcp_relay(make_site, artifacts, record, tmp_path):  # type: ignore[no-untyped-def]
    """The VMs on their own segment, dnsmasq (full mode) on the server's, ``dhcrelay``
    between them (giaddr set): the generated config's relayed range and router
    (``dhcp_routers``) carry the install flow; the hook records lease and arch."""
    require_tool("dhcrelay")
    install_both(6, "full", "dnsmasq", make_site, artifacts, record, tmp_path, relayed=True)


def test_install_with_isc_dhcpd_through_a_dhcp_relay(make_site, artifacts, record, tmp_path):  # type: ignore[no-untyped-def]
    """The relay lab above with ISC dhcpd on the server's segment, running the file
    ``pxehook gen isc`` writes (both subnets declared; the relayed one with the range and
    the relay as router): the hook (``execute()``) records lease, relay address and arch."""
    require_tool("dhcrelay", "dhcpd")
    install_both(7, "full", "isc", make_site, artifacts, record, tmp_path, relayed=True)


def test_install_with_kea_through_a_dhcp_relay(make_site, artifacts, record, tmp_path):  # type: ignore[no-untyped-def]
    """The relay lab with Kea on the server's segment, running the file ``pxehook gen kea``
    writes: its run_script hook records lease and relay address (``QUERY4_GIADDR``),
    pxehook's listener the arch from the relayed requests (Kea exports no option 93)."""
    require_tool("dhcrelay", "kea-dhcp4")
    install_both(8, "full", "kea", make_site, artifacts, record, tmp_path, relayed=True)


def install_both(n, dhcp_mode, dhcp_server, make_site, artifacts, record, tmp_path, relayed=False):  # type: ignore[no-untyped-def]
    """BIOS + x64 UEFI in parallel: deploy, install, callback, local disk; then what the
    operator would check with ``host show`` and the timeline."""
    bios = VmSpec(f"bios{n}", "bios", f"52:54:00:e2:0{n}:10", artifacts["disk"])
    uefi = VmSpec(f"uefi{n}", "uefi", f"52:54:00:e2:0{n}:20", artifacts["disk"])
    site = make_site(
        dhcp_mode,
        inventory(
            [
                (bios.mac, bios.name, "local", "ready"),
                (uefi.mac, uefi.name, "local", "ready"),
            ]
        ),
        dhcp_server=dhcp_server,
        relayed=relayed,
    )
    for spec in (bios, uefi):  # what the operator types
        site.cli("host", "deploy", spec.mac, "--profile", "e2e-installer")
    boot_all(
        site,
        [bios, uefi],
        tmp_path,
        record,
        install_milestones,
        "localdisk",
        "install",
        INSTALL_TIMEOUT,
    )
    for spec in (bios, uefi):
        host = site.host(spec.mac)
        assert host["state"] == "deployed", host
        assert host["profile"] == "e2e-installer", host
        events = site.events(spec.mac)
        kinds = [e["kind"] for e in events]
        # option 93 as the firmware's PXE client sent it, on the timeline (hook / listener)
        dhcp_arches = [e["data"].get("arch") for e in events if e["kind"].startswith("dhcp.")]
        assert dhcp_arches and dhcp_arches[0] == spec.arch, (spec.name, dhcp_arches)
        # the recorded arch: same firmware family. (OVMF's HTTPv4 boot option, tried after
        # iPXE exits, announces 16 and currently overwrites the 7 PXE sent.)
        recorded = archtable.lookup(host["arch"])
        assert (recorded.cpu, recorded.is_efi) == ("x86", spec.firmware == "uefi"), host
        assert any(k.startswith("dhcp.") for k in kinds), (spec.name, kinds)
        if site.clients is not None:  # the server's hook names the relay (giaddr)
            relays = {
                e["data"].get("relay_address") for e in events if e["kind"].startswith("dhcp.")
            }
            assert f"{site.vm_lab.net}.1" in relays, (spec.name, relays)
        for kind in ("boot.config", "boot.kernel", "state.changed"):
            assert kind in kinds, (spec.name, kinds)
        # served twice: the installer first, then (after the callback) local boot
        assert kinds.count("boot.config") >= 2, (spec.name, kinds)
        states = [
            (e["data"].get("from"), e["data"].get("to"))
            for e in events
            if e["kind"] == "state.changed"
        ]
        assert ("deploying", "deployed") in states, (spec.name, states)
        deployed_at = next(e["id"] for e in events if e["data"].get("to") == "deployed")
        assert any(e["kind"] == "boot.config" and e["id"] > deployed_at for e in events), (
            f"{spec.name}: no config served after the callback: {kinds}"
        )


def test_arm64_uefi_gets_grub_and_its_config(make_site, grub_arm64, record, tmp_path):  # type: ignore[no-untyped-def]
    """AArch64 UEFI (AAVMF): option 93 = 11 is recorded, the arm64 GRUB comes over TFTP
    and fetches this MAC's config from pxehook. (Proxy mode: see docs/hardware.md, "Not
    booted" — GRUB 2.06 never asks pxehook for its config there.)"""
    require_tool(*qemu_tools("arm64"))
    arm = VmSpec("arm1", "arm64", "52:54:00:e2:01:30")
    site = make_site("full", inventory([(arm.mac, arm.name, "local", "deployed")]), grub_arm64)
    boot_all(site, [arm], tmp_path, record, arm64_milestones, "config", "loader", ARM64_TIMEOUT)
    host = site.host(arm.mac)
    assert host["arch"] == 11, host  # recorded from the DHCP hook (tag pxh-efi-arm64)
    events = site.events(arm.mac)
    kinds = [e["kind"] for e in events]
    assert any(k.startswith("dhcp.") for k in kinds), kinds
    loader = archtable.lookup(11).loader("grub")
    fetched = [e for e in events if e["kind"] in ("tftp.sent", "boot.kernel")]
    assert any(loader in e["message"] for e in fetched), kinds  # the loader, on the timeline
    # GRUB's config came from pxehook, for this host (found by its address)
    configs = [e["data"] for e in events if e["kind"] == "boot.config"]
    assert any(c.get("loader") == "grub" and c.get("arch") == "efi-arm64" for c in configs), configs


def test_broken_links_say_where_the_boot_stopped(make_site, artifacts, record, tmp_path):  # type: ignore[no-untyped-def]
    """Two links broken in the generated config, one VM each (in parallel): x64 UEFI is
    handed the BIOS loader, and iPXE is pointed at a script URL that does not exist. Each
    boot must fail naming the last stage it reached and the first one it never reached."""
    uefi_loader = archtable.lookup(7).loader("ipxe")
    bios_loader = archtable.lookup(0).loader("ipxe")

    def break_two_links(dropin: str) -> str:
        broken = dropin.replace(f",{uefi_loader}\n", f",{bios_loader}\n")
        # …over UEFI HTTP boot too (OVMF's next boot option), or it would rescue the boot
        broken = broken.replace(f"/uefi/{uefi_loader}\n", f"/uefi/{bios_loader}\n")
        broken = broken.replace("/boot.ipxe\n", "/no-such-script.ipxe\n")
        assert broken.count("no-such-script") == 1, "no iPXE boot URL line in the drop-in"
        assert f",{uefi_loader}\n" not in broken, "no x64 UEFI loader line in the drop-in"
        return broken

    uefi = VmSpec("uefibad", "uefi", "52:54:00:e2:0f:20", artifacts["disk"])
    bios = VmSpec("biosbad", "bios", "52:54:00:e2:0f:10", artifacts["disk"])
    site = make_site(
        "full",
        inventory([(vm.mac, vm.name, "local", "ready") for vm in (uefi, bios)]),
        dropin_filter=break_two_links,
    )
    for spec in (uefi, bios):
        site.cli("host", "deploy", spec.mac, "--profile", "e2e-installer")

    def one(spec):  # type: ignore[no-untyped-def]
        milestones = install_milestones(site, spec)
        return run_flow(site, spec, tmp_path / "vm", milestones, "localdisk", "broken", 90)

    with ThreadPoolExecutor(max_workers=2) as pool:
        (u_result, _, u_vm), (b_result, _, b_vm) = pool.map(one, [uefi, bios])
    for result, vm in ((u_result, u_vm), (b_result, b_vm)):
        record(result)
        print(failure_report(site, vm, result))
        assert not result.ok
        assert "boot stopped after 'DHCP offer'" in result.stopped, result.stopped
        assert site.host(vm.spec.mac)["state"] == "deploying"
    assert f"never saw 'loader fetched ({uefi_loader})'" in u_result.stopped, u_result.stopped
    assert "never saw 'config served'" in b_result.stopped, b_result.stopped
