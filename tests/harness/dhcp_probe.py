"""Scripted DHCP client for tests: DISCOVER (→ OFFER), optional REQUEST (→ ACK), optional
PXE boot-server request to port 4011 (proxy-DHCP), shaped like PXE firmware or iPXE.

Runs *inside* a network namespace the tests created (``ip netns exec NS python -m …``) and
refuses to run in the root namespace, so it can never put a packet on a real network.

    python dhcp_probe.py --iface IF --arch 7 [--user-class iPXE] [--vendor-class S]
        [--mac M] [--request] [--unicast] [--pxe-server IP] [--timeout S] [--hostname H]

Prints one JSON document: {"mac":…, "replies": [{"type": "DHCPOFFER", …}, …]}.

Batch mode runs many clients at once in one process (all DISCOVERs, then all REQUESTs, then
the port-4011 steps, replies matched by xid):

    python dhcp_probe.py --iface IF --batch CASES.json|- [--timeout S]

CASES is a JSON list of objects with the single-mode option names (``arch``, ``user_class``,
``ipxe_175``, ``vendor_class``, ``request``, ``pxe_server``, ``mac``, ``hostname``…) plus
``offers`` (how many OFFERs to wait for, default 1). Prints {"results": [{"case": …,
"mac": …, "replies": […]}, …]} in case order.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from pxehook.capture import packet as dp

ETH_P_IP = 0x0800
PXE_PRL = bytes(
    [
        1,
        2,
        3,
        4,
        5,
        6,
        12,
        13,
        15,
        17,
        18,
        22,
        23,
        28,
        40,
        41,
        42,
        43,
        50,
        51,
        54,
        58,
        59,
        60,
        66,
        67,
        97,
        128,
        129,
        130,
        131,
        132,
        133,
        134,
        135,
        175,
    ]
)


def in_own_netns() -> bool:
    """True when this process runs in a named namespace (``ip netns add``), not the host's."""
    own = os.stat("/proc/self/ns/net")
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return False
    for name in names:
        st = os.stat(os.path.join("/run/netns", name))
        if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
            return True
    return False


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip_udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        random.randint(0, 0xFFFF),
        0,
        64,
        17,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )
    hdr = hdr[:10] + struct.pack("!H", _checksum(hdr)) + hdr[12:]
    return hdr + udp


def build(
    args: argparse.Namespace,
    mac: bytes,
    xid: int,
    mtype: int,
    extra: dict[int, bytes] | None = None,
) -> dp.DhcpPacket:
    opts: dict[int, bytes] = {dp.OPT_MESSAGE_TYPE: bytes([mtype])}
    opts[dp.OPT_PARAM_REQUEST] = PXE_PRL
    if args.arch is not None:
        opts[dp.OPT_CLIENT_ARCH] = struct.pack("!H", args.arch)
        opts[dp.OPT_CLIENT_NDI] = b"\x01\x03\x10"
    vendor = args.vendor_class
    if vendor is None and args.arch is not None:
        vendor = f"PXEClient:Arch:{args.arch:05d}:UNDI:003016"
    if vendor:
        opts[dp.OPT_VENDOR_CLASS] = vendor.encode("latin-1", "surrogateescape")
    if args.user_class:
        opts[dp.OPT_USER_CLASS] = args.user_class.encode()
    if args.ipxe_175:
        opts[dp.OPT_IPXE] = b"\x13\x01\x01\x24\x01\x01"  # HTTP, EFI feature markers
    if args.uuid:
        opts[dp.OPT_CLIENT_UUID] = b"\x00" + bytes.fromhex(args.uuid.replace("-", ""))
    if args.hostname is not None:
        opts[dp.OPT_HOSTNAME] = args.hostname.encode("utf-8", "surrogateescape")
    if args.client_id:
        opts[dp.OPT_CLIENT_ID] = bytes.fromhex(args.client_id.replace(":", ""))
    opts.update(extra or {})
    flags = 0 if getattr(args, "unicast", False) else 0x8000  # broadcast replies, or not
    return dp.DhcpPacket(op=1, xid=xid, flags=flags, chaddr=mac, options=opts)


