"""TFTP inside `pxehook serve` (`tftp_serve: true`): a TFTP fault never takes the
supervisor's other services down, the service says whether it is healthy, and a taken
port is one line."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from pxehook.config import load_settings
from pxehook.context import Context
from pxehook.errors import ConfigError
from pxehook.tftp.service import TftpService
from tests.boot_server import BootServer, curl
from tests.conftest import SAMPLE_INVENTORY, require_tool
from tests.harness.capture import build_hooks, run_hook, wait_for
from tests.harness.tftp_client import DATA, ERROR, OACK, Session, decode_error
from tests.tftp_server import LOOPBACK, free_udp_port, hpa_get

pytestmark = pytest.mark.daemon
LOADER = "snponly.efi"


def opcode(packet: bytes) -> int:
    return int(struct.unpack("!H", packet[:2])[0])


@pytest.fixture
def served(tmp_path: Path, pxehook_bin: str):  # type: ignore[no-untyped-def]
    inventory = tmp_path / "inventory.yaml"
    shutil.copy(SAMPLE_INVENTORY, inventory)
    port = free_udp_port()
    server = BootServer(
        tmp_path / "site", inventory, pxehook_bin,
        PXEHOOK_TFTP_SERVE="true", PXEHOOK_TFTP_BIND=LOOPBACK, PXEHOOK_TFTP_PORT=str(port),
        PXEHOOK_WORKERS="1",
    )  # fmt: skip
    (tmp_path / "site" / "tftp" / LOADER).write_bytes(os.urandom(1024 * 1024))
    server.tftp_port = port  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_loader_replaced_mid_download_leaves_serve_and_its_services_running(
    served, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    require_tool("tftp")
    served.start(services=True)
    wait_for(lambda: "tftp serving" in served.log_text(), what="the TFTP service")
    loader = served.workdir / "tftp" / LOADER
    smaller = tmp_path / "smaller.efi"
    smaller.write_bytes(os.urandom(50_000))

    session = Session(LOOPBACK, served.tftp_port)
    session.request(LOADER, {"blksize": "1468"})
    assert opcode(session.receive()) == OACK
    session.ack(0)
    last = None
    for block in range(1, 200):
        packet = session.receive()
        if opcode(packet) == ERROR:
            last = decode_error(packet)
            break
        assert opcode(packet) == DATA
        if block == 3:
            subprocess.run(["cp", str(smaller), str(loader)], check=True)  # in place
        session.ack(block)
    session.close()
    assert last is not None and last.message == "file changed during transfer, try again"

    assert served.proc.poll() is None, served.log_text()  # the supervisor lives
    assert curl(served.url + "/healthz")[0] == 200
    # the capture ingester still moves hook records into the store
    spool = Path(served.env["PXEHOOK_SPOOL_DIR"]) / "hook.spool"
    hook, _ = build_hooks(tmp_path / "bin", spool)
    hook_env = {"DNSMASQ_TAGS": "pxh-bios eth0", "DNSMASQ_INTERFACE": "eth0"}
    assert run_hook(hook, "add", "52:54:00:5e:00:09", "10.0.0.9", env=hook_env).returncode == 0
    wait_for(lambda: served.ctx.store().host_get("52:54:00:5e:00:09") is not None, what="ingest")
    # and TFTP serves the next machine the new file
    done = hpa_get(served.tftp_port, LOADER, tmp_path / "next")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "next").read_bytes() == smaller.read_bytes()


def test_a_taken_tftp_port_is_one_line_in_serve(served) -> None:  # type: ignore[no-untyped-def]
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as dnsmasq does
    holder.bind((LOOPBACK, served.tftp_port))
    try:
        # serve may refuse to start, or run on with TFTP reported down: either way one line
        with contextlib.suppress(RuntimeError):
            served.start(services=True, timeout=8)
        wait_for(lambda: "cannot bind" in served.log_text(), what="the bind error")
        text = served.log_text()
        assert f"tftp: cannot bind {LOOPBACK}:{served.tftp_port}: address already in use" in text
        assert "Traceback" not in text
    finally:
        holder.close()


def test_the_service_reports_its_health(tmp_path: Path) -> None:
    env = {
        "PXEHOOK_DATABASE": f"sqlite:///{tmp_path}/pxehook.db",
        "PXEHOOK_TFTP_ROOT": str(tmp_path),
        "PXEHOOK_TFTP_BIND": LOOPBACK,
        "PXEHOOK_TFTP_PORT": str(free_udp_port()),
    }
    ctx = Context(load_settings(env=env))
    service = TftpService(ctx)
    assert not service.healthy and service.error == "tftp is not running"
    service.start()
    assert service.healthy and service.error == ""
    taken = TftpService(ctx)
    with pytest.raises(ConfigError, match=r"cannot bind .*: address already in use"):
        taken.start()
    assert not taken.healthy and "address already in use" in taken.error
    service.stop()
    assert not service.healthy
    ctx.close()
