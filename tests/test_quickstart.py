"""README promise 1: the quick-start command sets up and serves on loopback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_quickstart_check_serves_the_sample_inventory():
    port = free_port()
    r = subprocess.run(
        ["bash", str(ROOT / "scripts" / "quickstart.sh"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PXEHOOK_PORT": str(port), "HOME": "/root"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"server answered on 127.0.0.1:{port}" in r.stdout
    assert "4 profiles, hosts" in r.stdout
    assert "node01 (52:54:00:12:34:01) boots profile debian-installer" in r.stdout
