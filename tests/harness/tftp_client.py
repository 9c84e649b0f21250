"""A raw TFTP client for tests: byte-level control a packaged client does not give.

It talks only to loopback (127.0.0.0/8) or the test networks' addresses (10.231.0.0/16,
which exist only inside the namespaces tests create); ``check_target`` refuses anything
else before a packet leaves.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from dataclasses import dataclass, field

ALLOWED = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.231.0.0/16"))
RRQ, DATA, ACK, ERROR, OACK = 1, 3, 4, 5, 6


def check_target(ip: str) -> str:
    """``ip`` when tests may send to it; ValueError otherwise."""
    if not any(ipaddress.ip_address(ip) in net for net in ALLOWED):
        raise ValueError(f"refusing to send to {ip}: only loopback and test namespaces")
    return ip


class TftpError(Exception):
    """The server answered with an ERROR packet."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"TFTP error {code}: {message}")
        self.code, self.message = code, message


def rrq(name: str, options: dict[str, str] | None = None) -> bytes:
    body = name.encode() + b"\0octet\0"
    for key, value in (options or {}).items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    return struct.pack("!H", RRQ) + body


def ack(block: int) -> bytes:
    return struct.pack("!HH", ACK, block & 0xFFFF)


def decode_error(packet: bytes) -> TftpError:
    code = struct.unpack("!H", packet[2:4])[0]
    return TftpError(code, packet[4:].split(b"\0")[0].decode("ascii", "replace"))


@dataclass
class Session:
    """One client socket talking to one server: the test drives every packet."""

    server: str
    port: int
    source: str = "127.0.0.1"
    timeout: float = 3.0
    sock: socket.socket = field(init=False)
    peer: tuple[str, int] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        check_target(self.server)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.source, 0))
        self.sock.settimeout(self.timeout)

    def request(self, name: str, options: dict[str, str] | None = None) -> None:
        self.sock.sendto(rrq(name, options), (self.server, self.port))

    def receive(self) -> bytes:
        """The next packet (from the transfer's port once known)."""
        packet, peer = self.sock.recvfrom(70000)
        if self.peer is None:
            self.peer = peer
        return packet

    def ack(self, block: int) -> None:
        assert self.peer is not None
        self.sock.sendto(ack(block), self.peer)

    def packets_within(self, seconds: float) -> list[bytes]:
        """Every packet that arrives within ``seconds`` (nothing is acknowledged)."""
        got: list[bytes] = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                got.append(self.receive())
            except TimeoutError:
                break
        return got

    def close(self) -> None:
        self.sock.close()


def fetch(
    server: str,
    port: int,
    name: str,
    *,
    source: str = "127.0.0.1",
    options: dict[str, str] | None = None,
    timeout: float = 1.0,
    tries: int = 10,
) -> bytes:
    """Download ``name`` as a real client does: the request resent on time-out, each block
    acknowledged (also a repeated one), OACK handled. TftpError on an ERROR packet,
    TimeoutError when the server never answers."""
    check_target(server)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        request, peer = rrq(name, options), None
        blksize, expected, body = 512, 1, bytearray()
        misses = 0
        sock.sendto(request, (server, port))
        while True:
            try:
                packet, sender = sock.recvfrom(70000)
            except TimeoutError:
                misses += 1
                if misses >= tries:
                    raise
                if peer is None:
                    sock.sendto(request, (server, port))
                else:
                    sock.sendto(ack(expected - 1), peer)
                continue
            if peer is not None and sender != peer:
                continue  # a stray packet from another port
            peer, misses = sender, 0
            op = struct.unpack("!H", packet[:2])[0]
            if op == ERROR:
                raise decode_error(packet)
            if op == OACK:
                fields = packet[2:].split(b"\0")
                agreed = dict(zip(fields[0::2], fields[1::2], strict=False))
                blksize = int(agreed.get(b"blksize", b"512"))
                sock.sendto(ack(0), peer)
                continue
            block = struct.unpack("!H", packet[2:4])[0]
            if op == DATA and block == expected & 0xFFFF:
                body += packet[4:]
                sock.sendto(ack(block), peer)
                if len(packet) - 4 < blksize:
                    return bytes(body)
                expected += 1
            elif op == DATA:
                sock.sendto(ack(block), peer)  # a repeat: acknowledge again
