"""What one HTTP client can hold: idle and slow connections against a real ``pxehook serve``.

The attacker is 127.0.0.2, the booting machine 127.0.0.1 (both loopback). With gunicorn's
sync workers two idle sockets stalled every request for ~30 s; these tests open a hundred
of each kind and a boot request must still be answered at once (docs/security.md,
"Servers bound what one client holds").
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.boot_server import LOOPBACK, BootServer, curl
from tests.conftest import SAMPLE_INVENTORY

pytestmark = pytest.mark.daemon

ATTACKER = "127.0.0.2"
BOOT_URL = "/ipxe/52-54-00-12-34-01?buildarch=x86_64&platform=efi"
#: A generous bound for the test; the figure itself is printed (docs/benchmarks.md).
BOUND = 3.0


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, port), timeout=5, source_address=(ATTACKER, 0))
    assert sock.getpeername()[0].startswith("127."), "attack only loopback"
    return sock


@contextmanager
def attack(port: int, idle: int, slow: int) -> Iterator[dict[str, list[socket.socket]]]:
    """``idle`` connections that never send, ``slow`` ones that send a request head one
    byte a second (slowloris), all from ATTACKER, kept up while the block runs."""
    socks = {"idle": [], "slow": []}  # type: dict[str, list[socket.socket]]
    stop = threading.Event()
    try:
        for _ in range(idle):
            socks["idle"].append(_connect(port))
        for _ in range(slow):
            sock = _connect(port)
            sock.sendall(b"GET " + BOOT_URL.encode() + b" HTTP/1.1\r\nHost: x\r\n")
            socks["slow"].append(sock)

        def drip() -> None:
            deadline = time.monotonic() + 120  # bounded, whatever happens
            while not stop.wait(1.0) and time.monotonic() < deadline:
                for sock in socks["slow"]:
                    with suppress(OSError):
                        sock.send(b"X")

        threading.Thread(target=drip, daemon=True).start()
        time.sleep(1.5)  # let the workers take them
        yield socks
    finally:
        stop.set()
        for sock in socks["idle"] + socks["slow"]:
            sock.close()


def timed_boot(url: str) -> tuple[int, float]:
    started = time.monotonic()
    status, _ = curl(url + BOOT_URL)
    return status, time.monotonic() - started


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.5)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


@pytest.fixture
def server(tmp_path: Path, pxehook_bin: str) -> Iterator[BootServer]:
    srv = BootServer(
        tmp_path, SAMPLE_INVENTORY, pxehook_bin,
        PXEHOOK_HTTP_REQUEST_TIMEOUT="4", PXEHOOK_HTTP_KEEPALIVE="3",
    ).start()  # fmt: skip
    yield srv
    srv.stop()


def test_idle_and_slow_connections_do_not_delay_a_boot(server: BootServer) -> None:
    assert curl(server.url + BOOT_URL)[0] == 200
    with attack(server.port, idle=100, slow=100):
        for _ in range(3):
            status, took = timed_boot(server.url)
            print(f"boot request beside 100 idle + 100 slow connections: {took * 1000:.0f} ms")
            assert status == 200
            assert took < BOUND, f"a boot waited {took:.1f}s behind idle/slow connections"


def test_slow_and_idle_connections_are_cut(server: BootServer) -> None:
    """An idle socket is closed after http_keepalive, a request head still incomplete
    after http_request_timeout is cut: nothing one client opens is held for ever."""
    with attack(server.port, idle=5, slow=5) as socks:
        deadline = time.monotonic() + 4 + 3 + 5
        pending = socks["idle"] + socks["slow"]
        while pending and time.monotonic() < deadline:
            pending = [s for s in pending if not closed_by_server(s)]
        assert not pending, f"{len(pending)} connections still held by the server"
        assert timed_boot(server.url)[0] == 200


def test_one_client_cannot_fill_the_connection_slots(tmp_path: Path, pxehook_bin: str) -> None:
    """Beyond http_client_connections (per worker) a client's new connections are closed
    at once; another client is still served."""
    srv = BootServer(
        tmp_path, SAMPLE_INVENTORY, pxehook_bin,
        PXEHOOK_HTTP_CLIENT_CONNECTIONS="10", PXEHOOK_WORKERS="1",
    ).start()  # fmt: skip
    try:
        with attack(srv.port, idle=30, slow=0) as socks:
            refused = sum(closed_by_server(s) for s in socks["idle"])
            assert refused >= 20, f"only {refused} of 30 connections over the cap were closed"
            assert timed_boot(srv.url)[0] == 200
    finally:
        srv.stop()