def describe(pkt: dp.DhcpPacket, src: str, ms: float) -> dict:
    text = {}
    for code, raw in pkt.options.items():
        try:
            text[str(code)] = raw.rstrip(b"\x00").decode("ascii") if raw.isascii() else raw.hex()
        except UnicodeDecodeError:
            text[str(code)] = raw.hex()
    return {
        "type": pkt.message_name,
        "src": src,
        "xid": pkt.xid,
        "yiaddr": pkt.yiaddr,
        "siaddr": pkt.siaddr,
        "giaddr": pkt.giaddr,
        "file": pkt.file.decode("latin-1"),
        "sname": pkt.sname.decode("latin-1"),
        "boot_file": pkt.boot_file,
        "server_id": pkt.option_text(dp.OPT_SERVER_ID)
        and socket.inet_ntoa(pkt.options[dp.OPT_SERVER_ID][:4]),
        "option60": pkt.option_text(dp.OPT_VENDOR_CLASS),
        "option66": pkt.option_text(dp.OPT_TFTP_SERVER),
        "option67": pkt.option_text(dp.OPT_BOOTFILE),
        "option67_raw": pkt.options[dp.OPT_BOOTFILE].hex()
        if dp.OPT_BOOTFILE in pkt.options
        else None,
        "has_option43": 43 in pkt.options,
        "options": text,
        "ms": round(ms, 2),
    }


