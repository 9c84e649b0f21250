"""Responses the worker sends head and body together (``web/onewrite.py``) stay framed
exactly as HTTP/1.1 says, on one kept-alive connection: a boot script, a HEAD, a 404, a
large file by sendfile, a ranged one (real ``pxehook serve``, raw sockets on loopback)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from gunicorn.config import Config

from pxehook.models import State
from pxehook.web.onewrite import OneWriteResponse
from tests.boot_server import LOOPBACK, BootServer
from tests.conftest import SAMPLE_INVENTORY
from tests.lifecycle_fixtures import HostMaker

pytestmark = pytest.mark.daemon


class Conn:
    """One kept-alive HTTP/1.1 connection that reads each response by its framing."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=10)
        self.buf = b""

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        assert data, "the server closed the connection"
        self.buf += data

    def ask(self, method: str, path: str, *headers: str) -> tuple[int, dict[str, str], bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {LOOPBACK}", *headers, "", ""]
        self.sock.sendall("\r\n".join(lines).encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *fields = head.decode("latin-1").split("\r\n")
        found = {k.lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)}
        assert "chunked" not in found.get("transfer-encoding", "")
        size = 0 if method == "HEAD" else int(found["content-length"])
        while len(self.buf) < size:
            self._fill()
        body, self.buf = self.buf[:size], self.buf[size:]
        return int(status_line.split()[1]), found, body

    def close(self) -> None:
        self.sock.close()


def test_every_kind_of_answer_is_framed_right_on_one_connection(
    tmp_path: Path, pxehook_bin: str
) -> None:
    srv = BootServer(tmp_path, SAMPLE_INVENTORY, pxehook_bin)
    host = HostMaker(srv.ctx.store())(State.DEPLOYED)
    big = os.urandom(3 * 1024 * 1024 + 17)  # past the join limit: sendfile, as before
    (tmp_path / "files" / "big.img").write_bytes(big)
    srv.start()
    conn = Conn(srv.port)
    try:
        script = f"/ipxe/{host.mac.replace(':', '-')}?buildarch=x86_64&platform=efi"
        for _ in range(2):
            status, head, body = conn.ask("GET", script)
            assert status == 200 and body.startswith(b"#!ipxe\n") and b"exit" in body
            assert int(head["content-length"]) == len(body)
        status, head, body = conn.ask("HEAD", script)
        assert status == 200 and body == b"" and int(head["content-length"]) > 0
        status, _, body = conn.ask("GET", "/ipxe/not-a-mac")
        assert status in (400, 404) and body
        status, _, body = conn.ask("GET", "/files/big.img")
        assert status == 200 and body == big
        status, _, body = conn.ask("GET", "/files/big.img", "Range: bytes=10-19")
        assert status == 206 and body == big[10:20]
        status, _, body = conn.ask("GET", "/boot.ipxe")
        assert status == 200 and body.startswith(b"#!ipxe")
    finally:
        conn.close()
        srv.stop()


class Wire:
    """Stands in for the client socket: keeps each write (unit test of the joining)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))


class Req:
    def __init__(self, method: str) -> None:
        self.method, self.version, self.headers, self.path = method, (1, 1), [], "/"

    def should_close(self) -> bool:
        return False


def respond(method: str, body: bytes) -> list[bytes]:
    wire = Wire()
    resp = OneWriteResponse(Req(method), wire, Config())
    resp.start_response("200 OK", [("Content-Length", str(len(body)))])
    resp.write(body)
    resp.close()
    return wire.writes


def test_a_small_answer_leaves_in_one_write_a_large_one_as_before() -> None:
    small = respond("GET", b"#!ipxe\n" * 100)
    assert len(small) == 1 and small[0].endswith(b"\r\n\r\n" + b"#!ipxe\n" * 100)
    big = respond("GET", b"x" * (1 << 20))
    assert len(big) == 2 and big[0].endswith(b"\r\n\r\n") and big[1] == b"x" * (1 << 20)
    head = respond("HEAD", b"#!ipxe\n")
    assert len(head) == 1 and head[0].endswith(b"\r\n\r\n") and b"#!ipxe" not in head[0]
