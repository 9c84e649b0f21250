"""The real ISC dhcpd and Kea call the compiled hook; the store ends up with each MAC."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from pxehook.capture.ingest import Ingester
from pxehook.capture.leases import LeaseFile
from pxehook.store.sqlite import SQLiteStore
from tests.conftest import REPO, require_tool, run
from tests.harness import wire
from tests.harness.capture import build_hooks, isc_conf, kea_conf, spool_records, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.daemon]

PROBE = str(REPO / "tests" / "harness" / "dhcp_probe.py")


def probe(lab, *args: str) -> dict:  # type: ignore[no-untyped-def]
    out = lab.exec(
        lab.ns("cli"),
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


@pytest.fixture
def lab(netlab, tmp_path: Path, settings):  # type: ignore[no-untyped-def]
    spool = Path(settings.spool_dir) / "hook.spool"
    hook, _ = build_hooks(tmp_path / "bin", spool)
    netlab.add_host("srv", 1)
    netlab.add_host("cli", 2)
    return netlab, hook, spool


def test_isc_dhcpd_commit_and_release(lab, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require_tool("dhcpd")
    netlab, hook, spool = lab
    conf = isc_conf(netlab.net, tmp_path / "isc", hook)
    check = run(["dhcpd", "-4", "-t", "-cf", str(conf)])
    assert check.returncode == 0, check.stderr
    leases = conf.parent / "dhcpd.leases"
    netlab.spawn("srv", "dhcpd", *wire.dhcpd_argv(conf.parent, conf))
    netlab.wait_udp("srv", 67)
    started = time.time()
    bios = "52:54:00:0a:00:07"  # dhcpd prints it as 52:54:0:a:0:7
    arm = "52:54:00:0a:00:0b"
    r1 = probe(
        netlab, "--mac", bios, "--arch", "0", "--user-class", "iPXE", "--hostname", "bios-node"
    )
    r2 = probe(netlab, "--mac", arm, "--arch", "11", "--vendor-class", "Acme fw", "--release")
    assert r1["replies"][-1]["type"] == r2["replies"][-1]["type"] == "DHCPACK"
    wait_for(lambda: spool_records(spool) >= 3, what="dhcpd to run the hook")
    Ingester(store, str(spool.parent)).drain()
    h1, h2 = store.host_get(bios), store.host_get(arm)
    assert (h1.arch, h1.vendor_class, h1.user_class, h1.dhcp_hostname) == (
        0,
        "PXEClient:Arch:00000:UNDI:003016",
        "iPXE",
        "bios-node",
    )
    assert (h2.arch, h2.vendor_class) == (11, "Acme fw")  # arch from the option-93 argument
    assert h1.ip == r1["replies"][-1]["yiaddr"] and started - 1 <= h1.first_seen <= time.time()
    assert [e.kind for e in store.events(h2.id)] == [
        "host.discovered",
        "dhcp.commit",
        "dhcp.release",
    ]

    other = SQLiteStore(str(tmp_path / "leases.db"))  # the same leases from dhcpd.leases
    LeaseFile(other, "isc", str(leases)).scan()
    assert other.host_get(bios).ip == h1.ip


def test_kea_run_script_records_leases(lab, store, env, pxehook_bin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require_tool("kea-dhcp4")
    netlab, hook, spool = lab
    conf = kea_conf(netlab.net, tmp_path / "kea", hook)
    kea_env = {
        **os.environ,
        "KEA_LOCKFILE_DIR": str(conf.parent),
        "KEA_PIDFILE_DIR": str(conf.parent),
    }
    proc = netlab.spawn("srv", "kea", "kea-dhcp4", "-c", str(conf), env=kea_env)
    netlab.wait_udp("srv", 67)
    # Kea passes no option 93 to its hook: the listener beside it on the server supplies it.
    # It counts the 4 client packets: on Kea's own host it did not see Kea's replies.
    listener = netlab.spawn(
        "srv",
        "listener",
        pxehook_bin,
        "listen",
        "-i",
        "eth0",
        "--count",
        "4",
        "--duration",
        "30",
        env={**os.environ, **env},
    )
    wait_for(lambda: "listening on" in listener.log_text(), what="the listener")
    macs = ["52:54:00:0b:00:01", "52:54:00:0b:00:02"]
    acks = [probe(netlab, "--mac", mac, "--arch", "7")["replies"][-1] for mac in macs]
    assert [a["type"] for a in acks] == ["DHCPACK", "DHCPACK"], proc.log_text()[-2000:]
    wait_for(lambda: spool_records(spool) >= 2, what="kea to run the hook")
    Ingester(store, str(spool.parent)).drain()
    listener.popen.wait(timeout=40)
    for mac, ack in zip(macs, acks, strict=True):
        host = store.host_get(mac)
        assert host is not None and host.ip == ack["yiaddr"]
        assert host.arch == 7, listener.log_text()
        kinds = [(e.kind, e.source) for e in store.events(host.id)]
        assert ("dhcp.commit", "kea") in kinds and ("dhcp.discover", "listener") in kinds

    other = SQLiteStore(str(tmp_path / "leases.db"))  # the same leases from the memfile CSV
    LeaseFile(other, "kea", str(conf.parent / "kea-leases4.csv")).scan()
    assert {h.mac for h in other.host_list()} == set(macs)
