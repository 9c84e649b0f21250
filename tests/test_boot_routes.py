"""Route by route against the real gunicorn (``pxehook serve``) with curl."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from pxehook.mac import mac_pxelinux
from pxehook.models import ArchSource, IpSource, Observation, State
from tests.boot_server import BootServer, curl, events_when
from tests.conftest import require_tool

pytestmark = pytest.mark.daemon
HOOK = IpSource.HOOK  # what the DHCP server's hook records: a trusted IP
REPO = Path(__file__).resolve().parent.parent
INSTALLER = Path(REPO / "templates/samples/inventory.yaml")
NODE01, NODE02, ARM01 = "52:54:00:12:34:01", "52:54:00:12:34:02", "52:54:00:12:34:03"
BIOS_MAC, UEFI_MAC = "52:54:00:77:00:02", "52:54:00:77:00:03"
NODE02_UUID = "4c4c4544-0000-1111-2222-333344445555"
INSTALL_MARKERS = (b"kernel ", b"linux ", b"KERNEL ", b"initrd ")


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    require_tool("curl")
    work = tmp_path_factory.mktemp("boot")
    srv = BootServer(work, INSTALLER, str(Path(sys.executable).parent / "pxehook"))
    store = srv.ctx.store()
    node02 = store.host_get(NODE02)
    store.host_put(node02.with_(uuid=NODE02_UUID))
    store.observe(Observation(NODE02, "dnsmasq", ip="127.0.0.9", ip_source=HOOK, arch=7))
    # two clients on two loopback source addresses: one BIOS, one UEFI, same profile
    for mac, ip, code in ((BIOS_MAC, "127.0.0.2", 0), (UEFI_MAC, "127.0.0.3", 7)):
        host, _ = store.observe(Observation(mac, "dnsmasq", ip=ip, ip_source=HOOK, arch=code))
        store.host_put(host.with_(profile="debian-installer", vars={"preseed": "x"}))
        store.set_state(host.id, State.DEPLOYED, source="test")
    (work / "files" / "debian" / "amd64").mkdir(parents=True)
    (work / "files" / "debian" / "amd64" / "linux").write_bytes(bytes(range(256)) * 4096)
    (work / "tftp" / "snponly.efi").write_bytes(b"MZ-efi-loader")
    (work / "files" / "escape").symlink_to("/etc/passwd")  # a link out of the root
    srv.start()
    yield srv
    srv.stop()


def local_urls(mac: str, uuid: str, hexip: str) -> list[str]:
    """Every boot route, spelled for one host (the route coverage test checks the list)."""
    pxe = mac_pxelinux(mac)
    return [
        f"/ipxe/{mac}?buildarch=x86_64&platform=efi",
        f"/ipxe/{mac.replace(':', '-').upper()}",
        f"/grub/grub.cfg-{pxe}",
        f"/grub/x86_64-efi/grub.cfg-{pxe}",
        f"/grub/grub.cfg-{hexip}",
        f"/boot/grub.cfg-{pxe}",
        f"/pxelinux.cfg/{pxe}",
        f"/bootfiles/arm/pxelinux.cfg/{pxe}",
        f"/pxelinux.cfg/{uuid}",
        f"/pxelinux.cfg/{hexip}",
    ]


def test_deployed_host_never_gets_an_installer_on_any_route(server) -> None:  # type: ignore[no-untyped-def]
    urls = local_urls(NODE02, NODE02_UUID, "7F000009")
    for url in urls:
        status, body = curl(server.url + url)
        assert status == 200, (url, body)
        assert not any(m in body for m in INSTALL_MARKERS), (url, body)
        assert b"LOCALBOOT 0" in body or b"exit" in body, (url, body)
    # generic names from the host's own address (IP → MAC via the recorded lease)
    for url in ("/pxelinux.cfg/default", "/grub.cfg", "/grub/grub.cfg"):
        status, body = curl(server.url + url, source="127.0.0.9")
        assert status == 200 and not any(m in body for m in INSTALL_MARKERS), (url, body)
    status, _ = curl(server.url + "/uefi/snponly.efi", source="127.0.0.9")
    assert status == 404  # UEFI HTTP boot: fall through to the next boot option at once
    want = len(urls) + 4
    events = events_when(
        server.ctx.store(),
        server.ctx.store().host_get(NODE02).id,
        lambda evs: sum(e.kind == "boot.config" for e in evs) >= want,
    )
    served = [e for e in events if e.kind == "boot.config"]
    assert len(served) >= len(urls) + 4
    assert {e.data["action"] for e in served} == {"local"}
    assert {e.data["mac_source"] for e in served} >= {"request", "uuid", "lease"}


def test_every_boot_route_is_covered(server) -> None:  # type: ignore[no-untyped-def]
    from pxehook.web import create_app

    app = create_app(server.ctx.settings)
    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("boot.")}
    covered = {
        "/boot.ipxe",
        "/ipxe/<mac>",
        "/grub/<path:rest>",
        "/<path:rest>",
        "/uefi/<path:rest>",
        "/files/<path:rest>",
    }
    assert rules == covered, f"a boot route is not in the local-state test: {rules - covered}"


def test_deploying_host_gets_installer_with_initrd_name(server) -> None:  # type: ignore[no-untyped-def]
    status, body = curl(server.url + f"/ipxe/{NODE01}?buildarch=x86_64&platform=efi")
    assert status == 200
    text = body.decode()
    assert "kernel --name linux " in text and "initrd=initrd.gz" in text
    assert "preseed/url=" in text and "lab.cfg" in text  # group var 'preseed: lab'
    assert text.rstrip().endswith("exit 1")  # never a halt: EFI local boot at the end


@pytest.mark.parametrize(
    "spelling",
    [
        "52:54:00:12:34:01",
        "52-54-00-12-34-01",
        "525400123401",
        "5254.0012.3401",
        "52-54-00-12-34-01".upper(),
        "01-52-54-00-12-34-01",
    ],
)
def test_macs_in_any_format_resolve_to_the_same_host(server, spelling: str) -> None:  # type: ignore[no-untyped-def]
    reference = curl(server.url + f"/ipxe/{NODE01}")[1]
    status, body = curl(server.url + f"/ipxe/{spelling}")
    assert status == 200 and body == reference


def test_unknown_mac_is_enlisted_and_boots_local(server) -> None:  # type: ignore[no-untyped-def]
    mac = "52:54:00:de:ad:01"
    status, body = curl(server.url + f"/ipxe/{mac}?buildarch=i386&platform=pcbios")
    assert status == 200 and b"sanboot --no-describe --drive 0x80" in body
    host = server.ctx.store().host_get(mac)
    assert host is not None and host.state == State.NEW
    assert host.arch == 0 and host.arch_source == ArchSource.REQUEST
    events = events_when(
        server.ctx.store(), host.id, lambda evs: any(e.kind == "boot.config" for e in evs)
    )
    kinds = [(e.kind, e.source) for e in events]
    assert ("host.discovered", "http") in kinds and ("boot.config", "http") in kinds


def test_names_that_mean_nothing_are_a_clean_404(server) -> None:  # type: ignore[no-untyped-def]
    for url in (
        "/pxelinux.cfg/7F00000",
        "/pxelinux.cfg/7F",
        "/pxelinux.cfg/01-zz",
        "/pxelinux.cfg/ffffffff-0000-0000-0000-000000000000",
        "/grub/grub.cfg-01-xx",
        "/nothing/here",
        "/ipxe/not-a-mac",
    ):
        started = time.monotonic()
        status, _ = curl(server.url + url)
        assert status in (400, 404), url
        assert time.monotonic() - started < 2


def test_ip_to_mac_to_arch_bios_and_uefi_get_different_configs(server) -> None:  # type: ignore[no-untyped-def]
    bios = curl(server.url + "/grub.cfg", source="127.0.0.2")
    uefi = curl(server.url + "/grub.cfg", source="127.0.0.3")
    assert bios[0] == uefi[0] == 200
    assert b"chainloader +1" in bios[1] and b", bios)" in bios[1]
    assert b"search --no-floppy --file" in uefi[1] and b", efi-x64)" in uefi[1]
    bios_ipxe = curl(server.url + f"/ipxe/{BIOS_MAC}?buildarch=x86_64&platform=efi")[1]
    assert b"sanboot" in bios_ipxe  # the DHCP record beats the request's claim
    host = server.ctx.store().host_get(BIOS_MAC)
    events = events_when(
        server.ctx.store(), host.id, lambda evs: any(e.kind == "boot.arch_mismatch" for e in evs)
    )
    kinds = [e.kind for e in events]
    assert "boot.arch_mismatch" in kinds


def test_unknown_address_gets_the_grub_bootstrap(server) -> None:  # type: ignore[no-untyped-def]
    status, body = curl(server.url + "/grub.cfg", source="127.0.0.77")
    assert status == 200 and b"grub.cfg-01-${net_default_mac}" in body
    status, body = curl(server.url + "/boot.ipxe")
    assert status == 200 and b"${mac:hexhyp}" in body and b"${buildarch}" in body


@pytest.mark.parametrize(
    "path",
    [
        "/files/../pxehook.db",
        "/files/%2e%2e/pxehook.db",
        "/files/%2E%2E%2Fpxehook.db",
        "/files/debian/%00linux",
        "/files//etc/passwd",
        "/pxelinux.cfg/..%2f..%2fpxehook.db",
        "/uefi/../pxehook.db",
        "/files/escape",
        "/grub/%2e%2e/grub.cfg",
    ],
)
def test_path_traversal_is_refused(server, path: str) -> None:  # type: ignore[no-untyped-def]
    status, body = curl(server.url + path, "--path-as-is")
    assert status in (400, 404), (path, status)
    assert b"SQLite" not in body and b"root:" not in body


def test_files_by_sendfile_with_range_recorded_as_boot_kernel(server) -> None:  # type: ignore[no-untyped-def]
    url = server.url + "/files/debian/amd64/linux"
    status, body = curl(url, source="127.0.0.9")
    assert status == 200 and len(body) == 256 * 4096
    status, body = curl(url, "-r", "256-511")
    assert status == 206 and body == bytes(range(256))
    host = server.ctx.store().host_get(NODE02)
    events = events_when(
        server.ctx.store(), host.id, lambda evs: any(e.kind == "boot.kernel" for e in evs)
    )
    kernels = [e for e in events if e.kind == "boot.kernel"]
    assert kernels and kernels[-1].data["path"] == "/files/debian/amd64/linux"


def test_metrics_count_requests_by_route_and_outcome(server) -> None:  # type: ignore[no-untyped-def]
    curl(server.url + f"/ipxe/{NODE02}")
    status, body = curl(server.url + "/metrics")
    text = body.decode()
    assert status == 200
    assert 'pxehook_boot_requests_total{route="/ipxe/<mac>",outcome="local"}' in text
    assert "pxehook_render_seconds_bucket" in text and "pxehook_boot_request_seconds_count" in text
