"""Test helper: a real ``pxehook tftp`` process over a temp directory, and tftp-hpa."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.inventory.apply import sync
from pxehook.inventory.parse import load
from pxehook.models import Observation

LOOPBACK = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "templates/samples/inventory.yaml"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def site_env(work: Path, root: Path, **extra: str) -> dict[str, str]:
    """PXEHOOK_* settings for a server over ``work`` (database, state) and ``root``."""
    return {
        "PXEHOOK_DATABASE": f"sqlite:///{work}/pxehook.db",
        "PXEHOOK_TFTP_ROOT": str(root),
        "PXEHOOK_STATE_DIR": str(work / "state"),
        "PXEHOOK_HTTP_BASE_URL": "http://127.0.0.1:8070",
        **extra,
    }


def seed(env: dict[str, str], hosts: dict[str, str] | None = None) -> Context:
    """The sample inventory in the store, plus DHCP sightings {mac: ip} (BIOS)."""
    ctx = Context(load_settings(env=env))
    sync(load(str(SAMPLE)), ctx.store())
    for mac, ip in (hosts or {}).items():
        ctx.store().observe(Observation(mac, "dhcp", ip=ip, arch=0))
    return ctx


class TftpProcess:
    """``pxehook tftp --bind BIND --port PORT`` with ``env``; stopped by PID."""

    def __init__(self, pxehook_bin: str, env: dict[str, str], log: Path, *argv: str) -> None:
        self.log = log
        base = {k: v for k, v in os.environ.items() if not k.startswith("PXEHOOK_")}
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [pxehook_bin, "tftp", *argv],
                env={**base, **env},
                stdout=subprocess.DEVNULL,
                stderr=out,
            )

    def wait_serving(self, timeout: float = 15) -> TftpProcess:
        deadline = time.monotonic() + timeout
        while b"serving" not in self.log.read_bytes():
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)
        return self

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def hpa_get(
    port: int, remote: str, local: Path, host: str = LOOPBACK
) -> subprocess.CompletedProcess[str]:
    """tftp-hpa downloads ``remote`` to ``local``."""
    return subprocess.run(
        ["tftp", "-m", "binary", host, str(port), "-c", "get", remote, str(local)],
        capture_output=True,
        text=True,
        timeout=60,
    )
