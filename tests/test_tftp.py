"""pxehook's TFTP server against real clients (tftp-hpa, atftp) on loopback."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.inventory.apply import sync
from pxehook.inventory.parse import load
from pxehook.models import Observation
from tests.boot_server import LOOPBACK, events_when
from tests.conftest import require_tool
from tests.tftp_server import free_udp_port, hpa_get

pytestmark = pytest.mark.daemon
REPO = Path(__file__).resolve().parent.parent
NODE01, NODE02 = "52-54-00-12-34-01", "52-54-00-12-34-02"


@pytest.fixture(scope="module")
def tftp(tmp_path_factory):  # type: ignore[no-untyped-def]
    require_tool("tftp", "atftp")
    work = tmp_path_factory.mktemp("tftp")
    root = work / "tftp"
    root.mkdir()
    (root / "undionly.kpxe").write_bytes(os.urandom(70_000))
    (root / "big.bin").write_bytes(os.urandom(33 * 1024 * 1024 + 777))  # > 65535 × 512
    (root / "empty").write_bytes(b"")
    env = {
        "PXEHOOK_DATABASE": f"sqlite:///{work}/pxehook.db",
        "PXEHOOK_TFTP_ROOT": str(root),
        "PXEHOOK_STATE_DIR": str(work / "state"),
        "PXEHOOK_HTTP_BASE_URL": "http://127.0.0.1:8070",
    }
    ctx = Context(load_settings(env=env))
    sync(load(str(REPO / "templates/samples/inventory.yaml")), ctx.store())
    ctx.store().observe(Observation("52:54:00:12:34:02", "dhcp", ip="127.0.0.9", arch=0))
    ctx.store().observe(Observation("52:54:00:12:34:01", "dhcp", ip="127.0.0.8", arch=0))
    port = free_udp_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("PXEHOOK_")}
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "pxehook"),
            "tftp",
            "--bind",
            LOOPBACK,
            "--port",
            str(port),
        ],
        env={**base, **env},
        stdout=subprocess.DEVNULL,
        stderr=open(work / "tftp.log", "wb"),  # noqa: SIM115 - lives as long as the server
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and b"serving" not in (work / "tftp.log").read_bytes():
        assert proc.poll() is None, (work / "tftp.log").read_text()
        time.sleep(0.05)
    yield {"port": port, "root": root, "work": work, "ctx": ctx}
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    ctx.close()


def atftp_get(
    port: int, remote: str, local: Path, blksize: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "atftp",
            "--option",
            f"blksize {blksize}",
            "--option",
            "tsize 0",
            "-g",
            "-r",
            remote,
            "-l",
            str(local),
            LOOPBACK,
            str(port),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_static_loader_with_tftp_hpa(tftp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = hpa_get(tftp["port"], "undionly.kpxe", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_bytes() == (tftp["root"] / "undionly.kpxe").read_bytes()
    done = hpa_get(tftp["port"], "empty", tmp_path / "empty")
    assert done.returncode == 0 and (tmp_path / "empty").read_bytes() == b""


@pytest.mark.parametrize("blksize", [512, 1468])
def test_large_file_with_rollover_and_blksize(tftp, tmp_path: Path, blksize: int) -> None:  # type: ignore[no-untyped-def]
    done = atftp_get(tftp["port"], "big.bin", tmp_path / "big", blksize)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "big").read_bytes() == (tftp["root"] / "big.bin").read_bytes()


def test_missing_file_is_an_error_packet_not_a_timeout(tftp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name in ("nothing.bin", "pxelinux.cfg/7F00000", "pxelinux.cfg/01-zz", "grub.cfg-7F"):
        started = time.monotonic()
        done = hpa_get(tftp["port"], name, tmp_path / "x")
        assert "Error code 1" in done.stderr + done.stdout, (name, done)
        assert time.monotonic() - started < 2


def test_per_mac_config_names_go_through_the_decision(tftp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "cfg"
    assert hpa_get(tftp["port"], f"pxelinux.cfg/01-{NODE02}", out).returncode == 0
    assert b"LOCALBOOT 0" in out.read_bytes() and b"KERNEL" not in out.read_bytes()
    assert hpa_get(tftp["port"], f"/boot/pxelinux.cfg/01-{NODE01.upper()}", out).returncode == 0
    assert b"KERNEL http://127.0.0.1:8070/files/debian/amd64/linux" in out.read_bytes()
    assert atftp_get(tftp["port"], f"grub/grub.cfg-01-{NODE02}", out, 1468).returncode == 0
    assert b"linux " not in out.read_bytes() and b"pxehook" in out.read_bytes()
    store = tftp["ctx"].store()
    events = events_when(
        store,
        store.host_get("52:54:00:12:34:02").id,
        lambda evs: (
            {e.data.get("loader") for e in evs if e.source == "tftp"} >= {"pxelinux", "grub"}
        ),
    )
    tftp_hits = [e for e in events if e.kind == "boot.config" and e.source == "tftp"]
    assert {e.data["loader"] for e in tftp_hits} == {"pxelinux", "grub"}


def raw_rrq(port: int, filename: bytes, source: str = LOOPBACK, options: bytes = b"") -> bytes:
    """One RRQ from ``source``; returns the first reply packet."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(3)
        sock.sendto(struct.pack("!H", 1) + filename + b"\0octet\0" + options, (LOOPBACK, port))
        reply, server = sock.recvfrom(70000)
        if reply[:2] == b"\0\3":
            sock.sendto(struct.pack("!HH", 4, 1), server)
        return reply


@pytest.mark.parametrize(
    "name",
    [
        b"../pxehook.db",
        b"../../etc/passwd",
        b"a/../../pxehook.db",
        b"big.bin\0x",
        b"..\\pxehook.db",
        b"/etc/passwd",
        b"%2e%2e/pxehook.db",
    ],
)
def test_traversal_is_refused(tftp, name: bytes) -> None:  # type: ignore[no-untyped-def]
    reply = raw_rrq(tftp["port"], name)
    opcode, code = struct.unpack("!HH", reply[:4])
    assert opcode == 5 and code in (1, 2, 4), reply  # ERROR: not found / access / bad op


def test_generic_default_maps_client_ip_to_mac(tftp) -> None:  # type: ignore[no-untyped-def]
    reply = raw_rrq(tftp["port"], b"pxelinux.cfg/default", source="127.0.0.9")
    assert reply[:4] == b"\0\3\0\1" and b"LOCALBOOT 0" in reply


def test_write_requests_are_refused(tftp) -> None:  # type: ignore[no-untyped-def]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(struct.pack("!H", 2) + b"x\0octet\0", (LOOPBACK, tftp["port"]))
        reply = sock.recv(600)
    assert struct.unpack("!HH", reply[:4]) == (5, 4)
