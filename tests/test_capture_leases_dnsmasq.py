"""The lease-file watcher against the real dnsmasq rewriting its lease file in place.

dnsmasq rewrites the whole file on every lease change: it truncates it, then writes it in
buffer-sized pieces. A watcher woken by those writes reads a file that is half there.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from pxehook.capture.leases import LeaseWatchService
from tests.conftest import REPO, require_tool
from tests.harness.capture import wait_for

pytestmark = [pytest.mark.netns, pytest.mark.daemon]

PROBE = str(REPO / "tests" / "harness" / "dhcp_probe.py")
KNOWN = 10_000  # leases dnsmasq holds before the test starts (a ~650 kB file)
NEW = 20  # new clients: each makes dnsmasq rewrite the whole file
NET = "172.31"  # a /16 on the lab's server interface, room for the known leases


def known_lease(i: int, expiry: int) -> str:
    mac = f"52:54:01:00:{i >> 8:02x}:{i & 255:02x}"
    return f"{expiry} {mac} {NET}.{1 + i // 250}.{1 + i % 250} known{i} *\n"


def dnsmasq_conf(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "port=0",
        "no-resolv",
        "no-hosts",
        "user=root",
        "group=root",
        "no-ping",
        "interface=eth0",
        "bind-interfaces",
        "dhcp-authoritative",
        f"dhcp-range={NET}.1.1,{NET}.250.250,255.255.0.0,1h",
        "dhcp-lease-max=50000",
        f"dhcp-leasefile={workdir / 'dnsmasq.leases'}",
        f"pid-file={workdir / 'dnsmasq.pid'}",
    ]
    conf = workdir / "dnsmasq.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def dhcp_events_of_known_hosts(db: str) -> dict[str, int]:
    """How many dhcp.* timeline rows the hosts that never changed got, by kind."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT kind, count(*) FROM events WHERE kind LIKE 'dhcp.%' AND host_id IN "
            "(SELECT host_id FROM host_macs WHERE mac LIKE '52:54:01:%') GROUP BY kind"
        ).fetchall()
    return dict(rows)


def test_dnsmasq_rewriting_its_lease_file_is_never_read_as_deletions(
    netlab, store, settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Before: every rewrite read half-written gave the hosts after the cut a dhcp.del and,
    on the next read, a dhcp.lease — with no DHCP change at all for them."""
    require_tool("dnsmasq")
    netlab.add_host("srv", 1)
    netlab.exec(netlab.ns("srv"), "ip", "addr", "add", f"{NET}.0.1/16", "dev", "eth0")
    netlab.add_host("cli", 2)
    conf = dnsmasq_conf(tmp_path / "dnsmasq")
    leases = conf.parent / "dnsmasq.leases"
    expiry = int(time.time()) + 3600
    leases.write_text("".join(known_lease(i, expiry) for i in range(KNOWN)))
    proc = netlab.spawn("srv", "dnsmasq", "dnsmasq", "-k", "--log-facility=-", "-C", str(conf))
    netlab.wait_udp("srv", 67)
    service = LeaseWatchService(store, [("dnsmasq", str(leases))])
    service.start()
    try:
        last = f"52:54:01:00:{(KNOWN - 1) >> 8:02x}:{(KNOWN - 1) & 255:02x}"
        wait_for(lambda: store.host_get(last) is not None, 120, "the known leases")
        cases = [{"mac": f"52:54:02:00:00:{i:02x}", "request": True} for i in range(NEW)]
        batch = tmp_path / "clients.json"
        batch.write_text(json.dumps(cases))
        done = netlab.exec(
            netlab.ns("cli"), sys.executable, PROBE, "--iface", "eth0", "--batch", str(batch),
            timeout=120,
        )  # fmt: skip
        acked = [
            r["mac"]
            for r in json.loads(done.stdout)["results"]
            if any(x["type"] == "DHCPACK" for x in r["replies"])
        ]
        assert len(acked) == NEW and proc.alive(), proc.log_text()
        wait_for(lambda: all(store.host_get(m) for m in acked), 60, "the new leases")
        time.sleep(4.0)  # past any re-check the watcher planned (quiet + confirm)
    finally:
        service.stop()
    db = settings.database.replace("sqlite:///", "/")
    assert dhcp_events_of_known_hosts(db) == {}
    assert len(store.host_all()) == KNOWN + NEW
