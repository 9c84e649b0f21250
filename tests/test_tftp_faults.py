"""`pxehook tftp` under faults a careless operator or a hostile client causes: a loader
replaced in place mid-download, a port already taken, requests never acknowledged."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.harness.tftp_client import ACK, DATA, ERROR, OACK, Session, decode_error
from tests.tftp_server import LOOPBACK, TftpProcess, free_udp_port, hpa_get, seed, site_env

pytestmark = pytest.mark.daemon
LOADER = "grubx64.efi"


@pytest.fixture
def server(tmp_path: Path, pxehook_bin: str):  # type: ignore[no-untyped-def]
    require_tool("tftp")
    root = tmp_path / "tftp"
    root.mkdir()
    (root / LOADER).write_bytes(os.urandom(2 * 1024 * 1024))
    env = site_env(tmp_path, root)
    seed(env).close()
    port = free_udp_port()
    proc = TftpProcess(
        pxehook_bin, env, tmp_path / "tftp.log", "--bind", LOOPBACK, "--port", str(port)
    )
    proc.wait_serving()
    proc.port, proc.root = port, root  # type: ignore[attr-defined]
    yield proc
    proc.stop()


def opcode(packet: bytes) -> int:
    return int(struct.unpack("!H", packet[:2])[0])


def download_with(server, after_blocks: int, change) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    """Fetch LOADER at blksize 1468, calling ``change()`` after ``after_blocks`` blocks;
    ("done", body) or ("error", message). The server dying shows as a time-out."""
    session = Session(LOOPBACK, server.port)
    try:
        session.request(LOADER, {"blksize": "1468"})
        assert opcode(session.receive()) == OACK
        session.ack(0)
        body, block = bytearray(), 1
        while True:
            try:
                packet = session.receive()
            except TimeoutError:
                pytest.fail(f"no answer after block {block - 1}; server alive: {server.alive()}")
            if opcode(packet) == ERROR:
                return "error", decode_error(packet).message.encode()
            assert opcode(packet) == DATA and struct.unpack("!H", packet[2:4])[0] == block
            body += packet[4:]
            if block == after_blocks:
                change()
            session.ack(block)
            if len(packet) - 4 < 1468:
                return "done", bytes(body)
            block += 1
    finally:
        session.close()


def test_loader_truncated_by_cp_mid_download_ends_that_transfer_only(server, tmp_path):  # type: ignore[no-untyped-def]
    new = tmp_path / "new.efi"
    new.write_bytes(os.urandom(100_000))
    loader = server.root / LOADER
    outcome, detail = download_with(
        server, 5, lambda: subprocess.run(["cp", str(new), str(loader)], check=True)
    )
    assert (outcome, detail) == ("error", b"file changed during transfer, try again")
    assert server.alive(), server.log.read_text()
    done = hpa_get(server.port, LOADER, tmp_path / "next")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "next").read_bytes() == new.read_bytes()


def test_loader_rewritten_in_place_same_size_is_never_sent_mixed(server, tmp_path):  # type: ignore[no-untyped-def]
    loader = server.root / LOADER
    original = loader.read_bytes()
    new = tmp_path / "new.efi"
    new.write_bytes(os.urandom(len(original)))
    outcome, _ = download_with(
        server, 5, lambda: subprocess.run(["cp", str(new), str(loader)], check=True)
    )
    assert outcome == "error", "a mix of two files was delivered as one"
    assert server.alive()


def test_loader_replaced_by_rename_keeps_sending_the_file_it_opened(server, tmp_path):  # type: ignore[no-untyped-def]
    loader = server.root / LOADER
    original = loader.read_bytes()
    new = server.root / "new.efi.tmp"
    new.write_bytes(os.urandom(300_000))
    outcome, body = download_with(server, 5, lambda: os.replace(new, loader))
    assert outcome == "done" and body == original


def test_first_packet_goes_out_once_per_request(server):  # type: ignore[no-untyped-def]
    """Nothing is resent to an address that never answered: a spoofed request costs the
    victim one packet of at most 516 bytes; a large block only follows an acknowledged
    OACK."""
    plain = Session(LOOPBACK, server.port)
    plain.request(LOADER)
    got = plain.packets_within(3.5)
    assert [(opcode(p), len(p)) for p in got] == [(DATA, 516)]
    big = Session(LOOPBACK, server.port)
    big.request(LOADER, {"blksize": "65464", "tsize": "0"})
    got = big.packets_within(3.5)
    assert [opcode(p) for p in got] == [OACK] and len(got[0]) < 64
    for session in (plain, big):
        session.close()


def test_a_repeated_request_resends_the_first_packet_of_the_same_transfer(server):  # type: ignore[no-untyped-def]
    session = Session(LOOPBACK, server.port)
    ports = set()
    for _ in range(3):
        session.request(LOADER)
        got = session.packets_within(0.6)
        assert [opcode(p) for p in got] == [DATA]
        ports.add(session.peer)
        session.peer = None  # note the port each answer comes from
    assert len(ports) == 1  # one transfer, not three
    session.close()


def test_long_client_timeouts_are_declined(server):  # type: ignore[no-untyped-def]
    session = Session(LOOPBACK, server.port)
    session.request(LOADER, {"timeout": "255", "tsize": "0"})
    oack = session.receive()
    fields = oack[2:].split(b"\0")
    assert opcode(oack) == OACK
    assert dict(zip(fields[0::2], fields[1::2], strict=False)) == {
        b"tsize": str(2 * 1024 * 1024).encode()
    }
    session.ack(0)  # and the transfer goes on at the server's pace
    assert opcode(session.receive()) == DATA
    session.close()


def test_a_port_held_by_dnsmasq_is_one_line_and_exit_code_5(netlab, tmp_path, pxehook_bin):  # type: ignore[no-untyped-def]
    require_tool("dnsmasq")
    root = tmp_path / "tftp"
    root.mkdir()
    env = site_env(tmp_path, root)
    seed(env).close()
    ip = netlab.add_host("srv", 1)
    netlab.spawn(
        "srv", "dnsmasq", shutil.which("dnsmasq") or "dnsmasq", "--no-daemon", "--port=0",
        "--enable-tftp", f"--tftp-root={root}", "--user=root", f"--listen-address={ip}",
        "--bind-interfaces", f"--pid-file={tmp_path}/dnsmasq.pid",
    )  # fmt: skip
    netlab.wait_udp("srv", 69)
    base = {k: v for k, v in os.environ.items() if not k.startswith("PXEHOOK_")}
    for bind in (ip, "0.0.0.0"):  # inside the test namespace
        try:
            done = netlab.exec(
                netlab.ns("srv"), pxehook_bin, "tftp", "--bind", bind, "--port", "69",
                check=False, env={**base, **env}, timeout=15,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            pytest.fail(f"pxehook tftp started on {bind}:69 beside dnsmasq (sharing the port)")
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 5, done.stderr
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(
            f"pxehook: error: tftp: cannot bind {bind}:69: address already in use"
        )
    # and nothing took the port from dnsmasq
    listening = netlab.exec(netlab.ns("srv"), "ss", "-Hulnp", "sport = :69").stdout
    assert "dnsmasq" in listening and "python" not in listening


def test_acks_after_the_end_are_ignored(server, tmp_path):  # type: ignore[no-untyped-def]
    """Stray ACKs to the well-known port are not requests: no reply at all."""
    session = Session(LOOPBACK, server.port)
    session.sock.sendto(struct.pack("!HH", ACK, 1), (LOOPBACK, server.port))
    assert session.packets_within(1.0) == []
    session.close()
    assert server.alive()
