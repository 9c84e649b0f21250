"""One transfer: its socket (its own TID port), what it sends, and the lock-step data phase.

The server's dispatcher sends the first packet and waits for its acknowledgement; only a
client that acknowledged gets a worker thread, which runs ``send_rest``: one block in
flight, resent at most ``RETRIES`` times, each wait bounded by the agreed time-out however
many stray packets arrive (a stray packet never extends it).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from pxehook.tftp.packets import (
    ACK,
    DEFAULT_BLKSIZE,
    ERROR,
    HEADER,
    RETRIES,
    Request,
    Terms,
    data_packet,
    oack_packet,
    parse_ack,
)
from pxehook.tftp.source import Source

Peer = tuple[str, int]
_ENDING = threading.Lock()  # one for all: ending is rare next to sending


class Transfer:
    """The state of one read request, from admission to its end."""

    def __init__(self, peer: Peer, request: Request, path: str, *, dynamic: bool) -> None:
        self.peer = peer
        self.request = request
        self.path = path
        self.dynamic = dynamic  # a config name answered by the resolver, not a file
        self.sock: socket.socket | None = None
        self.source: Source | None = None
        self.terms = Terms({})
        self.first = b""  # the first packet: OACK or DATA 1
        self.first_block = 0
        self.sent_at = 0.0
        self.deadline = 0.0
        self.waiting = False  # first packet out, acknowledgement awaited (dispatcher only)
        self.ended = False
        self.requested_at = time.monotonic()
        self.answered_at = 0.0  # when the first packet (data, OACK or error) went out
        self.outcome = "partial"  # "complete", or "error:<code>" (the access log's word)

    @property
    def client_ip(self) -> str:
        return self.peer[0]

    def prepare(self, source: Source, terms: Terms) -> None:
        """Fix what is sent: an OACK when options were accepted, else DATA 1 of at most
        512 bytes (a large block only ever follows an acknowledged OACK)."""
        self.source, self.terms = source, terms
        if terms.accepted:
            self.first, self.first_block = oack_packet(terms.accepted), 0
        else:
            self.first, self.first_block = data_packet(1, source.read(0, DEFAULT_BLKSIZE)), 1

    def send(self, packet: bytes) -> None:
        assert self.sock is not None
        self.sock.send(packet)

    def end(self) -> bool:
        """Close the socket and the source, once (True that time); wakes a worker blocked
        on the socket."""
        with _ENDING:
            if self.ended:
                return False
            self.ended = True
            sock, source = self.sock, self.source
        if sock is not None:
            with contextlib.suppress(OSError):  # wakes a recv in another thread
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if source is not None:
            source.close()
        return True


def send_rest(transfer: Transfer) -> bool:
    """Send the blocks after the acknowledged first packet; True when the last block was
    acknowledged. Raises SourceChanged when the file changed on the way."""
    source, terms = transfer.source, transfer.terms
    assert source is not None
    if transfer.first_block == 1:
        if source.size < DEFAULT_BLKSIZE:
            return True  # DATA 1 was the whole file
        block, offset = 2, DEFAULT_BLKSIZE
    else:
        block, offset = 1, 0
    blksize = terms.blksize
    while True:
        chunk = source.read(offset, blksize)
        if not exchange(transfer, data_packet(block, chunk), block & 0xFFFF):
            return False
        if len(chunk) < blksize:
            return True
        offset += blksize
        block += 1


def exchange(transfer: Transfer, packet: bytes, block: int) -> bool:
    """Send ``packet`` until ACK ``block`` arrives; False on an ERROR, a refused port, an
    ended transfer or ``RETRIES`` time-outs. Duplicate ACKs of earlier blocks are ignored
    (no Sorcerer's Apprentice)."""
    sock = transfer.sock
    assert sock is not None
    timeout = transfer.terms.timeout
    for _ in range(RETRIES):
        try:
            sock.send(packet)
        except OSError:
            return False
        deadline = time.monotonic() + timeout
        remaining = timeout
        while remaining > 0:
            sock.settimeout(remaining)
            try:
                reply = sock.recv(516)
            except TimeoutError:
                break
            except OSError:  # port unreachable, or the socket was shut down
                return False
            if transfer.ended:
                return False
            if reply[:4] == HEADER.pack(ACK, block):
                return True
            got = parse_ack(reply)
            if got is not None and got[0] == ERROR:
                return False
            remaining = deadline - time.monotonic()  # a stray packet: wait out the rest
    return False
