"""Fixtures of the VM boot tests: artifacts (session, cached), a site per test, results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import STRICT, require_tool
from tests.harness import netns
from tests.harness import qemu_artifacts as art
from tests.harness.qemu_site import PxeSite, loader_sources

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "build" / "e2e-results.json"
_results: list[dict] = []


def _need_netns() -> None:
    reason = netns.available()
    if reason:
        if STRICT:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Path]:
    """Kernel, installer initramfs, local disk (and arm64 GRUB): built once, cached."""
    _need_netns()  # root: the cache lives under /var/cache
    require_tool("apt-get", "dpkg", "cpio", "as", "ld", "grub-mkstandalone", "mkfs.vfat", "mcopy")
    require_tool("/bin/busybox")
    kernel = art.kernel_amd64()
    return {
        "vmlinuz": kernel.vmlinuz,
        "installer": art.installer_initrd(kernel),
        "disk": art.local_disk(),
        "kernel_version": Path(kernel.version),
    }


@pytest.fixture(scope="session")
def grub_arm64() -> Path:
    _need_netns()
    return art.grub_arm64().netboot_efi


@pytest.fixture(scope="session")
def arm64_files() -> dict[str, Path]:
    """TFTP-root name -> file: Debian's arm64 kernel and the busybox installer built for it
    (the U-Boot and AArch64 UEFI installs name them ``/arm64/…`` in their profiles)."""
    _need_netns()
    kernel = art.kernel_arm64()
    initrd = art.installer_initrd(kernel, art.busybox_arm64())
    return {"arm64/vmlinuz": kernel.vmlinuz, "arm64/installer.img": initrd}


@pytest.fixture
def make_site(tmp_path: Path, artifacts, request):  # type: ignore[no-untyped-def]
    """``make_site(dhcp_mode, inventory, grub=None)`` → a running PxeSite; torn down by PID."""
    _need_netns()
    require_tool("dnsmasq", "qemu-system-x86_64")
    labs: list[netns.NetLab] = []
    sites: list[PxeSite] = []

    def make(  # type: ignore[no-untyped-def]
        dhcp_mode: str,
        inventory: str,
        grub: Path | None = None,
        dropin_filter=None,
        dhcp_server: str = "dnsmasq",
        relayed: bool = False,
        settings: dict[str, str] | None = None,
        loaders: dict[str, Path] | None = None,
        site_next_server: str = "",
    ) -> PxeSite:
        n = len(labs) + 1
        lab = netns.NetLab(
            prefix=f"e2{os.getpid() % 1000}{n}",
            subnet_index=200 + (os.getpid() % 40) + n,
            workdir=tmp_path / f"lab{n}",
        )
        labs.append(lab)
        lab.up()
        clients = None
        if relayed:  # the VMs' own segment, behind dhcrelay (PxeSite._start_relay)
            clients = netns.NetLab(
                prefix=f"{lab.prefix}c",
                subnet_index=lab.subnet_index + 10,
                workdir=tmp_path / f"lab{n}c",
            )
            labs.insert(0, clients)  # closed after the server lab that owns the relay
            clients.up()
        site = PxeSite(
            lab,
            dhcp_mode,
            tmp_path / f"site{n}",
            dropin_filter=dropin_filter,
            dhcp_server=dhcp_server,
            clients=clients,
            settings=settings or {},
            site_next_server=site_next_server,
        )
        sites.append(site)
        files = {"vmlinuz": artifacts["vmlinuz"], "installer.img": artifacts["installer"]}
        return site.up({**loader_sources(grub), **(loaders or {})}, files, inventory)

    yield make
    for lab in labs:
        lab.close()


@pytest.fixture
def record():  # type: ignore[no-untyped-def]
    """Append a FlowResult to the session's results (written to build/e2e-results.json)."""

    def add(result) -> None:  # type: ignore[no-untyped-def]
        _results.append(result.as_dict())

    return add


def pytest_sessionfinish(session, exitstatus) -> None:  # type: ignore[no-untyped-def]
    if not _results:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"results": _results}, indent=2) + "\n")
    if os.environ.get("PXH_E2E_RECORD") == "1":
        from .matrix import record

        record(RESULTS)


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not _results:
        return
    tr = terminalreporter
    tr.section("e2e boots (seconds since QEMU start)")
    for r in _results:
        status = "OK  " if r["ok"] else "FAIL"
        stages = ", ".join(f"{n} {t:.1f}" for n, t in r["stages"])
        tr.write_line(
            f"{status} {r['vm']:<10} {r['dhcp_mode']:<5} {r['flow']:<8} {r['wall']:6.1f}s  {stages}"
        )
        if r["stopped"]:
            tr.write_line(f"     {r['stopped']}")
    tr.write_line(f"results: {RESULTS}")
