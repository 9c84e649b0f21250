"""Through a DHCP relay: clients on one segment, the DHCP server on another, ISC's
``dhcrelay`` between them (``giaddr`` set). The real dnsmasq, ISC dhcpd and Kea run the
configs ``pxehook gen`` writes for a site whose range lies in the relayed subnet.

::

    lab S (server segment) 10.231.S.0/24      lab C (client segment) 10.231.C.0/24
    srv  eth0 .1  DHCP server + hook           cli  eth0 .250  the scripted client
    relay eth0 .254  ── dhcrelay, forwarding ── relay eth1 .1 (giaddr, the clients' router)

Each answer must be the arch table's (loader, URL, iPXE script), with ``siaddr`` =
``server_ip``, an address from the relayed subnet, ``giaddr`` echoed and the router from
``dhcp_routers``; the hook records every client with its option-93 code.
"""

from __future__ import annotations

import json
import os

import pytest

from pxehook import arch
from pxehook.gen.kea import strip_comments
from tests.conftest import require_tool
from tests.harness import netns, wire

pytestmark = [pytest.mark.netns, pytest.mark.daemon]

#: (option 93, variant): BIOS and x64 UEFI PXE firmware, iPXE, UEFI HTTP boot.
CASES = [(0, "pxe"), (7, "pxe"), (0, "ipxe-uc"), (7, "ipxe-uc"), (16, "httpclient")]


@pytest.fixture
def relayed(netlab, tmp_path):  # type: ignore[no-untyped-def]
    """(server lab, client lab): the relay namespace belongs to the server lab."""
    require_tool("dhcrelay")
    client = netns.NetLab(
        prefix=f"{netlab.prefix}c",
        subnet_index=(netlab.subnet_index + 128) % 250 + 1,
        workdir=tmp_path / "client-lab",
    )
    client.up()
    try:
        netlab.add_host("srv", 1)
        relay = netlab.ns("relay")
        netlab.add_host("relay", 254)
        giaddr = client.plug(relay, 1, "eth1")
        client.add_host("cli", 250)
        netlab.exec(relay, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        netlab.exec(
            netlab.ns("srv"), "ip", "route", "add", f"{client.net}.0/24", "via", f"{netlab.net}.254"
        )
        yield netlab, client, giaddr
    finally:
        client.close()


def _env(server, client, tmp_path, hook: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return wire.gen_env(
        server,
        tmp_path,
        hook,
        PXEHOOK_DHCP_SUBNETS=f"{server.net}.0/24,{client.net}.0/24",
        PXEHOOK_DHCP_RANGE=f"{client.net}.10,{client.net}.249",
        PXEHOOK_DHCP_ROUTERS=f"{client.net}.0/24={client.net}.1",
    )


def _start(daemon: str, server, cli, env, tmp_path):  # type: ignore[no-untyped-def]
    conf = tmp_path / f"{daemon}.conf"
    result = cli("gen", daemon, "--out", str(conf), extra_env=env)
    assert result.code == 0, result
    if daemon == "dnsmasq":
        return server.spawn("srv", daemon, *wire.dnsmasq_argv(tmp_path, "dnsmasq", conf))
    if daemon == "isc":
        return server.spawn("srv", daemon, *wire.dhcpd_argv(tmp_path, conf))
    kea = json.loads(strip_comments(conf.read_text()))
    assert kea["Dhcp4"]["interfaces-config"]["interfaces"] == ["eth0"]
    return server.spawn("srv", daemon, "kea-dhcp4", "-c", str(conf), env=wire.kea_env(tmp_path))


@pytest.mark.parametrize("daemon", ["dnsmasq", "isc", "kea"])
def test_relayed_clients_get_the_right_answers(daemon, relayed, cli, tmp_path):  # type: ignore[no-untyped-def]
    server, client, giaddr = relayed
    require_tool({"dnsmasq": "dnsmasq", "isc": "dhcpd", "kea": "kea-dhcp4"}[daemon])
    hook_log = tmp_path / "hook.log"
    env = _env(server, client, tmp_path, wire.write_hook(tmp_path / "hook.sh", hook_log))
    proc = _start(daemon, server, cli, env, tmp_path)
    server.wait_udp("srv", 67)
    server_ip = f"{server.net}.1"
    relay = server.spawn(
        "relay", "dhcrelay", "dhcrelay", "-4", "-d", "-id", "eth1", "-iu", "eth0", server_ip
    )
    server.wait_udp("relay", 67)
    site = wire.site_of(server)
    macs = [f"02:52:00:00:{daemon == 'isc':02x}:{n:02x}" for n in range(len(CASES))]
    cases = [
        wire.case(code, variant, request=True, mac=mac)
        for (code, variant), mac in zip(CASES, macs, strict=True)
    ]
    results = wire.run_probe(client, cases, tmp_path)
    errors = []
    for res, (code, variant) in zip(results, CASES, strict=True):
        want = wire.expected(code, variant, site)
        replies = res["replies"]
        if [r["type"] for r in replies] != ["DHCPOFFER", "DHCPACK"]:
            errors.append(f"{code}/{variant}: replies {[r['type'] for r in replies]}")
        for r in replies:
            errors += [f"{code}/{variant}: {e}" for e in wire.check_reply(r, want, variant, site)]
            if r["giaddr"] != giaddr:
                errors.append(f"{code}/{variant}: giaddr {r['giaddr']} != {giaddr}")
            if not r["yiaddr"].startswith(f"{client.net}."):
                errors.append(f"{code}/{variant}: address {r['yiaddr']} not in {client.net}.0/24")
            if r["options"].get("3") != bytes(map(int, giaddr.split("."))).hex():
                errors.append(f"{code}/{variant}: router {r['options'].get('3')!r}")
    assert not errors, "\n".join(errors) + "\n" + proc.log_text()[-3000:] + relay.log_text()
    # the hook ran for every relayed client; dnsmasq and ISC hand it the option-93 code (Kea
    # hands none: pxehook's listener reads it there)
    assert wire.wait_for(lambda: all(m in _text(hook_log) for m in macs), 10), _text(hook_log)
    lines = _text(hook_log).splitlines()
    for mac, (code, _variant) in zip(macs, CASES, strict=True):
        seen = [line for line in lines if mac in line]
        assert seen, (mac, lines)
        if daemon == "isc":  # option 93, then the relay's address (giaddr)
            want = f" {code} {giaddr} tags="
            assert any(line.startswith("isc commit ") and want in line for line in seen), seen
        elif daemon == "kea":  # the relay's address (QUERY4_GIADDR), read as relay_address
            assert any(f" giaddr={giaddr}" in line for line in seen), seen
        elif daemon == "dnsmasq":
            assert any(arch.BY_CODE[code].dnsmasq_tag in line for line in seen), seen


def _text(path) -> str:  # type: ignore[no-untyped-def]
    return path.read_text() if os.path.exists(path) else ""
