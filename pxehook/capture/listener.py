"""Passive DHCP listener: records who boots on a network whose DHCP is someone else's.

A raw ``AF_PACKET`` socket bound to one interface with a classic BPF filter (``ip and udp
and (dst port 67 or dst port 68)``, fragments dropped in the kernel) sees every
DHCPDISCOVER/REQUEST/INFORM broadcast, and the DHCPACKs it can see (broadcast ones, or all
on the server's host or a mirror port) for the leased IP, without taking port 67 from a
DHCP server on the same host. Chosen over a UDP socket sharing port 67 because it needs
no SO_REUSEPORT cooperation from the DHCP server and sees relayed and unicast requests. It never
sends: the socket is only read.

One thread reads and decodes (one bad packet is logged and skipped), another writes to
the store, so a locked store never stalls the socket. Identical sightings of a MAC within
``refresh`` seconds are not written again.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import queue
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import replace

from pxehook import arch as archtable
from pxehook.capture import packet as dp
from pxehook.capture.apply import apply_sighting
from pxehook.capture.sightings import LEASE, SEEN, DhcpSighting, text
from pxehook.errors import PxehookError, StoreError
from pxehook.store import Store

log = logging.getLogger("pxehook.capture.listener")

ETH_P_IP = 0x0800
SO_ATTACH_FILTER = 26
# tcpdump -dd 'ip and udp and (dst port 67 or dst port 68)' (Ethernet); jset drops fragments.
BPF_DHCP = (
    (0x28, 0, 0, 0x0000000C),  # ldh [12]          ethertype
    (0x15, 0, 9, 0x00000800),  # jeq #0x800        IPv4
    (0x30, 0, 0, 0x00000017),  # ldb [23]          protocol
    (0x15, 0, 7, 0x00000011),  # jeq #17           UDP
    (0x28, 0, 0, 0x00000014),  # ldh [20]          flags/fragment offset
    (0x45, 5, 0, 0x00001FFF),  # jset #0x1fff      fragment -> drop
    (0xB1, 0, 0, 0x0000000E),  # ldxb 4*([14]&0xf) IP header length
    (0x48, 0, 0, 0x00000010),  # ldh [x + 16]      UDP destination port
    (0x15, 1, 0, 0x00000043),  # jeq #67           to a server
    (0x15, 0, 1, 0x00000044),  # jeq #68           to a client
    (0x06, 0, 0, 0x00040000),  # ret #262144       accept
    (0x06, 0, 0, 0x00000000),  # ret #0            drop
)
CLIENT_TYPES = {dp.DISCOVER: "discover", dp.REQUEST: "request", dp.INFORM: "inform"}


def open_socket(interface: str) -> socket.socket:
    """A raw socket on ``interface`` that only ever receives client DHCP packets."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # no traffic until bind
    except PermissionError:
        raise PxehookError("the listener needs root or CAP_NET_RAW") from None
    prog = b"".join(struct.pack("HBBI", *ins) for ins in BPF_DHCP)
    buf = ctypes.create_string_buffer(prog)
    fprog = struct.pack("HL", len(BPF_DHCP), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)  # the kernel copies it
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    try:
        sock.bind((interface, ETH_P_IP))  # Python applies htons() to the tuple's protocol
    except OSError as exc:
        sock.close()
        raise PxehookError(f"cannot listen on interface {interface!r}: {exc.strerror}") from None
    return sock


def decode_frame(frame: bytes) -> dp.DhcpPacket:
    """Ethernet + IPv4 + UDP + DHCP -> packet. Raises ValueError when malformed."""
    if len(frame) < 14 + 20 + 8:
        raise ValueError(f"frame too short ({len(frame)} bytes)")
    ihl = (frame[14] & 0x0F) * 4
    if ihl < 20:
        raise ValueError("bad IP header length")
    return dp.decode(frame[14 + ihl + 8 :])


