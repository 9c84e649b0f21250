"""The real dnsmasq calls the compiled hook; the store ends up with each MAC's facts."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from pxehook.capture.ingest import Ingester
from pxehook.capture.leases import LeaseFile
from pxehook.store.sqlite import SQLiteStore
from tests.conftest import REPO, require_tool
from tests.harness.capture import build_hooks, dnsmasq_conf, spool_records, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.daemon]

PROBE = str(REPO / "tests" / "harness" / "dhcp_probe.py")
# (MAC, probe arguments, expected arch, expected vendor class, expected user class)
CLIENTS = [
    ("52:54:00:aa:00:01", ["--arch", "0"], 0, "PXEClient:Arch:00000:UNDI:003016", ""),
    (
        "52:54:00:aa:00:02",
        ["--arch", "7", "--hostname", "node-x64"],
        7,
        "PXEClient:Arch:00007:UNDI:003016",
        "",
    ),
    ("52:54:00:aa:00:03", ["--arch", "11"], 11, "PXEClient:Arch:00011:UNDI:003016", ""),
    (
        "52:54:00:aa:00:04",
        ["--arch", "16", "--vendor-class", "HTTPClient:Arch:00016:UNDI:003016"],
        16,
        "HTTPClient:Arch:00016:UNDI:003016",
        "",
    ),
    (
        "52:54:00:aa:00:05",
        ["--arch", "7", "--user-class", "iPXE"],
        7,
        "PXEClient:Arch:00007:UNDI:003016",
        "iPXE",
    ),
    ("52:54:00:aa:00:06", ["--vendor-class", "MSFT 5.0"], None, "MSFT 5.0", ""),
]


def probe(lab, ns: str, *args: str) -> dict:  # type: ignore[no-untyped-def]
    out = lab.exec(
        lab.ns(ns),
        sys.executable,
        PROBE,
        "--iface",
        "eth0",
        "--request",
        "--offers",
        "1",
        *args,
        timeout=30,
    )
    return json.loads(out.stdout)


def start_dnsmasq(lab, conf: Path):  # type: ignore[no-untyped-def]
    proc = lab.spawn("srv", "dnsmasq", "dnsmasq", "-k", "--log-facility=-", "-C", str(conf))
    lab.wait_udp("srv", 67)
    return proc


@pytest.fixture
def dnsmasq_lab(netlab, tmp_path: Path, settings):  # type: ignore[no-untyped-def]
    require_tool("dnsmasq", "tftp")
    spool = Path(settings.spool_dir) / "hook.spool"
    hook, _ = build_hooks(tmp_path / "bin", spool)
    netlab.add_host("srv", 1)
    conf = dnsmasq_conf(netlab.net, tmp_path / "dnsmasq", hook)
    assert json.loads(json.dumps(str(conf)))
    return netlab, conf, spool


def test_dnsmasq_leases_record_arch_vendor_class_and_times(
    dnsmasq_lab, store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    lab, conf, spool = dnsmasq_lab
    lab.add_host("cli", 2)
    proc = start_dnsmasq(lab, conf)
    started = time.time()
    for mac, args, *_ in CLIENTS:
        reply = probe(lab, "cli", "--mac", mac, *args)
        assert reply["replies"][-1]["type"] == "DHCPACK", reply
    wait_for(lambda: spool_records(spool) >= len(CLIENTS), what="dnsmasq to run the hook")
    Ingester(store, str(spool.parent)).drain()
    for mac, _args, arch, vendor, user in CLIENTS:
        host = store.host_get(mac)
        assert host is not None, mac
        assert (host.arch, host.vendor_class, host.user_class) == (arch, vendor, user), mac
        assert host.ip.startswith(lab.net + ".")
        assert started - 1 <= host.first_seen <= host.last_seen <= time.time()
        assert host.arch_source == ("dhcp" if arch is not None else "")
    assert store.host_get(CLIENTS[1][0]).dhcp_hostname == "node-x64"

    # A restart replays every lease as "old" with DNSMASQ_DATA_MISSING=1: nothing changes.
    before = {h.mac: (h, store.events(h.id)) for h in store.host_list()}
    lab.stop(proc)
    start_dnsmasq(lab, conf)
    wait_for(lambda: spool_records(spool) >= 2 * len(CLIENTS), what="the replayed old events")
    time.sleep(0.5)  # dnsmasq 2.90 may announce a lease twice
    replayed = Ingester(store, str(spool.parent)).drain()
    assert set(replayed.outcomes) == {"unchanged"} and replayed.records >= len(CLIENTS)
    assert {h.mac: (h, store.events(h.id)) for h in store.host_list()} == before

    # The same leases from dnsmasq's lease file (for sites where no hook may run).
    other = SQLiteStore(str(tmp_path / "leases.db"))
    LeaseFile(other, "dnsmasq", str(conf.parent / "dnsmasq.leases")).scan()
    assert {h.mac: h.ip for h in other.host_list()} == {m: h.ip for m, (h, _) in before.items()}


def test_dnsmasq_tftp_transfer_lands_on_the_lease_owner(dnsmasq_lab, store) -> None:  # type: ignore[no-untyped-def]
    lab, conf, spool = dnsmasq_lab
    lab.add_host("pc", 0, address=False)
    mac = lab.exec(lab.ns("pc"), "cat", "/sys/class/net/eth0/address").stdout.strip()
    start_dnsmasq(lab, conf)
    ack = probe(lab, "pc", "--mac", mac, "--arch", "0")["replies"][-1]
    assert ack["type"] == "DHCPACK"
    lab.exec(lab.ns("pc"), "ip", "addr", "add", f"{ack['yiaddr']}/24", "dev", "eth0")
    server = lab.ip_of("srv")
    lab.exec(lab.ns("pc"), "tftp", server, "-c", "get", "undionly.kpxe", "/dev/null", timeout=20)
    wait_for(lambda: spool_records(spool) >= 2, what="the tftp event")
    Ingester(store, str(spool.parent)).drain()
    host = store.host_get(mac)
    sent = [e for e in store.events(host.id) if e.kind == "tftp.sent"]
    assert len(sent) == 1 and sent[0].data["path"].endswith("/undionly.kpxe")
    assert sent[0].data["size"] == "4096" and sent[0].data["ip"] == ack["yiaddr"]


def test_dnsmasq_leasefile_ro_init_contract(netlab, tmp_path: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    """With leasefile-ro dnsmasq runs '<hook> init' at start and parses its stdout as
    leases; a non-zero exit is fatal. The hook prints nothing, so dnsmasq starts clean."""
    require_tool("dnsmasq")
    spool = Path(settings.spool_dir) / "hook.spool"
    hook, _ = build_hooks(tmp_path / "bin", spool)
    netlab.add_host("srv", 1)
    netlab.add_host("cli", 2)
    conf = dnsmasq_conf(netlab.net, tmp_path / "dnsmasq", hook, extra=("leasefile-ro",))
    proc = start_dnsmasq(netlab, conf)
    reply = probe(netlab, "cli", "--mac", "52:54:00:dd:00:01", "--arch", "7")
    assert reply["replies"][-1]["type"] == "DHCPACK" and proc.alive(), proc.log_text()
    wait_for(lambda: spool_records(spool) >= 1, what="the add event")
    Ingester(store, str(spool.parent)).drain()
    assert store.host_get("52:54:00:dd:00:01").arch == 7
    assert not (conf.parent / "dnsmasq.leases").exists()