def collect(
    sock: socket.socket, xid: int, until: float, want: set[int], max_replies: int
) -> list[dict]:
    out: list[dict] = []
    start = time.monotonic()
    while time.monotonic() < until and len(out) < max_replies:
        ready, _, _ = select.select([sock], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            break
        data, _addr = sock.recvfrom(65535)
        if len(data) < 28 or data[9] != 17:
            continue
        ihl = (data[0] & 0x0F) * 4
        sport, dport = struct.unpack("!HH", data[ihl : ihl + 4])
        if dport != 68 or sport not in (67, 4011):
            continue
        try:
            pkt = dp.decode(data[ihl + 8 :])
        except ValueError:
            continue
        if pkt.op != 2 or pkt.xid != xid or (pkt.message_type or 0) not in want:
            continue
        reply = describe(pkt, socket.inet_ntoa(data[12:16]), (time.monotonic() - start) * 1000)
        reply["sport"] = sport
        out.append(reply)
    return out


CASE_DEFAULTS = {
    "arch": None,
    "vendor_class": None,
    "user_class": None,
    "ipxe_175": False,
    "uuid": None,
    "hostname": None,
    "client_id": None,
    "mac": None,
    "request": False,
    "pxe_server": None,
    "offers": 1,
}


class _Client:
    """One batch case: its own MAC and xids, and the replies seen so far."""

    def __init__(self, index: int, case: dict) -> None:
        unknown = set(case) - set(CASE_DEFAULTS)
        if unknown:
            raise ValueError(f"case {index}: unknown keys {sorted(unknown)}")
        self.case = case
        self.args = argparse.Namespace(**{**CASE_DEFAULTS, **case})
        default_mac = f"02:78:{(index >> 8) & 0xFF:02x}:{index & 0xFF:02x}:" + ":".join(
            f"{random.randint(0, 255):02x}" for _ in range(2)
        )
        self.mac = bytes.fromhex((self.args.mac or default_mac).replace(":", "").replace("-", ""))
        self.xid = random.randint(1, 0xFFFFFFFF)
        self.replies: list[dict] = []

    def count(self, stage: str) -> int:
        return sum(1 for r in self.replies if r["stage"] == stage)

    def leased(self) -> dict | None:
        return next(
            (r for r in self.replies if r["stage"] == "offer" and r["yiaddr"] != dp.ZERO), None
        )


def _collect_raw(sock, by_xid, until, want: set[int], stage: str, done) -> None:  # type: ignore[no-untyped-def]
    while time.monotonic() < until and not all(done(c) for c in by_xid.values()):
        ready, _, _ = select.select([sock], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            break
        data, _addr = sock.recvfrom(65535)
        if len(data) < 28 or data[9] != 17:
            continue
        ihl = (data[0] & 0x0F) * 4
        sport, dport = struct.unpack("!HH", data[ihl : ihl + 4])
        if dport != 68 or sport not in (67, 4011):
            continue
        try:
            pkt = dp.decode(data[ihl + 8 :])
        except ValueError:
            continue
        client = by_xid.get(pkt.xid)
        if pkt.op != 2 or client is None or (pkt.message_type or 0) not in want:
            continue
        reply = describe(pkt, socket.inet_ntoa(data[12:16]), 0.0)
        reply.update(sport=sport, stage=stage)
        client.replies.append(reply)


def _iface_ip(iface: str) -> str:
    import fcntl

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packed = struct.pack("256s", iface.encode()[:15])
        return socket.inet_ntoa(fcntl.ioctl(sock.fileno(), 0x8915, packed)[20:24])
    finally:
        sock.close()


def _menu_item(reply: dict, raw43: bytes | None) -> int | None:
    """First boot item of a PXE menu (option 43 sub-option 9), for the second 4011 step."""
    if reply.get("boot_file") or not raw43:
        return None
    i = 0
    while i + 1 < len(raw43):
        code, length = raw43[i], raw43[i + 1]
        if code == 9 and length >= 2:
            return int.from_bytes(raw43[i + 2 : i + 4], "big")
        i += 2 + length
    return None


def _pxe_round(own, iface_ip: str, clients: list[_Client], items: dict, timeout: float) -> dict:
    """One port-4011 request per client (with a menu item when given); returns raw 43s."""
    by_xid = {}
    for c in clients:
        xid = random.randint(1, 0xFFFFFFFF)
        extra = {}
        if items.get(id(c)) is not None:
            extra[43] = bytes([71, 4]) + struct.pack("!HH", items[id(c)], 0) + b"\xff"
        pkt = build(c.args, c.mac, xid, dp.REQUEST, extra)
        pkt.ciaddr, pkt.flags = iface_ip, 0
        own.sendto(pkt.encode(), (c.args.pxe_server, 4011))
        by_xid[xid] = c
    raw43: dict = {}
    until = time.monotonic() + timeout
    while by_xid and time.monotonic() < until:
        ready, _, _ = select.select([own], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            break
        data, addr = own.recvfrom(65535)
        try:
            rep = dp.decode(data)
        except ValueError:
            continue
        c = by_xid.pop(rep.xid, None)
        if c is None:
            continue
        d = describe(rep, addr[0], 0.0)
        d.update(sport=addr[1], stage="pxe")
        c.replies.append(d)
        raw43[id(c)] = (d, rep.options.get(43))
    return raw43


def run_batch(iface: str, cases: list[dict], timeout: float) -> list[dict]:
    """Run every case concurrently; see the module docstring."""
    clients = [_Client(i, case) for i, case in enumerate(cases)]
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    # Replies pile up (with our own outgoing copies) while the burst is sent: room for them.
    raw.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (root)
    raw.bind((iface, ETH_P_IP))
    bcast = (iface, ETH_P_IP, 0, 0, b"\xff" * 6)

    def send(pkt: dp.DhcpPacket) -> None:
        raw.sendto(ip_udp("0.0.0.0", "255.255.255.255", 68, 67, pkt.encode()), bcast)

    by_xid = {c.xid: c for c in clients}
    for c in clients:
        send(build(c.args, c.mac, c.xid, dp.DISCOVER))
        time.sleep(0.001)  # pace the burst: a daemon's socket buffer holds ~100 packets
    until = time.monotonic() + timeout
    _collect_raw(
        raw, by_xid, until, {dp.OFFER}, "offer", lambda c: c.count("offer") >= c.args.offers
    )
    # REQUESTs one client at a time, each after a fresh DISCOVER: a server that does not
    # reserve offered addresses (dnsmasq) would otherwise NAK all but one of them.
    for c in (c for c in clients if c.args.request and c.leased()):
        xid = random.randint(1, 0xFFFFFFFF)
        send(build(c.args, c.mac, xid, dp.DISCOVER))
        fresh = _Client(0, {})
        fresh.mac = c.mac
        _collect_raw(
            raw,
            {xid: fresh},
            time.monotonic() + timeout,
            {dp.OFFER},
            "offer",
            lambda f: f.leased() is not None,
        )
        offer = fresh.leased()
        if offer is None:
            continue
        extra = {
            dp.OPT_REQUESTED_IP: socket.inet_aton(offer["yiaddr"]),
            dp.OPT_SERVER_ID: socket.inet_aton(offer["server_id"]),
        }
        send(build(c.args, c.mac, xid, dp.REQUEST, extra))
        _collect_raw(
            raw,
            {xid: c},
            time.monotonic() + timeout,
            {dp.ACK, dp.NAK},
            "ack",
            lambda c: c.count("ack") >= 1,
        )
    pxe = [c for c in clients if c.args.pxe_server]
    if pxe:
        own = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
        own.bind(("0.0.0.0", 68))
        ip = _iface_ip(iface)
        first = _pxe_round(own, ip, pxe, {}, timeout)
        items = {k: _menu_item(d, r43) for k, (d, r43) in first.items()}
        again = [c for c in pxe if items.get(id(c)) is not None]
        for c in again:
            c.replies[-1]["stage"] = "pxe-menu"
        if again:
            _pxe_round(own, ip, again, items, timeout)
        own.close()
    raw.close()
    return [
        {"case": c.case, "mac": ":".join(f"{b:02x}" for b in c.mac), "replies": c.replies}
        for c in clients
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--arch", type=lambda s: int(s, 0))
    ap.add_argument("--vendor-class")
    ap.add_argument("--user-class")
    ap.add_argument("--ipxe-175", action="store_true", help="send option 175 like iPXE")
    ap.add_argument("--uuid")
    ap.add_argument("--hostname")
    ap.add_argument("--client-id")
    ap.add_argument("--mac")
    ap.add_argument("--request", action="store_true", help="complete DORA, print the ACK")
    ap.add_argument("--unicast", action="store_true", help="clear the broadcast flag")
    ap.add_argument("--release", action="store_true", help="send DHCPRELEASE after the ACK")
    ap.add_argument("--pxe-server", help="after the OFFERs, ask this proxy on port 4011")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--offers", type=int, default=4, help="stop after this many OFFERs")
    ap.add_argument("--batch", metavar="FILE", help="JSON list of cases ('-' = stdin)")
    args = ap.parse_args()

    if not in_own_netns():
        print("dhcp_probe: refusing to run in the root network namespace", file=sys.stderr)
        return 2
    if args.batch:
        with sys.stdin if args.batch == "-" else open(args.batch) as fh:
            cases = json.load(fh)
        print(json.dumps({"results": run_batch(args.iface, cases, args.timeout)}))
        return 0
    random_mac = "02:77:" + ":".join(f"{random.randint(0, 255):02x}" for _ in range(4))
    mac = bytes.fromhex((args.mac or random_mac).replace(":", "").replace("-", ""))
    xid = random.randint(1, 0xFFFFFFFF)
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    raw.bind((args.iface, ETH_P_IP))
    bcast = (args.iface, ETH_P_IP, 0, 0, b"\xff" * 6)

    def send(pkt: dp.DhcpPacket, src: str = "0.0.0.0") -> None:
        raw.sendto(ip_udp(src, "255.255.255.255", 68, 67, pkt.encode()), bcast)

    replies: list[dict] = []
    send(build(args, mac, xid, dp.DISCOVER))
    offers = collect(raw, xid, time.monotonic() + args.timeout, {dp.OFFER}, args.offers)
    replies += offers
    leased = next((o for o in offers if o["yiaddr"] != "0.0.0.0"), None)
    if args.request and leased:
        xid2 = xid
        extra = {
            dp.OPT_REQUESTED_IP: socket.inet_aton(leased["yiaddr"]),
            dp.OPT_SERVER_ID: socket.inet_aton(leased["server_id"]),
        }
        send(build(args, mac, xid2, dp.REQUEST, extra))
        replies += collect(raw, xid2, time.monotonic() + args.timeout, {dp.ACK, dp.NAK}, 1)
        if args.release and replies[-1]["type"] == "DHCPACK":
            rel = build(
                args,
                mac,
                random.randint(1, 0xFFFFFFFF),
                dp.RELEASE,
                {dp.OPT_SERVER_ID: socket.inet_aton(leased["server_id"])},
            )
            rel.ciaddr = leased["yiaddr"]
            rel.flags = 0
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.iface.encode())
            sock.sendto(rel.encode(), (leased["server_id"], 67))
    if args.pxe_server:
        # PXE boot-server step: REQUEST to proxy:4011 from our own address (bound UDP 68).
        own = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.iface.encode())
        own.bind(("0.0.0.0", 68))
        xid3 = random.randint(1, 0xFFFFFFFF)
        pkt = build(args, mac, xid3, dp.REQUEST)
        if leased:
            pkt.ciaddr = leased["yiaddr"]
        pkt.flags = 0
        own.sendto(pkt.encode(), (args.pxe_server, 4011))
        until = time.monotonic() + args.timeout
        while time.monotonic() < until:
            ready, _, _ = select.select([own], [], [], max(0.0, until - time.monotonic()))
            if not ready:
                break
            data, addr = own.recvfrom(65535)
            try:
                rep = dp.decode(data)
            except ValueError:
                continue
            if rep.xid == xid3:
                d = describe(rep, addr[0], 0.0)
                d["sport"] = addr[1]
                replies.append(d)
                break
    print(json.dumps({"mac": ":".join(f"{b:02x}" for b in mac), "xid": xid, "replies": replies}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
