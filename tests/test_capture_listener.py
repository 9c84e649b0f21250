"""The passive listener records clients that a different DHCP server answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, require_tool
from tests.harness.capture import wait_for

pytestmark = [pytest.mark.netns, pytest.mark.daemon]

PROBE = str(REPO / "tests" / "harness" / "dhcp_probe.py")
UUID = "4c4c4544-0042-3510-8052-b4c04f565431"
GARBAGE = (
    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1);"
    "s.sendto(b'\\x01garbage', ('{net}.255', 67))"
)


def test_listener_records_clients_of_another_dhcp_server(
    netlab, env, store, pxehook_bin, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    require_tool("dnsmasq")
    netlab.add_host("dhcp", 1)
    netlab.add_host("mon", 3)
    netlab.add_host("cli", 2)
    conf = tmp_path / "site-dnsmasq.conf"  # somebody else's DHCP: no pxehook hook at all
    conf.write_text(
        f"port=0\nno-resolv\nuser=root\ngroup=root\nno-ping\ninterface=eth0\nbind-interfaces\n"
        f"dhcp-range={netlab.net}.100,{netlab.net}.150,1h\ndhcp-leasefile={tmp_path}/l\n"
    )
    netlab.spawn("dhcp", "site-dhcp", "dnsmasq", "-k", "-C", str(conf))
    netlab.wait_udp("dhcp", 67)
    listener = netlab.spawn(
        "mon",
        "listener",
        pxehook_bin,
        "listen",
        "--interface",
        "eth0",
        "--count",
        "13",
        "--duration",
        "30",
        "--json",
        env={**os.environ, **env, "PXEHOOK_DHCP_TRUSTED_SERVERS": netlab.ip_of("dhcp")},
    )
    wait_for(lambda: "listening on eth0" in listener.log_text(), what="the listener")

    netlab.exec(
        netlab.ns("cli"), sys.executable, "-c", GARBAGE.format(net=netlab.net)
    )  # one bad packet first
    hostile = b"evil\nname;$(id)\xff"
    clients = [
        ("52:54:00:cc:00:01", ["--arch", "7", "--uuid", UUID, "--hostname", hostile]),
        ("52:54:00:cc:00:02", ["--arch", "11", "--user-class", "iPXE"]),
        (
            "52:54:00:cc:00:03",
            ["--arch", "16", "--vendor-class", "HTTPClient:Arch:00016:UNDI:003016"],
        ),
    ]
    leased: dict[str, str] = {}
    for mac, args in clients:
        out = netlab.exec(
            netlab.ns("cli"),
            sys.executable,
            PROBE,
            "--iface",
            "eth0",
            "--request",
            "--offers",
            "1",
            "--mac",
            mac,
            *args,
        )
        ack = json.loads(out.stdout)["replies"][-1]
        assert ack["type"] == "DHCPACK"
        leased[mac] = ack["yiaddr"]
    listener.popen.wait(timeout=40)
    log = listener.log_text()
    stats = json.loads(log[log.index("{") :])
    assert stats.get("bad") == 1 and stats["packets"] == 13 and stats.get("lost", 0) == 0, log

    h1, h2, h3 = (store.host_get(mac) for mac, _ in clients)
    assert (h1.arch, h1.uuid, h1.vendor_class) == (7, UUID, "PXEClient:Arch:00007:UNDI:003016")
    assert h1.dhcp_hostname == "evil\nname;$(id)\\xff"  # stored as text, invalid byte escaped
    assert h1.name == ""  # what a client calls itself is never its name
    assert (h2.arch, h2.user_class) == (11, "iPXE")
    assert (h3.arch, h3.vendor_class) == (16, "HTTPClient:Arch:00016:UNDI:003016")
    assert all(h.arch_source == "dhcp" for h in (h1, h2, h3))
    assert [h.trusted_ip for h in (h1, h2, h3)] == [leased[mac] for mac, _ in clients]  # ACKs
    events = store.events(h2.id)
    assert [(e.kind, e.source) for e in events] == [
        ("host.discovered", "listener"),
        ("dhcp.discover", "listener"),
        ("ip.changed", "listener"),
    ]  # the REQUEST repeats the same facts; the trusted server's ACK records the IP


def test_the_listener_service_creates_its_database_on_a_fresh_machine(
    netlab, env, pxehook_bin, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """`pxehook listen` is a server (its own systemd unit, maybe started before `serve`):
    like `serve` and `tftp` it creates the database, where read commands refuse to."""
    netlab.add_host("mon", 3)
    database = tmp_path / "fresh" / "pxehook.db"
    database.parent.mkdir()
    listener = netlab.spawn(
        "mon", "listener", pxehook_bin, "listen", "--interface", "eth0", "--duration", "1",
        env={**os.environ, **env, "PXEHOOK_DATABASE": f"sqlite:///{database}"},
    )  # fmt: skip
    assert listener.popen.wait(timeout=60) == 0, listener.log_text()
    assert "listening on eth0" in listener.log_text()
    listed = subprocess.run(
        [pxehook_bin, "--database", f"sqlite:///{database}", "host", "list", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
