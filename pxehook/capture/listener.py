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

Anyone on the segment can send a DHCPACK, so an ACK teaches a client's IP only when
``AckTrust`` believes it: option 54 and the packet's source address are both among the
site's ``dhcp_trusted_servers``, and it answers a REQUEST the listener saw from that client
(same MAC and xid, same server, the address it asked for). Other ACKs are counted
(``untrusted_acks``), logged (at most every ``WARN_EVERY`` seconds) and dropped. Nothing
a client sends is an IP.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import logging
import queue
import socket
import struct
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import replace

from pxehook import arch as archtable
from pxehook.capture import packet as dp
from pxehook.capture.apply import LISTENER, apply_sighting
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
WARN_EVERY = 10.0  # seconds between two log lines about untrusted ACKs


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


def frame_source(frame: bytes) -> str:
    """The IPv4 source address of an Ethernet frame ``decode_frame`` accepted."""
    return str(ipaddress.IPv4Address(frame[26:30]))


def _address(raw: bytes | None) -> str:
    return str(ipaddress.IPv4Address(raw)) if raw is not None and len(raw) == 4 else ""


def is_lease_ack(pkt: dp.DhcpPacket) -> bool:
    """A DHCPACK that leases an address to an Ethernet client."""
    ethernet = pkt.htype == 1 and pkt.hlen == 6
    return ethernet and pkt.op == 2 and pkt.message_type == dp.ACK and pkt.yiaddr != dp.ZERO


class AckTrust:
    """Which DHCPACKs may teach a client's IP (see the module's docstring).

    Remembers the last REQUEST of up to ``limit`` clients for ``window`` seconds."""

    def __init__(self, trusted: Sequence[str], *, window: float = 30.0, limit: int = 4096) -> None:
        self.networks = [ipaddress.ip_network(item, strict=False) for item in trusted]
        self.window, self.limit = window, limit
        self._requests: OrderedDict[tuple[str, int], tuple[str, str, float]] = OrderedDict()

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def request(self, pkt: dp.DhcpPacket, at: float) -> None:
        """Remember a client's REQUEST: the address it asks for and the server it names."""
        requested = _address(pkt.options.get(dp.OPT_REQUESTED_IP))
        if not requested and pkt.ciaddr != dp.ZERO:
            requested = pkt.ciaddr
        key = (pkt.mac, pkt.xid)
        self._requests[key] = (requested, _address(pkt.options.get(dp.OPT_SERVER_ID)), at)
        self._requests.move_to_end(key)
        while len(self._requests) > self.limit:
            self._requests.popitem(last=False)

    def verdict(self, pkt: dp.DhcpPacket, source: str, at: float) -> str:
        """'' when the ACK ``pkt`` (sent from ``source``) may be believed, else why not."""
        server = _address(pkt.options.get(dp.OPT_SERVER_ID))
        if not self.networks:
            return "no DHCP server is trusted (dhcp_trusted_servers is empty)"
        if not self.trusted(server):
            return f"server identifier {server or '(none)'} is not a trusted DHCP server"
        if not self.trusted(source):
            return f"sent from {source}, not from a trusted DHCP server"
        seen = self._requests.get((pkt.mac, pkt.xid))
        if seen is None or not 0 <= at - seen[2] <= self.window:
            return "it answers no DHCPREQUEST seen from that client"
        requested, asked, _ = seen
        if asked and asked != server:
            return f"the client's REQUEST named server {asked}"
        if requested and requested != pkt.yiaddr:
            return f"the client asked for {requested}"
        return ""


def ack_sighting(pkt: dp.DhcpPacket, at: float) -> DhcpSighting:
    """The lease in a DHCPACK that ``AckTrust`` believed (never call it for another)."""
    rid = f"{at:.6f}-{pkt.xid:08x}-ack"
    server = _address(pkt.options.get(dp.OPT_SERVER_ID))
    data = {"server": server}
    return DhcpSighting(LISTENER, "ack", SEEN, at, rid, mac=pkt.mac, ip=pkt.yiaddr, data=data)


def sighting_from(pkt: dp.DhcpPacket, at: float) -> DhcpSighting | None:
    """The facts a client's DISCOVER/REQUEST/INFORM carries (never an IP); None for the
    rest, server replies included (``AckTrust`` and ``ack_sighting`` judge DHCPACKs)."""
    mtype = pkt.message_type
    if pkt.htype != 1 or pkt.hlen != 6:
        return None
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
        LISTENER,
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

    def __init__(
        self,
        store: Store,
        interface: str,
        *,
        refresh: float = 30.0,
        trusted_servers: Sequence[str] = (),
    ) -> None:
        self.store, self.interface, self.refresh = store, interface, refresh
        self.trust = AckTrust(trusted_servers)
        self._warned = 0.0
        self.stats: Counter[str] = Counter()
        self._queue: queue.Queue[DhcpSighting | None] = queue.Queue(maxsize=10000)
        self._stop = threading.Event()
        self._seen: dict[str, tuple[tuple[object, ...], float]] = {}
        self._threads: list[threading.Thread] = []
        self.sock: socket.socket | None = None

    def start(self) -> None:
        if not self.trust.networks:
            log.info("dhcp_trusted_servers is empty: the listener learns no client IPs")
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
                sighting = self._sighting(frame, time.time())
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

    def _sighting(self, frame: bytes, at: float) -> DhcpSighting | None:
        """What one frame teaches; DHCPACKs only when ``self.trust`` believes them."""
        pkt = decode_frame(frame)
        if pkt.op == 1 and pkt.message_type == dp.REQUEST:
            self.trust.request(pkt, at)
        if not is_lease_ack(pkt):
            return sighting_from(pkt, at)
        why = self.trust.verdict(pkt, frame_source(frame), at)
        if not why:
            return ack_sighting(pkt, at)
        self.stats["untrusted_acks"] += 1
        if at - self._warned >= WARN_EVERY:
            self._warned = at
            log.warning(
                "DHCPACK giving %s to %s ignored: %s (%d ignored so far)",
                pkt.yiaddr, pkt.mac, why, self.stats["untrusted_acks"],
            )  # fmt: skip
        return None

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
