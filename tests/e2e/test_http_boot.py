"""UEFI HTTP boot as the first stage, with pxehook's default settings.

OVMF with its IPv4 PXE boot option switched off (``IPv4PXESupport=no``) boots over HTTPv4
first: DHCP with option 93 = 16 and vendor class ``HTTPClient``. The site sets no
``http_boot_url``, so the generated dnsmasq drop-in answers with the default, pxehook's own
``/uefi/`` route on its own port; that route serves ``snponly.efi`` to the deploying machine
and, once the installer has called back, 404 — the firmware's cue to boot its disk.
"""

from __future__ import annotations

import pytest

from pxehook import arch as archtable
from tests.harness.qemu import VmSpec

from .flows import install_milestones
from .test_boot import INSTALL_TIMEOUT, boot_all, inventory

pytestmark = [pytest.mark.qemu, pytest.mark.netns, pytest.mark.daemon, pytest.mark.slow]


def test_uefi_http_boot_install_then_local_disk(make_site, artifacts, record, tmp_path):  # type: ignore[no-untyped-def]
    """HTTP boot → /uefi/snponly.efi → iPXE → installer → callback → reboot → HTTP boot
    again → /uefi/ says 404 → local disk; nothing listens on port 80."""
    spec = VmSpec("http1", "uefi-http", "52:54:00:e2:01:60", artifacts["disk"])
    site = make_site("full", inventory([(spec.mac, spec.name, "local", "ready")]))
    loader = archtable.lookup(16).loader("ipxe")
    dropin = site.cli("gen", "dnsmasq", "--mode", "full").stdout
    # the default http_boot_url: pxehook's own port and route, not http://SERVER_IP/ (port 80)
    assert f"tag:pxh-http-x64,tag:!pxh-ipxe,{site.base_url}/uefi/{loader}\n" in dropin, dropin
    site.cli("host", "deploy", spec.mac, "--profile", "e2e-installer")
    boot_all(
        site, [spec], tmp_path, record, install_milestones, "localdisk", "install", INSTALL_TIMEOUT
    )
    host = site.host(spec.mac)
    assert host["state"] == "deployed", host
    events = site.events(spec.mac)
    dhcp_arches = [e["data"].get("arch") for e in events if e["kind"].startswith("dhcp.")]
    assert dhcp_arches and dhcp_arches[0] == 16, dhcp_arches  # the HTTP-boot client's code
    uefi_hits = [
        (e["data"].get("path"), e["data"].get("action"))
        for e in events
        if e["kind"] == "boot.config" and e["data"].get("loader") == "uefi-http"
    ]
    # the loader before the callback, the hand-off to the disk after it
    assert uefi_hits[0] == (f"/uefi/{loader}", "boot"), uefi_hits
    assert uefi_hits[-1] == (f"/uefi/{loader}", "local"), uefi_hits
