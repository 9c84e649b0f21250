"""TFTP packets and option negotiation (RFC 1350, 2347, 2348, 2349): pure functions.

What the server accepts from a client is bounded here, once: ``blksize`` 8–65464,
``timeout`` 1–``MAX_TIMEOUT`` seconds (a longer one is declined, so a client cannot make
the server hold a transfer for minutes), ``tsize`` answered with the size. Options not
listed (``windowsize``, RFC 7440) are ignored: one block is in flight at a time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pxehook.errors import InvalidInput

RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6
EUNDEF, ENOTFOUND, EACCESS, EBADOP, EOPTNEG = 0, 1, 2, 4, 8
DEFAULT_BLKSIZE = 512
MAX_BLKSIZE = 65464
#: seconds a block waits for its ACK when the client asks for nothing else
DEFAULT_TIMEOUT = 1.0
#: the longest ``timeout`` option accepted (RFC 2349 allows 255: a client could then pin a
#: transfer for 255 s × retries)
MAX_TIMEOUT = 5
#: how often a block is sent in all before the transfer is given up
RETRIES = 5
HEADER = struct.Struct("!HH")


@dataclass(frozen=True)
class Request:
    """A parsed RRQ."""

    filename: str
    mode: str
    options: dict[str, str]


@dataclass(frozen=True)
class Terms:
    """What was agreed for one transfer: the OACK's options, block size and time-out."""

    accepted: dict[str, str]
    blksize: int = DEFAULT_BLKSIZE
    timeout: float = DEFAULT_TIMEOUT


def opcode(packet: bytes) -> int:
    """The packet's opcode (0 for a packet too short to have one)."""
    return HEADER.unpack(packet[:4])[0] if len(packet) >= 4 else 0


def parse_request(packet: bytes) -> Request:
    """Decode an RRQ/WRQ (opcode included); InvalidInput when malformed."""
    fields = packet[2:].split(b"\0")
    if len(fields) < 3 or fields[-1] != b"":
        raise InvalidInput("malformed request")
    try:
        words = [f.decode("ascii") for f in fields[:-1]]
    except UnicodeDecodeError:
        raise InvalidInput("request is not ASCII") from None
    filename, mode = words[0], words[1].lower()
    options = {}
    for i in range(2, len(words) - 1, 2):
        options[words[i].lower()] = words[i + 1]
    return Request(filename, mode, options)


def parse_ack(packet: bytes) -> tuple[int, int] | None:
    """(opcode, number) of an ACK or ERROR packet; None for anything else."""
    if len(packet) < 4:
        return None
    op, number = HEADER.unpack(packet[:4])
    return (op, number) if op in (ACK, ERROR) else None


def error_packet(code: int, message: str) -> bytes:
    return HEADER.pack(ERROR, code) + message.encode("ascii", "replace")[:200] + b"\0"


def data_packet(block: int, chunk: bytes) -> bytes:
    return HEADER.pack(DATA, block & 0xFFFF) + chunk


def oack_packet(accepted: dict[str, str]) -> bytes:
    body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in accepted.items())
    return struct.pack("!H", OACK) + body


def _number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def negotiate(options: dict[str, str], size: int) -> Terms:
    """The terms for a client's options (RFC 2347-2349); options out of range are declined
    (left out of the OACK), never rewritten."""
    accepted: dict[str, str] = {}
    blksize, timeout = DEFAULT_BLKSIZE, DEFAULT_TIMEOUT
    if "blksize" in options:
        wanted = _number(options["blksize"])
        if wanted >= 8:
            blksize = min(wanted, MAX_BLKSIZE)
            accepted["blksize"] = str(blksize)
    if "timeout" in options:
        seconds = _number(options["timeout"])
        if 1 <= seconds <= MAX_TIMEOUT:
            timeout = float(seconds)
            accepted["timeout"] = str(seconds)
    if "tsize" in options:
        accepted["tsize"] = str(size)
    return Terms(accepted, blksize, timeout)
