"""``serve`` and ``lint`` say when the install-done callback will need a host's trusted IP
and nothing configured can give one: the proxy-DHCP set-up where every install loops.

Before: nothing was said; each install's callback was refused and the machine reinstalled.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.boot_server import BootServer

WARNING = "callback_require_host_ip is on but nothing gives pxehook a host's trusted IP"
SITE = {
    "PXEHOOK_SERVER_IP": "192.0.2.10",
    "PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24",
    "PXEHOOK_DHCP_RANGE": "192.0.2.100,192.0.2.199",
}


def _hook(tmp_path: Path) -> str:
    hook = tmp_path / "libexec" / "pxehook-hook"
    hook.parent.mkdir()
    hook.write_text("#!/bin/sh\n")
    hook.chmod(stat.S_IRWXU)
    return str(hook)


@pytest.mark.parametrize(
    ("mode", "extra", "warned"),
    [
        ("proxy", {}, True),  # the proxy set-up with no source: installs would loop
        ("proxy", {"HOOK": True}, True),  # a ProxyDHCP dnsmasq's hook sees no leases
        ("proxy", {"PXEHOOK_LEASE_FILES": "isc:/var/lib/dhcp/dhcpd.leases"}, False),
        ("proxy", {"PXEHOOK_DHCP_TRUSTED_SERVERS": "192.0.2.1"}, True),  # no listener
        (
            "proxy",
            {"PXEHOOK_DHCP_TRUSTED_SERVERS": "192.0.2.1", "PXEHOOK_LISTEN_INTERFACE": "eth1"},
            False,
        ),
        ("full", {}, True),
        ("full", {"HOOK": True}, False),
        ("proxy", {"PXEHOOK_CALLBACK_REQUIRE_HOST_IP": "false"}, False),
    ],
)
def test_lint_names_a_missing_trusted_ip_source(cli, tmp_path, mode, extra, warned) -> None:  # type: ignore[no-untyped-def]
    env = {**SITE, "PXEHOOK_HOOK_PATH": str(tmp_path / "no-hook")}
    if extra.pop("HOOK", False):
        env["PXEHOOK_HOOK_PATH"] = _hook(tmp_path)
    result = cli("lint", "dnsmasq", "--mode", mode, extra_env={**env, **extra})
    lines = [line for line in result.err.splitlines() if WARNING in line]
    assert len(lines) == (1 if warned else 0), result
    if warned:
        assert result.code == 9 and "dhcp_trusted_servers" in lines[0] and "lease_files" in lines[0]


@pytest.mark.daemon
def test_serve_warns_at_start(tmp_path: Path, pxehook_bin: str) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts: []\n")
    server = BootServer(tmp_path, inventory, pxehook_bin, PXEHOOK_HOOK_PATH=str(tmp_path / "x"))
    try:
        server.start()
        assert sum(WARNING in line for line in server.log_text().splitlines()) == 1
    finally:
        server.stop()
