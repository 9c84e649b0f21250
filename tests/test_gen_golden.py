"""Golden files: the whole generated config equals a reviewed file, and the daemon accepts it.

Regenerate after a deliberate change, then review the diff:
    PXH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_gen_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pxehook.config import load_settings
from pxehook.gen import generator
from pxehook.gen.layout import build_layout
from tests.conftest import require_tool

GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("PXH_UPDATE_GOLDEN"))

#: The example site of the golden files: one local subnet with a range, one relayed subnet.
SITE = {
    "PXEHOOK_SERVER_IP": "192.0.2.10",
    "PXEHOOK_HTTP_BASE_URL": "http://192.0.2.10:8070",
    "PXEHOOK_DHCP_SUBNETS": "192.0.2.0/24,198.51.100.0/24",
    "PXEHOOK_DHCP_RANGE": "192.0.2.100,192.0.2.199",
    "PXEHOOK_DHCP_ROUTERS": "198.51.100.0/24=198.51.100.1",  # the relay, for its clients
    "PXEHOOK_DHCP_INTERFACE": "eth1",
    "PXEHOOK_TFTP_ROOT": "/srv/tftp",
}
CASES = [
    ("dnsmasq", "full", "full.conf"),
    ("dnsmasq", "boot", "boot.conf"),
    ("dnsmasq", "proxy", "proxy.conf"),
    ("dnsmasq", "tftp", "tftp.conf"),
    ("isc", "full", "full.conf"),
    # kea-dhcp4 -t insists the named interface exists: the golden Kea file listens on "*".
    ("kea", "full", "full.json"),
]


def _render(daemon: str, dhcp_mode: str) -> str:
    env = dict(SITE)
    if daemon == "kea":
        env["PXEHOOK_DHCP_INTERFACE"] = ""
    return generator(daemon).render(build_layout(load_settings(env=env)), dhcp_mode)


@pytest.mark.parametrize(("daemon", "dhcp_mode", "name"), CASES)
def test_whole_file_matches_golden(daemon: str, dhcp_mode: str, name: str) -> None:
    path = GOLDEN / daemon / name
    text = _render(daemon, dhcp_mode)
    if UPDATE:
        path.write_text(text)
    assert path.read_text() == text, f"{path} drifted; see the module docstring"


@pytest.mark.daemon
@pytest.mark.parametrize(("daemon", "dhcp_mode", "name"), CASES)
def test_daemon_accepts_golden(daemon: str, dhcp_mode: str, name: str) -> None:
    gen = generator(daemon)
    require_tool(gen.binary)
    assert gen.check(str(GOLDEN / daemon / name)) is not None
