"""Secure Boot, x64: OVMF with Secure Boot on and Microsoft's keys enrolled (Debian's
``OVMF_CODE_4M.ms.fd`` / ``OVMF_VARS_4M.ms.fd``).

The negative row: pxehook's default x64 UEFI loader is Debian's iPXE ``snponly.efi``, which
is not signed. The firmware fetches it over TFTP and refuses to run it ("Access Denied");
the stage watch must say the boot stopped after the loader fetch and never reached iPXE.
"""

from __future__ import annotations

import pytest

from pxehook import arch as archtable
from tests.conftest import require_tool
from tests.harness.qemu import VmSpec, qemu_tools

from .flows import failure_report, install_milestones, run_flow
from .test_boot import inventory

pytestmark = [pytest.mark.qemu, pytest.mark.netns, pytest.mark.daemon, pytest.mark.slow]

#: OVMF's PXE DHCP + TFTP under TCG with SMM: ~10-20 s; then nothing more can happen.
REFUSED_TIMEOUT = 60


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