def sighting_from(pkt: dp.DhcpPacket, at: float) -> DhcpSighting | None:
    """The facts a client request (or an ACK's leased IP) carries; None for the rest."""
    mtype = pkt.message_type
    if pkt.htype != 1 or pkt.hlen != 6:
        return None
    if pkt.op == 2 and mtype == dp.ACK and pkt.yiaddr != dp.ZERO:
        rid = f"{at:.6f}-{pkt.xid:08x}-ack"
        return DhcpSighting("listener", "ack", SEEN, at, rid, mac=pkt.mac, ip=pkt.yiaddr)
    if pkt.op != 1 or mtype not in CLIENT_TYPES:
        return None
    arch = None
    raw93 = pkt.options.get(dp.OPT_CLIENT_ARCH)
    if raw93:
        with contextlib.suppress(ValueError):
            arch = archtable.parse_option93(raw93)[0]
    users = archtable.parse_user_class(pkt.options.get(dp.OPT_USER_CLASS))
    vendor = text(pkt.options.get(dp.OPT_VENDOR_CLASS, b""))
    if arch is None and vendor:
        parsed = archtable.parse_vendor_class(vendor)
        arch = parsed.arch_code if parsed else None
    return DhcpSighting(
        "listener",
        CLIENT_TYPES[mtype],
        LEASE,
        at,
        f"{at:.6f}-{pkt.xid:08x}",
        mac=pkt.mac,
        hostname=text(pkt.options.get(dp.OPT_HOSTNAME, b"")),
        arch=arch,
        vendor_class=vendor,
        user_class=",".join(text(u) for u in users),
        uuid=pkt.uuid,
        data={"xid": f"{pkt.xid:08x}"},
    )


class Listener:
    """Reader + writer threads around one raw socket."""

    name = "dhcp-listener"

    def __init__(self, store: Store, interface: str, *, refresh: float = 30.0) -> None:
        self.store, self.interface, self.refresh = store, interface, refresh
        self.stats: Counter[str] = Counter()
        self._queue: queue.Queue[DhcpSighting | None] = queue.Queue(maxsize=10000)
        self._stop = threading.Event()
        self._seen: dict[str, tuple[tuple[object, ...], float]] = {}
        self._threads: list[threading.Thread] = []
        self.sock: socket.socket | None = None

    def start(self) -> None:
        self.sock = open_socket(self.interface)
        self.sock.settimeout(0.2)
        for target in (self._read, self._write):
            thread = threading.Thread(target=target, name=f"{self.name}-{target.__name__}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self.sock is not None:
            self.sock.close()

    def _read(self) -> None:
        assert self.sock is not None
        while not self._stop.is_set():
            try:
                frame = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError as exc:
                log.error("listener socket: %s", exc)
                return
            self.stats["packets"] += 1
            try:
                sighting = sighting_from(decode_frame(frame), time.time())
            except ValueError as exc:
                self.stats["bad"] += 1
                log.warning("bad DHCP packet skipped: %s", exc)
                continue
            if sighting is None:
                self.stats["ignored"] += 1
                continue
            try:
                self._queue.put_nowait(sighting)
            except queue.Full:
                self.stats["dropped"] += 1

    def _write(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                sighting = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if sighting is not None:
                self._record(sighting)

    def _record(self, sighting: DhcpSighting) -> None:
        facts = (
            (sighting.ip,)
            if sighting.kind == SEEN
            else (sighting.hostname, sighting.arch, sighting.vendor_class)
        )
        facts += (sighting.user_class, sighting.uuid)
        key = f"{sighting.mac}/{sighting.kind}"
        previous = self._seen.get(key)
        if previous and previous[0] == facts and sighting.at - previous[1] < self.refresh:
            self.stats["repeats"] += 1
            return
        changed = previous is None or previous[0] != facts
        for attempt in range(50):
            try:
                apply_sighting(self.store, sighting if changed else replace(sighting, kind=SEEN))
                break
            except StoreError as exc:
                if attempt == 49 or self._stop.is_set():
                    self.stats["lost"] += 1
                    log.error("store unavailable, sighting of %s lost: %s", sighting.mac, exc)
                    return
                time.sleep(0.2)
        self._seen[key] = (facts, sighting.at)
        self.stats["recorded"] += 1
